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
    refresh::{KeyRefresh, KeyRefreshPolicy, Need, Plan},
    verify::{Verifier, open_jws},
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
            &|typ| typ.is_some_and(|t| t.eq_ignore_ascii_case(REVOCATIONS_TYPE)),
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
        let sids: Vec<String> = sids.ok_or_else(missing)?;
        // Sorted and each once, as the server writes them: checked in one
        // pass (no sort, whose code the npm package's .wasm cannot afford).
        if sids.windows(2).any(|pair| pair.first() >= pair.last()) {
            return Err(JsonError("sids are not sorted, each once"));
        }
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

/// A verifier's revocation feed: the last good one and when to fetch the
/// next, on the [`KeyRefresh`] schedule with
/// [`KeyRefreshPolicy::REVOCATIONS`] (or another policy). Pure
/// bookkeeping, as for the key set: the caller fetches and passes the time
/// in (milliseconds since the epoch) and every decision is taken here.
///
/// While [`current`](Self::current) gives a feed, tokens are checked
/// against it and a due refresh runs in the background
/// ([`plan`](Self::plan) says [`Plan::Start`] at most once per max-age);
/// when it gives none (no feed yet, or the last good one was fetched longer
/// ago than the staleness bound, or is past its own `exp`), protected
/// requests wait for a fetch ([`Plan::Wait`]) and fail closed if none
/// succeeds (`revocations_unavailable`, with
/// [`retry_after`](Self::retry_after)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationFeed {
    schedule: KeyRefresh,
    last: Option<Revocations>,
}

impl RevocationFeed {
    /// A feed not fetched yet, on this schedule.
    pub const fn new(policy: KeyRefreshPolicy) -> Self {
        Self {
            schedule: KeyRefresh::new(policy),
            last: None,
        }
    }

    /// The schedule's parameters.
    pub const fn policy(&self) -> &KeyRefreshPolicy {
        self.schedule.policy()
    }

    /// The last good feed if it may be relied on at `now_ms`: fetched
    /// within the staleness bound and before its `exp`.
    pub fn current(&self, now_ms: u64) -> Option<&Revocations> {
        self.last
            .as_ref()
            .filter(|feed| self.schedule.is_usable(now_ms) && now_ms / 1000 < feed.expires_at)
    }

    /// What to do at `now_ms`: with a [`current`](Self::current) feed,
    /// start a background refresh once its max-age is over ([`Plan::Skip`]
    /// otherwise, also while a fetch is under way); without one, start a
    /// fetch or wait for the one under way, at most one a second.
    pub fn plan(&self, now_ms: u64) -> Plan {
        let need = if self.current(now_ms).is_some() {
            Need::Stale
        } else {
            Need::UnknownKey
        };
        self.schedule.plan(need, now_ms)
    }

    /// Records that a fetch starts at `now_ms`; the ticket goes to
    /// [`accept`](Self::accept) or [`failed`](Self::failed).
    pub fn started(&mut self, now_ms: u64) -> u64 {
        self.schedule.started(now_ms)
    }

    /// Takes the fetched `feed` (its text and the response's
    /// `Cache-Control`) if it verifies against `verifier`'s keys and
    /// issuer ([`Revocations::verify`]) and is not older than the last
    /// good one. `Ok(true)`: it is now the current feed; `Ok(false)`: it
    /// was good but older, and the last good one stays. Either refusal
    /// counts as a failed fetch: the last good feed stays, and so does the
    /// time it was fetched (the staleness bound is not reset).
    pub fn accept(
        &mut self,
        ticket: u64,
        feed: &str,
        verifier: &Verifier,
        now_ms: u64,
        cache_control: Option<&str>,
    ) -> Result<bool, VerifyError> {
        let verified = Revocations::verify(feed, verifier.keys(), verifier.issuer(), now_ms / 1000);
        match verified {
            Ok(feed) if feed.supersedes(self.last.as_ref()) => {
                self.schedule.succeeded(ticket, now_ms, cache_control);
                self.last = Some(feed);
                Ok(true)
            }
            Ok(_) => {
                self.schedule.failed(ticket);
                Ok(false)
            }
            Err(e) => {
                self.schedule.failed(ticket);
                Err(e)
            }
        }
    }

    /// Records that the fetch `ticket` failed (no answer, an HTTP error):
    /// the last good feed stays.
    pub fn failed(&mut self, ticket: u64) {
        self.schedule.failed(ticket);
    }

    /// Whether a fetch is under way at `now_ms`.
    pub fn is_fetching(&self, now_ms: u64) -> bool {
        self.schedule.is_fetching(now_ms)
    }

    /// Whole seconds until the next fetch the schedule allows (at least
    /// 1), for the `Retry-After` of `revocations_unavailable`.
    pub fn retry_after(&self, now_ms: u64) -> u64 {
        self.schedule.retry_after(now_ms)
    }

