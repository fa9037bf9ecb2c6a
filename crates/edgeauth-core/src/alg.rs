//! Ed25519 for `jwt-compact`, verified strictly.
//!
//! jwt-compact's own `Ed25519` calls ed25519-dalek's `verify`, which accepts
//! signatures whose `R` is a small-order point. Ours calls `verify_strict`,
//! which also rejects small-order `R` and `A` (and, like `verify`,
//! non-canonical `S`), so every message has at most one valid signature per key.

use alloc::borrow::Cow;
use core::num::NonZeroUsize;

use ed25519_dalek::{SIGNATURE_LENGTH, Signature, VerifyingKey};
use jwt_compact::{Algorithm, AlgorithmSignature};

/// The JWS `alg` of every edgeauth token.
pub(crate) const ALGORITHM: &str = "EdDSA";

/// EdDSA over Ed25519 with strict verification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StrictEd25519;

/// A 64-byte Ed25519 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ed25519Signature(pub(crate) [u8; SIGNATURE_LENGTH]);

impl AlgorithmSignature for Ed25519Signature {
    const LENGTH: Option<NonZeroUsize> = NonZeroUsize::new(SIGNATURE_LENGTH);

    fn try_from_slice(slice: &[u8]) -> anyhow::Result<Self> {
        <[u8; SIGNATURE_LENGTH]>::try_from(slice)
            .map(Self)
            .map_err(|_| anyhow::anyhow!("Ed25519 signatures are 64 bytes"))
    }

    fn as_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.0)
    }
}

impl Algorithm for StrictEd25519 {
    type SigningKey = ed25519_dalek::SigningKey;
    type VerifyingKey = VerifyingKey;
    type Signature = Ed25519Signature;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(ALGORITHM)
    }

    fn sign(&self, signing_key: &Self::SigningKey, message: &[u8]) -> Self::Signature {
        use ed25519_dalek::Signer;
        Ed25519Signature(signing_key.sign(message).to_bytes())
    }

    fn verify_signature(
        &self,
        signature: &Self::Signature,
        verifying_key: &Self::VerifyingKey,
        message: &[u8],
    ) -> bool {
        verifying_key
            .verify_strict(message, &Signature::from_bytes(&signature.0))
            .is_ok()
    }
}
