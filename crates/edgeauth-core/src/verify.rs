//! Access-token verification: the rules of docs/tokens.md, in its order.

use alloc::{borrow::Cow, string::String, vec::Vec};

use ed25519_dalek::Signature;

use crate::{
    base64,
    claims::Claims,
    error::VerifyError,
    json::{JsonError, Reader},
    keys::KeySet,
};

/// The JWS `alg` of every edgeauth token.
pub(crate) const ALGORITHM: &str = "EdDSA";

/// Tokens longer than this many bytes are refused before any parsing.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The leeway for time checks unless configured otherwise, in seconds.
pub const DEFAULT_LEEWAY: u64 = 30;

/// Checks edgeauth access tokens against a key set, an issuer and an audience.
///
/// It reads no clock: every check takes `now`, in seconds since the epoch.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: KeySet,
    issuer: String,
    audience: String,
    leeway: u64,
    require_type: bool,
}

impl Verifier {
    /// A verifier for tokens from `issuer` meant for `audience`, with the
    /// default leeway and the `at+jwt` type required.
    pub fn new(keys: KeySet, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            keys,
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: DEFAULT_LEEWAY,
            require_type: true,
        }
    }

    /// Sets the clock-skew leeway applied to `exp`, `nbf` and `iat`, in seconds.
    #[must_use]
    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Whether the header `typ` must be `at+jwt` (RFC 9068); on by default.
    #[must_use]
    pub fn with_type_required(mut self, required: bool) -> Self {
        self.require_type = required;
        self
    }

    /// The trusted keys.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The expected issuer (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Replaces the trusted keys (after a JWKS refetch, say).
    pub fn set_keys(&mut self, keys: KeySet) {
        self.keys = keys;
    }

    /// Verifies `token` at time `now` and returns its claims.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, VerifyError> {
        self.verify_with(token, now, |_| false)
    }

    /// Like [`verify`](Self::verify), and also refuses tokens whose session
    /// id `is_revoked` says is revoked.
    pub fn verify_with(
        &self,
        token: &str,
        now: u64,
        is_revoked: impl FnOnce(&str) -> bool,
    ) -> Result<Claims, VerifyError> {
        use VerifyError as E;

        // 1. Size, before anything else is looked at.
        if token.len() > MAX_TOKEN_LEN {
            return Err(E::TokenTooLarge);
        }

        // 2 to 7. The signed payload, under the token-type rule.
        let (mut buf, mut spill) = ([0; 1024], Vec::new());
        let require_type = self.require_type;
        let payload = open_jws(
            token,
            &self.keys,
            &|typ| !require_type || typ.is_some_and(is_access_token_type),
            &mut buf,
            &mut spill,
        )?;
        let claims = Claims::parse(payload).map_err(|_| E::Malformed)?;

        // 8, 9. Time, with leeway.
        self.check_times(&claims, now)?;

        // 10, 11. Who issued it, and for whom.
        if claims.iss != self.issuer {
            return Err(E::WrongIssuer);
        }
        if !claims.aud.contains(&self.audience) {
            return Err(E::WrongAudience);
        }

        // 12. The caller's revocation list.
        if is_revoked(&claims.sid) {
            return Err(E::Revoked);
        }
        Ok(claims)
    }

    /// Steps 8 and 9 alone: whether claims that verified earlier are still
    /// within their time window at `now` (see [`reuse_window`](Self::reuse_window)).
    pub fn check_times(&self, claims: &Claims, now: u64) -> Result<(), VerifyError> {
        self.reuse_window(claims).check(now)
    }

    /// How long a verified token's result may be reused without verifying
    /// it again, for caches of verified tokens: the times at which steps 8
    /// and 9 pass. Nothing else about a token can change while the key set
    /// stays the same, so a cache keeps a result for this window and drops
    /// it when the keys change; a revocation list, if any, is asked again on
    /// every use.
    pub fn reuse_window(&self, claims: &Claims) -> ReuseWindow {
        ReuseWindow {
            from: claims.nbf.max(claims.iat).saturating_sub(self.leeway),
            until: claims.exp.saturating_add(self.leeway),
        }
    }
}

/// Steps 2 to 7 of verification, for every compact JWS edgeauth signs:
/// three base64url segments and a JSON header (2); `alg` `EdDSA` and no
/// `crit` (3); a `typ` that `type_ok` accepts (4); a `kid` in `keys` (5); a
/// strict Ed25519 signature over the signing input (6); only then the
/// payload, decoded as UTF-8 (7). Header and payload are decoded into
/// `buf` in turn, spilling to `spill` only when larger.
#[inline]
pub(crate) fn open_jws<'b>(
    token: &str,
    keys: &KeySet,
    type_ok: &dyn Fn(Option<&str>) -> bool,
    buf: &'b mut [u8; 1024],
    spill: &'b mut Vec<u8>,
) -> Result<&'b str, VerifyError> {
    use VerifyError as E;

    // 2. Three base64url segments and a JSON header.
    let (signing_input, signature) = token.rsplit_once('.').ok_or(E::Malformed)?;
    let (header, payload) = signing_input.split_once('.').ok_or(E::Malformed)?;
    if payload.contains('.') {
        return Err(E::Malformed);
    }
    let header = base64::decode_small(header.as_bytes(), &mut *buf, &mut *spill)
        .map_err(|_| E::Malformed)?;
    let header = core::str::from_utf8(header).map_err(|_| E::Malformed)?;
    let header = Header::parse(header).map_err(|_| E::Malformed)?;
    // Decoded once; a well-formed segment of the wrong length fails at step 6.
    let signature = match base64::decode_array::<64>(signature.as_bytes()) {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            base64::validate(signature.as_bytes()).map_err(|_| E::Malformed)?;
            None
        }
    };

    // 3. The algorithm is ours to choose; the header may only agree.
    if header.alg.as_deref() != Some(ALGORITHM) || header.crit {
        return Err(E::UnsupportedAlg);
    }

    // 4. The token type.
    if !type_ok(header.typ.as_deref()) {
        return Err(E::WrongType);
    }

    // 5. A key we trust.
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.get(kid))
        .ok_or(E::UnknownKey)?;

    // 6. Strict Ed25519 over the signing input: `verify_strict` also
    // rejects small-order `R` and `A` (and, like `verify`, non-canonical
    // `S`), so every message has at most one valid signature per key.
    let signature = signature.ok_or(E::BadSignature)?;
    key.verify_strict(signing_input.as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| E::BadSignature)?;

    // 7. Only now is the payload read.
    let payload = base64::decode_small(payload.as_bytes(), buf, spill).map_err(|_| E::Malformed)?;
    core::str::from_utf8(payload).map_err(|_| E::Malformed)
}

