//! Minting tokens (feature `sign`): the issuing server signs with the same
//! claim types the verifier reads, through jwt-compact. The verifier itself
//! never goes through jwt-compact: it calls ed25519-dalek's `verify_strict`.

use alloc::{borrow::Cow, string::String, vec::Vec};
use core::{fmt, num::NonZeroUsize};

use chrono::{DateTime, Utc};
use ed25519_dalek::{SIGNATURE_LENGTH, Signature, VerifyingKey};
use jwt_compact::{Algorithm, AlgorithmExt, AlgorithmSignature, Header};
use serde::{Serialize, Serializer};

use crate::{base64, claims::Claims, json, verify::ALGORITHM};

/// The header `typ` of edgeauth access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// An Ed25519 signing key with its key id. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Why a token could not be minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// A time claim is beyond what a JWT date can hold.
    TimeOutOfRange,
    /// The claims could not be serialized.
    Encoding,
}

impl SignError {
    /// The stable, machine-readable code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::TimeOutOfRange => "time_out_of_range",
            Self::Encoding => "encoding",
        }
    }
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TimeOutOfRange => "time claim out of range",
            Self::Encoding => "claims could not be encoded",
        })
    }
}

impl core::error::Error for SignError {}

impl SigningKey {
    /// A key from its 32-byte secret seed (RFC 8032 private key).
    pub fn from_seed(kid: impl Into<String>, seed: &[u8; 32]) -> Self {
        Self {
            kid: kid.into(),
            key: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// The key id written into each token header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The secret seed, for storing the key (encrypted) and nothing else.
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The 32-byte public key, as published in the JWKS (`x`).
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs `claims` into a compact JWS with header
    /// `{"alg":"EdDSA","kid":...,"typ":"at+jwt"}`.
    pub fn sign(&self, claims: &Claims) -> Result<String, SignError> {
        let time = |secs: u64| {
            i64::try_from(secs)
                .ok()
                .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
                .ok_or(SignError::TimeOutOfRange)
        };
        let mut jwt = jwt_compact::Claims::new(Custom(claims));
        jwt.issued_at = Some(time(claims.iat)?);
        jwt.not_before = Some(time(claims.nbf)?);
        jwt.expiration = Some(time(claims.exp)?);
        let header = Header::empty()
            .with_key_id(self.kid.as_str())
            .with_token_type(ACCESS_TOKEN_TYPE);
        StrictEd25519
            .token(&header, &jwt, &self.key)
            .map_err(|_| SignError::Encoding)
    }
}

impl SigningKey {
    /// Signs any payload into a compact JWS with header
    /// `{"alg":"EdDSA","kid":...,"typ":typ}` (the revocation feed is one).
    pub fn sign_jws(&self, typ: &str, payload: &[u8]) -> String {
        use ed25519_dalek::Signer;
        let mut header = String::from("{\"alg\":\"EdDSA\",\"kid\":");
        json::write_string(&mut header, &self.kid);
        header.push_str(",\"typ\":");
        json::write_string(&mut header, typ);
        header.push('}');
        let mut jws = base64::encode(header.as_bytes());
        jws.push('.');
        jws.push_str(&base64::encode(payload));
        let signature = self.key.sign(jws.as_bytes());
        jws.push('.');
        jws.push_str(&base64::encode(&signature.to_bytes()));
        jws
    }
}

/// The non-time claims, serialized next to jwt-compact's `exp`, `nbf`, `iat`.
struct Custom<'a>(&'a Claims);

impl Serialize for Custom<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let c = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("iss", &c.iss)?;
        match c.aud.as_slice() {
            [one] => map.serialize_entry("aud", one)?,
            many => map.serialize_entry("aud", many)?,
        }
        map.serialize_entry("sub", &c.sub)?;
        map.serialize_entry("sid", &c.sid)?;
        map.serialize_entry("jti", &c.jti)?;
        map.serialize_entry("roles", &c.roles)?;
        map.serialize_entry("perms", &c.perms)?;
        if let Some(tid) = &c.tid {
            map.serialize_entry("tid", tid)?;
        }
        if let Some(amr) = &c.amr {
            map.serialize_entry::<_, Vec<String>>("amr", amr)?;
        }
        map.end()
    }
}

/// EdDSA over Ed25519 for jwt-compact, verifying strictly like the core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct StrictEd25519;

/// A 64-byte Ed25519 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ed25519Signature([u8; SIGNATURE_LENGTH]);

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