    /// The last good feed, however old.
    pub const fn last(&self) -> Option<&Revocations> {
        self.last.as_ref()
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
    fn missing_repeated_unsorted_or_too_deep_members_are_malformed() {
        let (key, keys) = setup();
        for payload in [
            r#"{"iss":"https://auth.example","iat":1,"exp":400}"#,
            r#"{"iss":"https://auth.example","iat":1,"exp":400,"sids":[],"sids":[]}"#,
            r#"{"iss":"https://auth.example","iat":1,"exp":400,"sids":[1]}"#,
            r#"{"iss":"https://auth.example","iat":1,"exp":400,"sids":["b","a"]}"#,
            r#"{"iss":"https://auth.example","iat":1,"exp":400,"sids":["a","a"]}"#,
            r#"["s1"]"#,
        ]
        .into_iter()
        .map(String::from)
        // Nesting far past the reader's depth bound, in a member skipped.
        .chain([format!(
            r#"{{"iss":"https://auth.example","iat":1,"exp":400,"sids":[],"x":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        )]) {
            let feed = key.sign_jws(REVOCATIONS_TYPE, payload.as_bytes());
            assert_eq!(
                Revocations::verify(&feed, &keys, ISS, 100)
                    .unwrap_err()
                    .code(),
                "malformed",
                "{}",
                payload.get(..80).unwrap_or(&payload)
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

    fn verifier(keys: KeySet) -> Verifier {
        Verifier::new(keys, ISS, "api")
    }

    #[test]
    fn the_feed_schedule_keeps_the_last_good_feed() {
        let (key, keys) = setup();
        let verifier = verifier(keys);
        let s = 1_000;
        let t0 = 1_000_000 * s;
        let signed =
            |iat_s: u64, sids: &[&str]| Revocations::sign(&key, ISS, iat_s, iat_s + 300, sids);
        let mut feed = RevocationFeed::new(KeyRefreshPolicy::REVOCATIONS);
        assert_eq!(feed.current(t0), None);
        // No feed yet: requests wait for the first fetch.
        assert_eq!(feed.plan(t0), Plan::Start);
        let t = feed.started(t0);
        assert_eq!(feed.plan(t0 + 1), Plan::Wait);
        let max_age = Some("public, max-age=5");
        assert_eq!(
            feed.accept(t, &signed(t0 / s, &["a"]), &verifier, t0 + 10, max_age),
            Ok(true)
        );
        assert!(feed.current(t0 + 10).unwrap().contains("a"));

        // At most one fetch per max-age, whatever the load.
        let fetches = (t0 + 10..t0 + 5_010)
            .step_by(7)
            .filter(|&ms| feed.plan(ms) == Plan::Start)
            .count();
        assert_eq!(fetches, 0);
        assert_eq!(feed.plan(t0 + 5_010), Plan::Start);

        // Refused feeds (tampered, another issuer, older) leave it in force.
        let now = t0 + 5_010;
        let t = feed.started(now);
        let good = signed(now / s, &["a", "b"]);
        let tampered = good.replacen('.', ".x", 1);
        assert!(feed.accept(t, &tampered, &verifier, now, max_age).is_err());
        let other_issuer = Verifier::new(verifier.keys().clone(), "https://other.example", "api");
        let t = feed.started(now + 1_000);
        assert_eq!(
            feed.accept(t, &good, &other_issuer, now + 1_000, max_age),
            Err(VerifyError::WrongIssuer)
        );
        let t = feed.started(now + 2_000);
        assert_eq!(
            feed.accept(t, &signed(t0 / s - 1, &[]), &verifier, now + 2_000, max_age),
            Ok(false)
        );
        assert_eq!(feed.last().unwrap().sids(), ["a"]);
        let t = feed.started(now + 3_000);
        assert_eq!(
            feed.accept(t, &good, &verifier, now + 3_000, max_age),
            Ok(true)
        );
        assert!(feed.current(now + 3_000).unwrap().contains("b"));

        // Not refreshed within the bound (60 s): no longer relied on, and
        // requests wait for a fetch; Retry-After names the next one.
        let last_ok = now + 3_000;
        assert!(feed.current(last_ok + 59_999).is_some());
        assert_eq!(feed.current(last_ok + 60_000), None);
        assert_eq!(feed.plan(last_ok + 60_000), Plan::Start);
        let t = feed.started(last_ok + 60_000);
        feed.failed(t);
        assert_eq!(feed.retry_after(last_ok + 60_000), 1);
        assert_eq!(feed.plan(last_ok + 60_500), Plan::Skip);
        // A feed past its own exp is not relied on either.
        let short =
            RevocationFeed::new(KeyRefreshPolicy::REVOCATIONS.with_max_staleness_ms(3_600_000));
        let mut short = short;
        let t = short.started(t0);
        short
            .accept(t, &signed(t0 / s, &[]), &verifier, t0, max_age)
            .unwrap();
        assert!(short.current(t0 + 299_999).is_some());
        assert_eq!(short.current(t0 + 300_000), None);
        assert_eq!(
            KeyRefreshPolicy::REVOCATIONS.ttl_ms(Some("max-age=0")),
            1_000
        );
        assert_eq!(
            KeyRefreshPolicy::REVOCATIONS.ttl_ms(Some("max-age=3600")),
            60_000
        );
    }
}
