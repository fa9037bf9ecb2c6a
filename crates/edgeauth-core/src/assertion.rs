//! The gate's signed origin assertion: what the edge gate checked, signed
//! with an Ed25519 key of the gate's own, so that an origin can tell a
//! request that came through the gate from one that reached it another way.
//!
//! It travels in one header, [`ASSERTION_HEADER`], as a compact JWS (RFC
//! 7515):
//!
//! - header, always `{"alg":"EdDSA","typ":"edgeauth-assertion+jwt"}`;
//! - payload `{"iat":..., "method":"POST", "target":"/api/x?a=1", "sub":...,
//!   "sid":..., "roles":[...]}`: the time it was signed (seconds), the
//!   method and request target (path and query, exactly as sent to the
//!   origin) and, on protected routes, the verified identity (no `sub`,
//!   `sid` or `roles` on public routes);
//! - an Ed25519 signature, checked strictly like access tokens.
//!
//! [`GateAssertion::verify`] is the origin's check (the npm package's
//! `verifyGateAssertion`); [`AssertionSigner`] (feature `assertion-sign`) is
//! the gate's side.

use alloc::{string::String, vec::Vec};
use core::fmt;

use ed25519_dalek::{Signature, VerifyingKey};

use crate::{
    base64,
    json::{self, JsonError, Reader},
};

/// The header that carries the assertion. Any spelling of it that a
/// client sends is removed by the gate, like every `X-Edgeauth-*` header.
pub const ASSERTION_HEADER: &str = "X-Edgeauth-Assertion";

/// The JWS `typ` of an assertion.
pub const ASSERTION_TYPE: &str = "edgeauth-assertion+jwt";

/// How old an assertion may be unless the origin says otherwise, in
/// seconds (either way: a signing time this far in the future fails too).
pub const DEFAULT_ASSERTION_MAX_AGE: u64 = 60;

/// Assertions longer than this many bytes are refused unread.
pub const MAX_ASSERTION_LEN: usize = 16 * 1024;

/// base64url of `{"alg":"EdDSA","typ":"edgeauth-assertion+jwt"}`: the only
/// header an assertion has.
const HEADER_B64: &str = "eyJhbGciOiJFZERTQSIsInR5cCI6ImVkZ2VhdXRoLWFzc2VydGlvbitqd3QifQ";

/// Why an assertion is refused (or a key to check one with is unusable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AssertionError {
    /// The request carries no assertion.
    Missing,
    /// Not an assertion: not a compact JWS with the assertion header, a
    /// 64-byte signature and the expected JSON payload, or too long.
    Malformed,
    /// The signature does not verify under any of the gate's keys.
    BadSignature,
    /// Signed more than the allowed age before (or after) now.
    Expired,
    /// Signed for another method or request target than this request's.
    Mismatch,
    /// A public key given to check assertions with is not 32 base64url
    /// bytes of a usable Ed25519 point (a configuration error).
    InvalidKey,
}

impl AssertionError {
    /// Every variant, in check order.
    pub const ALL: [Self; 6] = [
        Self::Missing,
        Self::Malformed,
        Self::BadSignature,
        Self::Expired,
        Self::Mismatch,
        Self::InvalidKey,
    ];

    /// The stable, machine-readable code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Missing => "assertion_missing",
            Self::Malformed => "assertion_malformed",
            Self::BadSignature => "assertion_bad_signature",
            Self::Expired => "assertion_expired",
            Self::Mismatch => "assertion_mismatch",
            Self::InvalidKey => "invalid_assertion_key",
        }
    }

    /// The HTTP status an origin answers with: 403 (the request did not
    /// come through the gate, as far as the origin can tell); 0 for a
    /// configuration error, which no request causes.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::InvalidKey => 0,
            _ => 403,
        }
    }
}

