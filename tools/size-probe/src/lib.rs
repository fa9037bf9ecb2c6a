//! A minimal WebAssembly export of `edgeauth_core::Verifier::verify`, with no
//! bindings generator, so that `scripts/wasm-size.sh` measures the verifier
//! alone (plus std's allocator and panic handler, which any wasm build has).

#![allow(unsafe_code, reason = "a raw C ABI for the host to pass buffers")]

use std::sync::OnceLock;

use edgeauth_core::{KeySet, Verifier};

static VERIFIER: OnceLock<Verifier> = OnceLock::new();

/// Reserves `len` bytes for the host to write into; never freed.
#[unsafe(no_mangle)]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    Box::leak(vec![0u8; len].into_boxed_slice()).as_mut_ptr()
}

/// # Safety
/// `ptr..ptr + len` must be memory the host wrote through [`alloc`].
unsafe fn text<'a>(ptr: *const u8, len: usize) -> &'a str {
    // SAFETY: the caller guarantees the range; invalid UTF-8 becomes "".
    std::str::from_utf8(unsafe { std::slice::from_raw_parts(ptr, len) }).unwrap_or_default()
}

/// Loads the key set; returns 0, or 1 when the JWKS is invalid.
///
/// # Safety
/// The buffer must come from [`alloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn init(jwks: *const u8, len: usize) -> u32 {
    // SAFETY: forwarded from the caller.
    match KeySet::from_jwks(unsafe { text(jwks, len) }) {
        Ok(keys) => u32::from(
            VERIFIER
                .set(Verifier::new(
                    keys,
                    "https://auth.edgeauth.test",
                    "api.edgeauth.test",
                ))
                .is_err(),
        ),
        Err(_) => 1,
    }
}

/// Verifies a token: 0 when valid, else 1 + the error's position in
/// `VerifyError::ALL`.
///
/// # Safety
/// The buffer must come from [`alloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn verify(token: *const u8, len: usize, now: u64) -> u32 {
    let Some(verifier) = VERIFIER.get() else {
        return u32::MAX;
    };
    // SAFETY: forwarded from the caller.
    match verifier.verify(unsafe { text(token, len) }, now) {
        Ok(claims) => u32::from(claims.sub.is_empty()),
        Err(e) => edgeauth_core::VerifyError::ALL
            .iter()
            .position(|x| *x == e)
            .map_or(u32::MAX, |i| i as u32 + 1),
    }
}
