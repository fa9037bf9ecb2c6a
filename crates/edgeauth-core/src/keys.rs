//! Key sets: a JWKS (RFC 7517) of Ed25519 keys (RFC 8037), looked up by `kid`.

use alloc::{borrow::Cow, string::String, vec::Vec};

use ed25519_dalek::VerifyingKey;

use crate::{
    base64,
    error::KeySetError,
    json::{self, JsonError, Kind, Reader},
};

/// The public Ed25519 keys a verifier trusts, by key id.
///
/// Keys are decompressed once, when the set is built, so verification pays
/// nothing for them.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<(String, VerifyingKey)>,
}

impl core::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.kids()).finish()
    }
}

impl KeySet {
    /// An empty set.
    pub const fn new() -> Self {
        Self { keys: Vec::new() }
    }

    /// Parses a JWKS document (`{"keys": [...]}`).
    ///
    /// Keys that are not Ed25519 signature keys (other `kty` or `crv`, `use`
    /// other than `sig`, `key_ops` without `verify`) are skipped. An Ed25519
    /// key that cannot be used fails the whole set, naming the key: a missing
    /// or empty `kid`, a bad `x`, a small-order point, an `alg` other than
    /// `EdDSA`, or private key material (`d`) published by mistake.
    pub fn from_jwks(jwks: &str) -> Result<Self, KeySetError> {
        let mut set = Self::new();
        let mut saw_keys = false;
        let mut reader = Reader::new(jwks);
        reader
            .object(|r, member| {
                if member != "keys" {
                    return r.skip().map_err(JsonErrorOr::Json);
                }
                if saw_keys {
                    return Err(JsonErrorOr::Json(JsonError("duplicate \"keys\"")));
                }
                saw_keys = true;
                let mut index = 0;
                r.array(|r| {
                    let jwk = Jwk::read(r).map_err(|reason| match reason {
                        JwkProblem::Json(e) => JsonErrorOr::Json(e),
                        JwkProblem::Bad(reason) => {
                            JsonErrorOr::Set(KeySetError::BadKey { index, reason })
                        }
                    })?;
                    if let Some((kid, x)) = jwk
                        .into_ed25519()
                        .map_err(|reason| KeySetError::BadKey { index, reason })?
                    {
                        set.insert(kid, &x).map_err(|e| match e {
                            KeySetError::BadKey { reason, .. } => {
                                KeySetError::BadKey { index, reason }
                            }
                            other => other,
                        })?;
                    }
                    index += 1;
                    Ok(())
                })
            })
            .map_err(|e| match e {
                JsonErrorOr::Json(JsonError(why)) => KeySetError::NotJwks(why),
                JsonErrorOr::Set(e) => e,
            })?;
        reader
            .finish()
            .map_err(|JsonError(why)| KeySetError::NotJwks(why))?;
        if !saw_keys {
            return Err(KeySetError::NotJwks("missing \"keys\" array"));
        }
        Ok(set)
    }

    /// Adds one key from its 32 raw public-key bytes.
    pub fn insert(
        &mut self,
        kid: impl Into<String>,
        public_key: &[u8; 32],
    ) -> Result<(), KeySetError> {
        let kid = kid.into();
        let index = self.keys.len();
        if kid.is_empty() {
            return Err(KeySetError::BadKey {
                index,
                reason: "\"kid\" is empty",
            });
        }
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| KeySetError::BadKey {
            index,
            reason: "\"x\" is not an Ed25519 point",
        })?;
        if key.is_weak() {
            return Err(KeySetError::BadKey {
                index,
                reason: "\"x\" is a small-order point",
            });
        }
        if self.contains(&kid) {
            return Err(KeySetError::DuplicateKid(kid));
        }
        self.keys.push((kid, key));
        Ok(())
    }

    /// Whether a key with this id is in the set.
    pub fn contains(&self, kid: &str) -> bool {
        self.get(kid).is_some()
    }

    /// The key ids, in order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(kid, _)| kid.as_str())
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
    }

    /// The set as a JWKS document, as the issuing server publishes it.
    pub fn to_jwks(&self) -> String {
        let mut out = String::from("{\"keys\":[");
        for (i, (kid, key)) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"");
            out.push_str(&base64::encode(key.as_bytes()));
            out.push_str("\",\"kid\":");
            json::write_string(&mut out, kid);
            out.push_str(",\"alg\":\"EdDSA\",\"use\":\"sig\"}");
        }
        out.push_str("]}");
        out
    }
}

enum JsonErrorOr {
    Json(JsonError),
    Set(KeySetError),
}

impl From<JsonError> for JsonErrorOr {
    fn from(e: JsonError) -> Self {
        Self::Json(e)
    }
}

impl From<KeySetError> for JsonErrorOr {
    fn from(e: KeySetError) -> Self {
        Self::Set(e)
    }
}

enum JwkProblem {
    Json(JsonError),
    Bad(&'static str),
}

impl From<JsonError> for JwkProblem {
    fn from(e: JsonError) -> Self {
        Self::Json(e)
    }
}

/// A member's value: absent, a string, or present with another JSON type.
#[derive(Default)]
enum Member<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Other,
}

impl<'a> Member<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Self, JsonError> {
        if r.peek() == Some(Kind::String) {
            Ok(Self::Str(r.string()?))
        } else {
            r.skip()?;
            Ok(Self::Other)
        }
    }

    fn is(&self, value: &str) -> bool {
        matches!(self, Self::Str(s) if s == value)
    }
}

/// The members of one JWK that matter here, read leniently so that keys of
/// other types can be skipped whatever they contain.
#[derive(Default)]
struct Jwk<'a> {
    kty: Member<'a>,
    crv: Member<'a>,
    x: Member<'a>,
    kid: Member<'a>,
    alg: Member<'a>,
    usage: Member<'a>,
    /// `None`: absent; `Some(true)`: an array of strings naming `verify`.
    verify_op: Option<bool>,
    has_d: bool,
}