impl fmt::Display for AssertionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "no gate assertion",
            Self::Malformed => "malformed gate assertion",
            Self::BadSignature => "bad gate assertion signature",
            Self::Expired => "gate assertion outside its lifetime",
            Self::Mismatch => "gate assertion for another request",
            Self::InvalidKey => "invalid gate assertion key",
        })
    }
}

impl core::error::Error for AssertionError {}

/// The identity the gate verified, as asserted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssertedIdentity {
    /// The token's `sub`.
    pub sub: String,
    /// The token's `sid`.
    pub sid: String,
    /// The token's `roles`.
    pub roles: Vec<String>,
}

/// A verified assertion: what the gate forwarded, and to whom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateAssertion {
    /// When the gate signed it, in seconds since the epoch.
    pub iat: u64,
    /// The request's method.
    pub method: String,
    /// The request target (path and query) the gate sent to the origin.
    pub target: String,
    /// The verified identity on protected routes; `None` on public routes.
    pub identity: Option<AssertedIdentity>,
}

/// The gate public keys an origin checks assertions with: one, or several
/// during a key rollover.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssertionKeys {
    keys: Vec<VerifyingKey>,
}

impl AssertionKeys {
    /// Parses public keys, each 32 bytes as base64url without padding (a
    /// JWK's `x`) and a usable Ed25519 point; at least one.
    pub fn parse<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<Self, AssertionError> {
        let keys = keys
            .into_iter()
            .map(|text| {
                let bytes = base64::decode_array::<32>(text.trim().as_bytes())
                    .map_err(|_| AssertionError::InvalidKey)?;
                VerifyingKey::from_bytes(&bytes)
                    .ok()
                    .filter(|key| !key.is_weak())
                    .ok_or(AssertionError::InvalidKey)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(AssertionError::InvalidKey);
        }
        Ok(Self { keys })
    }
}

impl GateAssertion {
    /// Checks an assertion header value for a request with this `method`
    /// and `target` (path and query, exactly as the origin received them)
    /// at `now` (seconds): the signature under one of `keys` (several during
    /// a key rollover), the signing time within `max_age` seconds of `now`,
    /// and the method and target equal to the request's.
    pub fn verify(
        assertion: &str,
        keys: &AssertionKeys,
        method: &str,
        target: &str,
        now: u64,
        max_age: u64,
    ) -> Result<Self, AssertionError> {
        use AssertionError as E;
        let assertion = assertion.trim();
        if assertion.is_empty() {
            return Err(E::Missing);
        }
        if assertion.len() > MAX_ASSERTION_LEN {
            return Err(E::Malformed);
        }
        let (signing_input, signature) = assertion.rsplit_once('.').ok_or(E::Malformed)?;
        let (header, payload) = signing_input.split_once('.').ok_or(E::Malformed)?;
        if header != HEADER_B64 {
            return Err(E::Malformed);
        }
        let signature =
            base64::decode_array::<64>(signature.as_bytes()).map_err(|_| E::Malformed)?;
        let signature = Signature::from_bytes(&signature);
        if !keys.keys.iter().any(|key| {
            key.verify_strict(signing_input.as_bytes(), &signature)
                .is_ok()
        }) {
            return Err(E::BadSignature);
        }
        let (mut buf, mut spill) = ([0; 1024], Vec::new());
        let payload = base64::decode_small(payload.as_bytes(), &mut buf, &mut spill)
            .map_err(|_| E::Malformed)?;
        let payload = core::str::from_utf8(payload).map_err(|_| E::Malformed)?;
        let asserted = Self::parse(payload).map_err(|_| E::Malformed)?;
        if now.abs_diff(asserted.iat) > max_age {
            return Err(E::Expired);
        }
        if asserted.method != method || asserted.target != target {
            return Err(E::Mismatch);
        }
        Ok(asserted)
    }

