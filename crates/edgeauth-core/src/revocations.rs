//! The revocation feed: the issuing server's signed list of sessions
//! revoked recently enough that one of their access tokens may still be
//! unexpired. A verifier that holds the last good feed refuses those
//! tokens with `revoked` ([`Verifier::verify_with`](crate::Verifier::verify_with)).
//!
//! A feed is a compact JWS with header `typ` `revocations+jwt`, signed with
//! a key of the same key set as the access tokens, over
//! `{"iss", "iat", "exp", "sids": [...]}`. It is accepted only when its
//! signature verifies, its `typ` and `iss` are right and `now < exp`; a
//! refused feed must never replace the last good one, and an older one
//! never replaces a newer ([`Revocations::supersedes`]).

use alloc::{string::String, vec::Vec};

use crate::{
    error::VerifyError,
    json::{JsonError, Reader},
    keys::KeySet,
    verify::open_jws,
};

/// The header `typ` of a revocation feed.
pub const REVOCATIONS_TYPE: &str = "revocations+jwt";

/// The media type the server answers a feed with.
pub const REVOCATIONS_MEDIA_TYPE: &str = "application/revocations+jwt";

/// Feeds longer than this many bytes are refused before any parsing
/// (about 25,000 session ids).
pub const MAX_REVOCATIONS_LEN: usize = 1024 * 1024;

/// A verified revocation feed: the revoked session ids, sorted, each once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    issued_at: u64,
    expires_at: u64,
    sids: Vec<String>,
}

impl Revocations {
    /// Verifies a feed against the key set and the expected issuer at
    /// `now`, with the codes of token verification: `token_too_large`,
    /// `malformed`, `unsupported_alg`, `wrong_type`, `unknown_key`,
    /// `bad_signature`, `expired` (`now >= exp`) and `wrong_issuer`.
    pub fn verify(feed: &str, keys: &KeySet, issuer: &str, now: u64) -> Result<Self, VerifyError> {
        if feed.len() > MAX_REVOCATIONS_LEN {
            return Err(VerifyError::TokenTooLarge);
        }
        let (mut buf, mut spill) = ([0; 1024], Vec::new());
        let payload = open_jws(
            feed.trim(),
            keys,
            |typ| typ.is_some_and(|t| t.eq_ignore_ascii_case(REVOCATIONS_TYPE)),
            &mut buf,
            &mut spill,
        )?;
        let (iss, feed) = Self::parse(payload).map_err(|_| VerifyError::Malformed)?;
        if now >= feed.expires_at {
            return Err(VerifyError::Expired);
        }
        if iss != issuer {
            return Err(VerifyError::WrongIssuer);
        }
        Ok(feed)
    }

    /// The payload: `iss`, `iat`, `exp` and `sids` are required, once
    /// each; other members are skipped.
    fn parse(text: &str) -> Result<(String, Self), JsonError> {
        let (mut iss, mut iat, mut exp, mut sids) = (None, None, None, None);
        let mut reader = Reader::new(text);
        reader.object(|r, key| {
            let fresh = match &*key {
                "iss" => iss.replace(r.string()?.into_owned()).is_none(),
                "iat" => iat.replace(r.uint()?).is_none(),
                "exp" => exp.replace(r.uint()?).is_none(),
                "sids" => sids.replace(r.strings()?).is_none(),
                _ => return r.skip(),
            };
            if fresh {
                Ok(())
            } else {
                Err(JsonError("duplicate member"))
            }
        })?;
        reader.finish()?;
        let missing = || JsonError("a required member is missing");
        let mut sids: Vec<String> = sids.ok_or_else(missing)?;
        sids.sort_unstable();
        sids.dedup();
        let feed = Self {
            issued_at: iat.ok_or_else(missing)?,
            expires_at: exp.ok_or_else(missing)?,
            sids,
        };
        Ok((iss.ok_or_else(missing)?, feed))
    }

    /// Whether the session `sid` is revoked.
    pub fn contains(&self, sid: &str) -> bool {
        self.sids
            .binary_search_by(|probe| probe.as_str().cmp(sid))
            .is_ok()
    }

    /// The revoked session ids, sorted.
    pub fn sids(&self) -> &[String] {
        &self.sids
    }

    /// How many sessions are listed.
    pub fn len(&self) -> usize {
        self.sids.len()
    }

    /// Whether no session is listed.
    pub fn is_empty(&self) -> bool {
        self.sids.is_empty()
    }

    /// When the server built it (`iat`).
    pub const fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// When it stops being acceptable (`exp`).
    pub const fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Whether this feed may replace `last`, the last good one: only a feed
    /// at least as recent does (a replayed older feed could drop a
    /// revocation made since).
    pub fn supersedes(&self, last: Option<&Self>) -> bool {
        last.is_none_or(|last| self.issued_at >= last.issued_at)
    }
}

#[cfg(feature = "sign")]
mod sign {
    use alloc::string::String;

    use super::{REVOCATIONS_TYPE, Revocations};
    use crate::{json, sign::SigningKey};