impl<'a> Jwk<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Self, JwkProblem> {
        let mut jwk = Self::default();
        let mut seen = Vec::<Cow<'a, str>>::new();
        r.object(|r, member| {
            if seen.contains(&member) {
                return Err(JwkProblem::Bad("duplicate member"));
            }
            let slot = match &*member {
                "kty" => &mut jwk.kty,
                "crv" => &mut jwk.crv,
                "x" => &mut jwk.x,
                "kid" => &mut jwk.kid,
                "alg" => &mut jwk.alg,
                "use" => &mut jwk.usage,
                "key_ops" => {
                    jwk.verify_op = Some(match r.peek() {
                        Some(Kind::Array) => r
                            .strings()
                            .is_ok_and(|ops| ops.iter().any(|o| o == "verify")),
                        _ => {
                            r.skip()?;
                            false
                        }
                    });
                    seen.push(member);
                    return Ok(());
                }
                "d" => {
                    jwk.has_d = true;
                    r.skip()?;
                    seen.push(member);
                    return Ok(());
                }
                _ => return Ok(r.skip()?),
            };
            *slot = Member::read(r)?;
            seen.push(member);
            Ok(())
        })?;
        Ok(jwk)
    }

    /// The key id and public key if this is an Ed25519 signature key,
    /// `None` if it is a key of another kind, an error if it is unusable.
    fn into_ed25519(self) -> Result<Option<(String, [u8; 32])>, &'static str> {
        match self.kty {
            Member::Absent => return Err("missing \"kty\""),
            Member::Other => return Err("\"kty\" is not a string"),
            Member::Str(_) if !self.kty.is("OKP") => return Ok(None),
            Member::Str(_) => {}
        }
        match self.crv {
            Member::Str(_) if self.crv.is("Ed25519") => {}
            Member::Str(_) => return Ok(None), // X25519, Ed448, ...
            _ => return Err("OKP key without a \"crv\" string"),
        }
        let for_signatures = match &self.usage {
            Member::Absent => true,
            usage => usage.is("sig"),
        };
        if !for_signatures || self.verify_op == Some(false) {
            return Ok(None);
        }
        if self.has_d {
            return Err("private key material (\"d\") in a public key set");
        }
        if !matches!(self.alg, Member::Absent) && !self.alg.is("EdDSA") && !self.alg.is("Ed25519") {
            return Err("\"alg\" is not EdDSA");
        }
        let kid = match self.kid {
            Member::Str(kid) if !kid.is_empty() => kid.into_owned(),
            _ => return Err("missing or empty \"kid\""),
        };
        let Member::Str(x) = self.x else {
            return Err("missing \"x\"");
        };
        let x = base64::decode_array::<32>(x.as_bytes())
            .map_err(|_| "\"x\" is not 32 bytes of base64url")?;
        Ok(Some((kid, x)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8037, appendix A.2.
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn jwks(keys: &str) -> String {
        alloc::format!("{{\"keys\":[{keys}]}}")
    }

    fn ed(kid: &str) -> String {
        alloc::format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}","kid":"{kid}"}}"#)
    }

    #[test]
    fn reads_ed25519_keys_and_skips_others() {
        let doc = jwks(&alloc::format!(
            r#"{},{{"kty":"RSA","n":"AQAB","e":"AQAB","kid":7}},{{"kty":"OKP","crv":"X25519","x":"AA"}},{{"kty":"OKP","crv":"Ed25519","use":"enc","x":"AA","kid":"e"}},{{"kty":"EC","crv":"P-256"}}"#,
            ed("a")
        ));
        let set = KeySet::from_jwks(&doc).unwrap();
        assert_eq!(set.kids().collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn round_trips_through_to_jwks() {
        let set = KeySet::from_jwks(&jwks(&[ed("a"), ed("b\\\"q")].join(","))).unwrap();
        let again = KeySet::from_jwks(&set.to_jwks()).unwrap();
        assert_eq!(again.kids().collect::<Vec<_>>(), ["a", "b\"q"]);
    }

    #[test]
    fn rejects_unusable_ed25519_keys() {
        let cases = [
            (r#"{"kty":"OKP","crv":"Ed25519","x":"AA","kid":"a"}"#, "x"),
            (r#"{"kty":"OKP","crv":"Ed25519","kid":"a"}"#, "x"),
            (
                r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
                "kid",
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a","d":"x"}"#,
                "private",
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a","alg":"RS256"}"#,
                "alg",
            ),
            // The identity point: small order.
            (
                r#"{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","kid":"a"}"#,
                "small-order",
            ),
            (r#"{"crv":"Ed25519"}"#, "kty"),
        ];
        for (key, needle) in cases {
            let err = KeySet::from_jwks(&jwks(key)).unwrap_err();
            assert!(
                matches!(err, KeySetError::BadKey { index: 0, .. }),
                "{key}: {err}"
            );
            assert!(alloc::format!("{err}").contains(needle), "{key}: {err}");
        }
    }

    #[test]
    fn rejects_non_jwks_documents() {
        for doc in [
            "",
            "[]",
            "{}",
            "{\"keys\":{}}",
            "{\"keys\":[]} x",
            "{\"keys\":[1]}",
        ] {
            assert!(KeySet::from_jwks(doc).is_err(), "{doc}");
        }
        assert_eq!(
            KeySet::from_jwks(&jwks(&[ed("a"), ed("a")].join(","))).unwrap_err(),
            KeySetError::DuplicateKid("a".into())
        );
    }
}