    fn parse(text: &str) -> Result<Self, JsonError> {
        let mut out = Self::default();
        let mut identity = AssertedIdentity::default();
        let mut seen = 0u8;
        let mut reader = Reader::new(text);
        reader.object(|r, member| {
            let bit = match &*member {
                "iat" => {
                    out.iat = r.uint()?;
                    1
                }
                "method" => {
                    out.method = r.string()?.into_owned();
                    2
                }
                "target" => {
                    out.target = r.string()?.into_owned();
                    4
                }
                "sub" => {
                    identity.sub = r.string()?.into_owned();
                    8
                }
                "sid" => {
                    identity.sid = r.string()?.into_owned();
                    16
                }
                "roles" => {
                    identity.roles = r.strings()?;
                    32
                }
                _ => return r.skip(),
            };
            if seen & bit != 0 {
                return Err(JsonError("duplicate member"));
            }
            seen |= bit;
            Ok(())
        })?;
        reader.finish()?;
        out.identity = match seen >> 3 {
            0 => None,
            7 => Some(identity),
            _ => return Err(JsonError("incomplete identity")),
        };
        if seen & 7 != 7 {
            return Err(JsonError("missing member"));
        }
        Ok(out)
    }

    /// The payload as JSON: `{"iat", "method", "target"}` and, with an
    /// identity, `"sub"`, `"sid"` and `"roles"`; the npm package returns it.
    pub fn to_json(&self) -> String {
        payload_json(
            self.iat,
            &self.method,
            &self.target,
            self.identity
                .as_ref()
                .map(|i| (i.sub.as_str(), i.sid.as_str(), i.roles.as_slice())),
        )
    }
}

fn payload_json<S: AsRef<str>>(
    iat: u64,
    method: &str,
    target: &str,
    identity: Option<(&str, &str, &[S])>,
) -> String {
    let mut out = String::with_capacity(128);
    out.push_str("{\"iat\":");
    json::write_uint(&mut out, iat);
    out.push_str(",\"method\":");
    json::write_string(&mut out, method);
    out.push_str(",\"target\":");
    json::write_string(&mut out, target);
    if let Some((sub, sid, roles)) = identity {
        out.push_str(",\"sub\":");
        json::write_string(&mut out, sub);
        out.push_str(",\"sid\":");
        json::write_string(&mut out, sid);
        out.push_str(",\"roles\":");
        json::write_strings(&mut out, roles);
    }
    out.push('}');
    out
}

/// The gate's signing key for assertions (feature `assertion-sign`). Its
/// `Debug` never shows the secret.
#[cfg(feature = "assertion-sign")]
#[derive(Clone)]
pub struct AssertionSigner {
    key: ed25519_dalek::SigningKey,
}

#[cfg(feature = "assertion-sign")]
impl fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionSigner").finish_non_exhaustive()
    }
}

#[cfg(feature = "assertion-sign")]
impl AssertionSigner {
    /// A signer from its 32-byte secret seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// A signer from its seed as 32 bytes of base64url without padding (a
    /// JWK's `d`, as `EDGEAUTH_ASSERTION_KEY` holds it). The error never
    /// carries the text.
    pub fn from_base64url(text: &str) -> Result<Self, AssertionError> {
        base64::decode_array::<32>(text.trim().as_bytes())
            .map(|seed| Self::from_seed(&seed))
            .map_err(|_| AssertionError::InvalidKey)
    }

    /// The public key, base64url without padding: what origins check with.
    pub fn public_key(&self) -> String {
        base64::encode(self.key.verifying_key().as_bytes())
    }