    impl Revocations {
        /// Signs a feed of `sids` (any order, repeats allowed) issued by
        /// `issuer` at `now`, acceptable until `expires_at`.
        pub fn sign<S: AsRef<str>>(
            key: &SigningKey,
            issuer: &str,
            now: u64,
            expires_at: u64,
            sids: &[S],
        ) -> String {
            let mut sids: alloc::vec::Vec<&str> = sids.iter().map(AsRef::as_ref).collect();
            sids.sort_unstable();
            sids.dedup();
            let mut payload = String::with_capacity(64 + sids.len() * 40);
            payload.push_str("{\"iss\":");
            json::write_string(&mut payload, issuer);
            payload.push_str(",\"iat\":");
            json::write_uint(&mut payload, now);
            payload.push_str(",\"exp\":");
            json::write_uint(&mut payload, expires_at);
            payload.push_str(",\"sids\":");
            json::write_strings(&mut payload, &sids);
            payload.push('}');
            key.sign_jws(REVOCATIONS_TYPE, payload.as_bytes())
        }
    }
}

#[cfg(all(test, feature = "sign"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

    use alloc::{format, string::ToString, vec};

    use super::*;
    use crate::sign::SigningKey;

    const ISS: &str = "https://auth.example";

    fn setup() -> (SigningKey, KeySet) {
        let key = SigningKey::from_seed("k1", &[7; 32]);
        let mut keys = KeySet::new();
        keys.insert("k1", &key.public_key()).unwrap();
        (key, keys)
    }

    #[test]
    fn a_signed_feed_verifies_sorted_and_deduplicated() {
        let (key, keys) = setup();
        let feed = Revocations::sign(&key, ISS, 100, 400, &["s2", "s1", "s2"]);
        let header = feed.split('.').next().unwrap();
        let header = crate::base64::decode(header.as_bytes()).unwrap();
        assert_eq!(
            core::str::from_utf8(&header).unwrap(),
            r#"{"alg":"EdDSA","kid":"k1","typ":"revocations+jwt"}"#
        );
        let got = Revocations::verify(&feed, &keys, ISS, 399).unwrap();
        assert_eq!(got.sids(), ["s1", "s2"]);
        assert!(got.contains("s1") && got.contains("s2") && !got.contains("s3"));
        assert_eq!(
            (got.issued_at(), got.expires_at(), got.len()),
            (100, 400, 2)
        );
        let empty = Revocations::sign::<&str>(&key, ISS, 100, 400, &[]);
        assert!(
            Revocations::verify(&empty, &keys, ISS, 100)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn tampered_feeds_are_refused_with_the_token_codes() {
        let (key, keys) = setup();
        let feed = Revocations::sign(&key, ISS, 100, 400, &["s1"]);
        let code = |feed: &str, now| {
            Revocations::verify(feed, &keys, ISS, now)
                .unwrap_err()
                .code()
        };
        // A flipped byte in the payload, the signature or the header.
        let (head, rest) = feed.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        let flip = |s: &str| {
            let mut b = s.as_bytes().to_vec();
            b[3] = if b[3] == b'A' { b'B' } else { b'A' };
            String::from_utf8(b).unwrap()
        };
        assert_eq!(
            code(&format!("{head}.{}.{signature}", flip(payload)), 100),
            "bad_signature"
        );
        assert_eq!(
            code(&format!("{head}.{payload}.{}", flip(signature)), 100),
            "bad_signature"
        );
        assert_eq!(code(&feed, 400), "expired");
        assert_eq!(
            Revocations::verify(&feed, &keys, "https://other.example", 100)
                .unwrap_err()
                .code(),
            "wrong_issuer"
        );
        let other = SigningKey::from_seed("k2", &[8; 32]);
        let unknown = Revocations::sign(&other, ISS, 100, 400, &["s1"]);
        assert_eq!(code(&unknown, 100), "unknown_key");
        // An access token is not a feed, whatever it holds.
        let claims = crate::Claims {
            iss: ISS.to_string(),
            aud: vec!["api".to_string()],
            exp: 400,
            ..Default::default()
        };
        let token = key.sign(&claims).unwrap();
        assert_eq!(code(&token, 100), "wrong_type");
        assert_eq!(code("nope", 100), "malformed");
        let big = "a".repeat(MAX_REVOCATIONS_LEN + 1);
        assert_eq!(code(&big, 100), "token_too_large");
    }

    #[test]
    fn missing_or_repeated_members_are_malformed() {
        let (key, keys) = setup();
        for payload in [
            r#"{"iss":"https://auth.example","iat":1,"exp":400}"#,
            r#"{"iss":"https://auth.example","iat":1,"exp":400,"sids":[],"sids":[]}"#,
            r#"{"iss":"https://auth.example","iat":1,"exp":400,"sids":[1]}"#,
            r#"["s1"]"#,
        ] {
            let feed = key.sign_jws(REVOCATIONS_TYPE, payload.as_bytes());
            assert_eq!(
                Revocations::verify(&feed, &keys, ISS, 100)
                    .unwrap_err()
                    .code(),
                "malformed",
                "{payload}"
            );
        }
    }

    #[test]
    fn an_older_feed_never_replaces_a_newer_one() {
        let (key, keys) = setup();
        let at = |iat| {
            let feed = Revocations::sign(&key, ISS, iat, 1000, &["s1"]);
            Revocations::verify(&feed, &keys, ISS, 500).unwrap()
        };
        assert!(at(10).supersedes(None));
        assert!(at(20).supersedes(Some(&at(10))));
        assert!(at(20).supersedes(Some(&at(20))));
        assert!(!at(10).supersedes(Some(&at(20))));
    }
}