/// The times, in seconds since the epoch, at which a verified token passes
/// its time checks: `from <= now < until` (see [`Verifier::reuse_window`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReuseWindow {
    from: u64,
    until: u64,
}

impl ReuseWindow {
    /// The first second at which the token is valid (`nbf`, `iat` minus the
    /// leeway).
    pub const fn from(&self) -> u64 {
        self.from
    }

    /// The first second at which it has expired (`exp` plus the leeway).
    pub const fn until(&self) -> u64 {
        self.until
    }

    /// Whether a result may be reused at `now`: `expired` at or after
    /// [`until`](Self::until), `not_yet_valid` before [`from`](Self::from).
    pub const fn check(&self, now: u64) -> Result<(), VerifyError> {
        if now >= self.until {
            Err(VerifyError::Expired)
        } else if now < self.from {
            Err(VerifyError::NotYetValid)
        } else {
            Ok(())
        }
    }
}

/// `at+jwt` or `application/at+jwt`, ignoring ASCII case (RFC 9068 section 2.1).
fn is_access_token_type(typ: &str) -> bool {
    let typ = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => typ.get(12..).unwrap_or(""),
        _ => typ,
    };
    typ.eq_ignore_ascii_case("at+jwt")
}

/// The JOSE header parameters that matter for verification.
struct Header<'a> {
    alg: Option<Cow<'a, str>>,
    typ: Option<Cow<'a, str>>,
    kid: Option<Cow<'a, str>>,
    crit: bool,
}

impl<'a> Header<'a> {
    /// Reads a JOSE header: an object whose `alg`, `typ` and `kid`, when
    /// present, are strings; a repeated parameter is refused (RFC 7515
    /// section 4 allows that, and it removes any doubt about which one counts).
    fn parse(text: &'a str) -> Result<Self, JsonError> {
        let mut header = Self {
            alg: None,
            typ: None,
            kid: None,
            crit: false,
        };
        let mut reader = Reader::new(text);
        reader.object(|r, name| {
            let slot = match &*name {
                "alg" => &mut header.alg,
                "typ" => &mut header.typ,
                "kid" => &mut header.kid,
                "crit" => {
                    if header.crit {
                        return Err(JsonError("duplicate header parameter"));
                    }
                    header.crit = true;
                    return r.skip();
                }
                _ => return r.skip(),
            };
            if slot.is_some() {
                return Err(JsonError("duplicate header parameter"));
            }
            *slot = Some(r.string()?);
            Ok(())
        })?;
        reader.finish()?;
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_types() {
        for ok in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
        ] {
            assert!(is_access_token_type(ok), "{ok}");
        }
        for bad in [
            "JWT",
            "jwt",
            "at+jwt ",
            "application/",
            "application/jwt",
            "xpplication/at+jwt",
            "",
        ] {
            assert!(!is_access_token_type(bad), "{bad}");
        }
    }

    #[test]
    fn the_reuse_window_is_the_time_checks() {
        let verifier = Verifier::new(KeySet::new(), "i", "a").with_leeway(30);
        let claims = Claims {
            iat: 1_000,
            nbf: 1_010,
            exp: 1_900,
            ..Claims::default()
        };
        let window = verifier.reuse_window(&claims);
        assert_eq!((window.from(), window.until()), (980, 1_930));
        for now in [0, 979, 980, 1_500, 1_929, 1_930, u64::MAX] {
            let expected = if now >= 1_930 {
                Err(VerifyError::Expired)
            } else if now < 980 {
                Err(VerifyError::NotYetValid)
            } else {
                Ok(())
            };
            assert_eq!(window.check(now), expected, "{now}");
            assert_eq!(verifier.check_times(&claims, now), expected, "{now}");
        }
        let early = Claims {
            exp: u64::MAX,
            ..Claims::default()
        };
        let window = verifier.reuse_window(&early);
        assert_eq!((window.from(), window.until()), (0, u64::MAX));
    }

    #[test]
    fn header_parameters() {
        let h = Header::parse(r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k","x5u":[1]}"#).unwrap();
        assert_eq!(
            (h.alg.as_deref(), h.typ.as_deref(), h.kid.as_deref(), h.crit),
            (Some("EdDSA"), Some("at+jwt"), Some("k"), false)
        );
        assert!(
            Header::parse(r#"{"alg":"EdDSA","crit":["exp"]}"#)
                .unwrap()
                .crit
        );
        assert!(Header::parse(r#"{"alg":"EdDSA","alg":"none"}"#).is_err());
        assert!(Header::parse(r#"{"alg":1}"#).is_err());
        assert!(Header::parse(r#"["alg"]"#).is_err());
    }
}