    /// Signs an assertion for a request forwarded at `iat` (seconds) with
    /// this method and target (path and query as sent to the origin) and,
    /// on protected routes, the verified identity `(sub, sid, roles)`.
    pub fn sign<S: AsRef<str>>(
        &self,
        method: &str,
        target: &str,
        iat: u64,
        identity: Option<(&str, &str, &[S])>,
    ) -> String {
        use ed25519_dalek::Signer;
        let payload = payload_json(iat, method, target, identity);
        let mut out = String::with_capacity(HEADER_B64.len() + payload.len() * 4 / 3 + 90);
        out.push_str(HEADER_B64);
        out.push('.');
        out.push_str(&base64::encode(payload.as_bytes()));
        let signature = self.key.sign(out.as_bytes());
        out.push('.');
        out.push_str(&base64::encode(&signature.to_bytes()));
        out
    }
}

#[cfg(test)]
#[cfg(feature = "assertion-sign")]
mod tests {
    use alloc::format;

    use super::*;

    const NOW: u64 = 1_767_225_660;

    fn signer(seed: u8) -> AssertionSigner {
        AssertionSigner::from_seed(&[seed; 32])
    }

    fn keys(signers: &[&AssertionSigner]) -> AssertionKeys {
        let public: Vec<String> = signers.iter().map(|s| s.public_key()).collect();
        AssertionKeys::parse(public.iter().map(String::as_str)).unwrap()
    }

    #[test]
    fn the_header_is_the_documented_one() {
        let decoded = base64::decode(HEADER_B64.as_bytes()).unwrap();
        assert_eq!(
            core::str::from_utf8(&decoded).unwrap(),
            r#"{"alg":"EdDSA","typ":"edgeauth-assertion+jwt"}"#
        );
    }

    #[test]
    fn a_signed_assertion_verifies_for_its_request_only() {
        let gate = signer(7);
        let keys = keys(&[&gate]);
        let roles = ["admin", "x,\"y\""];
        let text = gate.sign("POST", "/api/x?a=1", NOW, Some(("u1", "s1", &roles[..])));
        let ok = GateAssertion::verify(&text, &keys, "POST", "/api/x?a=1", NOW + 60, 60).unwrap();
        assert_eq!(ok.iat, NOW);
        assert_eq!(ok.method, "POST");
        assert_eq!(ok.target, "/api/x?a=1");
        let identity = ok.identity.clone().unwrap();
        assert_eq!((identity.sub.as_str(), identity.sid.as_str()), ("u1", "s1"));
        assert_eq!(identity.roles, roles);
        assert_eq!(
            ok.to_json(),
            r#"{"iat":1767225660,"method":"POST","target":"/api/x?a=1","sub":"u1","sid":"s1","roles":["admin","x,\"y\""]}"#
        );

        let check = |method, target, now| {
            GateAssertion::verify(&text, &keys, method, target, now, 60).map(|_| ())
        };
        assert_eq!(
            check("GET", "/api/x?a=1", NOW),
            Err(AssertionError::Mismatch)
        );
        assert_eq!(check("POST", "/api/x", NOW), Err(AssertionError::Mismatch));
        assert_eq!(
            check("POST", "/api/x?a=2", NOW),
            Err(AssertionError::Mismatch)
        );
        assert_eq!(
            check("POST", "/api/x?a=1", NOW + 61),
            Err(AssertionError::Expired)
        );
        assert_eq!(
            check("POST", "/api/x?a=1", NOW - 61),
            Err(AssertionError::Expired)
        );
        assert_eq!(check("POST", "/api/x?a=1", NOW - 60), Ok(()));
    }

    #[test]
    fn public_routes_assert_no_identity() {
        let gate = signer(7);
        let text = gate.sign::<&str>("GET", "/", NOW, None);
        let ok = GateAssertion::verify(&text, &keys(&[&gate]), "GET", "/", NOW, 60).unwrap();
        assert_eq!(ok.identity, None);
        assert_eq!(
            ok.to_json(),
            r#"{"iat":1767225660,"method":"GET","target":"/"}"#
        );
    }

