#![no_main]
//! JWKS parsing never panics, and what it accepts survives a round trip.

libfuzzer_sys::fuzz_target!(|jwks: &str| {
    if let Ok(set) = edgeauth_core::KeySet::from_jwks(jwks) {
        let again = edgeauth_core::KeySet::from_jwks(&set.to_jwks()).expect("round trip");
        assert!(set.kids().eq(again.kids()));
    }
});
