//! Secrets and the few cryptographic helpers around them: random bytes,
//! SHA-256, HMAC-SHA256, base64url, and the master key that encrypts signing
//! keys at rest. Every secret type has a redacting `Debug`: no secret reaches a log.

use core::fmt;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The operating system's random source failed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RandomError;

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operating system's random source failed")
    }
}

impl core::error::Error for RandomError {}

/// `N` bytes from the operating system's CSPRNG.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut out = [0; N];
    getrandom::fill(&mut out).map_err(|_| RandomError)?;
    Ok(out)
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// HMAC-SHA256 of the concatenated `parts` under a 32-byte key.
pub(crate) fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC pads keys shorter than its 64-byte block with zeros, so a key
    // padded here gives the same MAC and needs no fallible constructor.
    let mut block = [0u8; 64];
    for (dst, src) in block.iter_mut().zip(key) {
        *dst = *src;
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Unpadded base64url.
pub(crate) fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes unpadded base64url into exactly `N` bytes.
pub(crate) fn b64_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    bytes.try_into().ok()
}

/// A string that must never be logged: passwords, tokens.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

/// The 32-byte master key. Signing keys are encrypted under a key derived
/// from it, and the refresh-token successor key is derived from it too.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Why a master key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MasterKeyProblem {
    /// Not 64 hex digits nor 43/44 base64 characters of 32 bytes.
    Format,
    /// Too few distinct bytes to be random.
    Weak,
}

impl fmt::Display for MasterKeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Format => {
                "must be 32 random bytes as 64 hex digits or base64 (generate one with `edgeauth keys generate-master-key` or `openssl rand -hex 32`)"
            }
            Self::Weak => {
                "is too weak: it does not look random (generate one with `edgeauth keys generate-master-key`)"
            }
        })
    }
}

/// Why sealed data could not be opened.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenError;

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sealed data could not be decrypted (wrong master key or corrupt data)")
    }
}

impl core::error::Error for OpenError {}

const SEAL_VERSION: u8 = 1;

impl MasterKey {
    /// A fresh random key.
    pub(crate) fn generate() -> Result<Self, RandomError> {
        random().map(Self)
    }

    /// Parses 64 hex digits or base64 / base64url (padded or not) of 32 bytes.
    pub(crate) fn parse(text: &str) -> Result<Self, MasterKeyProblem> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex_decode(text)
        } else {
            let unpadded = text
                .trim_end_matches('=')
                .replace('+', "-")
                .replace('/', "_");
            b64_array::<32>(&unpadded)
        }
        .ok_or(MasterKeyProblem::Format)?;
        let mut seen = [false; 256];
        for b in bytes {
            if let Some(slot) = seen.get_mut(usize::from(b)) {
                *slot = true;
            }
        }
        if seen.iter().filter(|s| **s).count() < 16 {
            return Err(MasterKeyProblem::Weak);
        }
        Ok(Self(bytes))
    }

    /// The key as 64 lowercase hex digits (for the development key file).
    pub(crate) fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A subkey for one purpose.
    pub(crate) fn derive(&self, label: &str) -> [u8; 32] {
        hmac_sha256(&self.0, &[b"edgeauth subkey v1\0", label.as_bytes()])
    }

    /// Encrypts `plaintext`, binding it to `context` (XChaCha20-Poly1305).
    pub(crate) fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, RandomError> {
        let nonce: [u8; 24] = random()?;
        let cipher = XChaCha20Poly1305::new(&self.derive("key-encryption").into());
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| RandomError)?;
        let mut out = Vec::with_capacity(1 + nonce.len() + sealed.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts what [`seal`](Self::seal) produced for the same `context`.
    pub(crate) fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (&version, rest) = sealed.split_first().ok_or(OpenError)?;
        if version != SEAL_VERSION || rest.len() < 24 {
            return Err(OpenError);
        }
        let (nonce, body) = rest.split_at(24);
        let cipher = XChaCha20Poly1305::new(&self.derive("key-encryption").into());
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| OpenError)
    }
}

fn hex_decode(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let digits = text.as_bytes();
    for (slot, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let pair = core::str::from_utf8(pair).ok()?;
        *slot = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_formats_and_weakness() {
        let key = MasterKey::generate().unwrap();
        let hex = key.to_hex();
        assert_eq!(MasterKey::parse(&hex).unwrap(), key);
        assert_eq!(MasterKey::parse(&b64(&key.0)).unwrap(), key);
        assert_eq!(
            MasterKey::parse(&"0".repeat(64)),
            Err(MasterKeyProblem::Weak)
        );
        assert_eq!(MasterKey::parse("hunter2"), Err(MasterKeyProblem::Format));
        assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
    }

    #[test]
    fn seal_round_trip_is_bound_to_context() {
        let key = MasterKey::generate().unwrap();
        let sealed = key.seal("kid-1", b"seed").unwrap();
        assert_eq!(key.open("kid-1", &sealed).unwrap(), b"seed");
        assert!(key.open("kid-2", &sealed).is_err());
        let other = MasterKey::generate().unwrap();
        assert!(other.open("kid-1", &sealed).is_err());
    }

    #[test]
    fn hmac_matches_rfc_4231_style_padding() {
        // A 32-byte key padded to the block size gives the same MAC as the
        // hmac crate's own constructor.
        let key = [7u8; 32];
        let mut reference = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        reference.update(b"abc");
        let expected: [u8; 32] = reference.finalize().into_bytes().into();
        assert_eq!(hmac_sha256(&key, &[b"a", b"bc"]), expected);
    }
}