    #[test]
    fn forgeries_and_garbage_are_refused() {
        let gate = signer(7);
        let other = signer(8);
        let text = gate.sign::<&str>("GET", "/a", NOW, None);
        let verify = |text: &str, keys: &AssertionKeys| {
            GateAssertion::verify(text, keys, "GET", "/a", NOW, 60).map(|_| ())
        };
        // Another gate's key; a rollover list holding both.
        assert_eq!(
            verify(&text, &keys(&[&other])),
            Err(AssertionError::BadSignature)
        );
        assert_eq!(verify(&text, &keys(&[&other, &gate])), Ok(()));
        assert_eq!(AssertionKeys::parse([]), Err(AssertionError::InvalidKey));
        // Every flipped bit of the signature.
        let (input, sig) = text.rsplit_once('.').unwrap();
        let mut sig = base64::decode(sig.as_bytes()).unwrap();
        for bit in 0..sig.len() * 8 {
            sig[bit / 8] ^= 1 << (bit % 8);
            let forged = format!("{input}.{}", base64::encode(&sig));
            assert!(verify(&forged, &keys(&[&gate])).is_err(), "bit {bit}");
            sig[bit / 8] ^= 1 << (bit % 8);
        }
        // A payload changed under the same signature.
        let (_, payload, sig64) = {
            let mut parts = text.split('.');
            (parts.next(), parts.next().unwrap(), parts.next().unwrap())
        };
        let forged_payload = base64::encode(br#"{"iat":1767225660,"method":"GET","target":"/a","sub":"root","sid":"s","roles":["admin"]}"#);
        assert_ne!(payload, forged_payload);
        let forged = format!("{HEADER_B64}.{forged_payload}.{sig64}");
        assert_eq!(
            verify(&forged, &keys(&[&gate])),
            Err(AssertionError::BadSignature)
        );
        // An access token or other JWS is not an assertion.
        let other_header = base64::encode(br#"{"alg":"EdDSA","typ":"at+jwt"}"#);
        let foreign = text.replacen(HEADER_B64, &other_header, 1);
        assert_eq!(
            verify(&foreign, &keys(&[&gate])),
            Err(AssertionError::Malformed)
        );
        for garbage in ["x", "a.b", "a.b.c", &"a".repeat(MAX_ASSERTION_LEN + 1)] {
            assert_eq!(
                verify(garbage, &keys(&[&gate])),
                Err(AssertionError::Malformed),
                "{garbage:.20}"
            );
        }
        assert_eq!(verify(" ", &keys(&[&gate])), Err(AssertionError::Missing));
    }

    #[test]
    fn payloads_must_be_complete() {
        for payload in [
            r#"{"method":"GET","target":"/a"}"#,
            r#"{"iat":1,"iat":1,"method":"GET","target":"/a"}"#,
            r#"{"iat":1,"method":"GET","target":"/a","sub":"u"}"#,
            r#"{"iat":-1,"method":"GET","target":"/a"}"#,
            r#"{"iat":1,"method":"GET","target":"/a"} x"#,
        ] {
            assert!(GateAssertion::parse(payload).is_err(), "{payload}");
        }
        let ok = GateAssertion::parse(r#"{"iat":1,"method":"GET","target":"/a","later":{}}"#);
        assert!(ok.is_ok());
    }

    #[test]
    fn keys_and_seeds() {
        let gate = signer(7);
        let seed = base64::encode(&[7; 32]);
        assert_eq!(
            AssertionSigner::from_base64url(&seed).unwrap().public_key(),
            gate.public_key()
        );
        assert!(!format!("{gate:?}").contains(&seed));
        for bad in ["", "AAAA", &seed[1..], "!!"] {
            assert_eq!(
                AssertionSigner::from_base64url(bad).err(),
                Some(AssertionError::InvalidKey)
            );
            assert_eq!(AssertionKeys::parse([bad]), Err(AssertionError::InvalidKey));
        }
        // The identity point is a small-order key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            AssertionKeys::parse([base64::encode(&identity).as_str()]),
            Err(AssertionError::InvalidKey)
        );
    }
}
