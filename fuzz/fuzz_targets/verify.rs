#![no_main]
//! Whole-token verification against the shared vectors' key set: anything
//! the fuzzer produces must be refused without a panic (it cannot forge an
//! Ed25519 signature).

use std::sync::LazyLock;

use edgeauth_core::{KeySet, Verifier};

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    Verifier::new(KeySet::from_jwks(jwks).expect("valid JWKS"), "https://auth.edgeauth.test", "api.edgeauth.test")
});

libfuzzer_sys::fuzz_target!(|token: &str| {
    assert!(VERIFIER.verify(token, 1_767_225_660).is_err());
});
