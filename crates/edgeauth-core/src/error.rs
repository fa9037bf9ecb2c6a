//! Error types, split by phase. Each carries a stable `code()` that is part of
//! the wire contract (docs/codes.md): the server, the npm package and the
//! edge gate all report these exact strings. A test pins them.

use alloc::string::String;
use core::fmt;

use crate::json::Quoted;

/// Why a token failed verification. Variants are listed in the order the
/// checks run; the first failing check decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is longer than [`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN).
    TokenTooLarge,
    /// Not a compact JWS, or its header or payload are not the expected JSON.
    Malformed,
    /// The header names an algorithm other than `EdDSA`, or carries `crit`.
    UnsupportedAlg,
    /// The header `typ` is not `at+jwt`.
    WrongType,
    /// The header has no `kid`, or it is not in the key set.
    UnknownKey,
    /// The signature does not verify under strict Ed25519 rules.
    BadSignature,
    /// `now >= exp + leeway`.
    Expired,
    /// `nbf` or `iat` lies beyond `now + leeway`.
    NotYetValid,
    /// `iss` is not the expected issuer.
    WrongIssuer,
    /// No `aud` value is the expected audience.
    WrongAudience,
    /// The session (`sid`) is on the caller's revocation list.
    Revoked,
}

impl VerifyError {
    /// Every variant, in check order.
    pub const ALL: [Self; 11] = [
        Self::TokenTooLarge,
        Self::Malformed,
        Self::UnsupportedAlg,
        Self::WrongType,
        Self::UnknownKey,
        Self::BadSignature,
        Self::Expired,
        Self::NotYetValid,
        Self::WrongIssuer,
        Self::WrongAudience,
        Self::Revoked,
    ];

    /// The stable, machine-readable code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::TokenTooLarge => "token_too_large",
            Self::Malformed => "malformed",
            Self::UnsupportedAlg => "unsupported_alg",
            Self::WrongType => "wrong_type",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::Revoked => "revoked",
        }
    }

    /// Looks a code up; the inverse of [`code`](Self::code).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }

    /// The HTTP status a resource server answers with: always 401 (RFC 6750
    /// `invalid_token`).
    pub const fn http_status(self) -> u16 {
        401
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TokenTooLarge => "token too large",
            Self::Malformed => "malformed token",
            Self::UnsupportedAlg => "unsupported token algorithm",
            Self::WrongType => "wrong token type",
            Self::UnknownKey => "unknown signing key",
            Self::BadSignature => "bad token signature",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::WrongIssuer => "wrong token issuer",
            Self::WrongAudience => "wrong token audience",
            Self::Revoked => "session revoked",
        })
    }
}

impl core::error::Error for VerifyError {}

/// Why a request may not do what it asks, after (or instead of) verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AccessError {
    /// A non-public route was requested without a token.
    MissingToken,
    /// No route rule matched (and the policy denies by default), or the path
    /// has no canonical form (dot segments, empty segments, `;` parameters,
    /// encoded separators or control characters, ...), or it is a case
    /// variant that ignoring case would route elsewhere.
    RouteDenied,
    /// The token lacks a required role.
    InsufficientRole,
    /// The token lacks a required permission.
    InsufficientPermission,
}

impl AccessError {
    /// Every variant.
    pub const ALL: [Self; 4] = [
        Self::MissingToken,
        Self::RouteDenied,
        Self::InsufficientRole,
        Self::InsufficientPermission,
    ];

    /// The stable, machine-readable code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::RouteDenied => "route_denied",
            Self::InsufficientRole => "insufficient_role",
            Self::InsufficientPermission => "insufficient_permission",
        }
    }

    /// Looks a code up; the inverse of [`code`](Self::code).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }

    /// The HTTP status: 401 for a missing token, 403 otherwise.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::MissingToken => 401,
            _ => 403,
        }
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingToken => "no access token",
            Self::RouteDenied => "route denied",
            Self::InsufficientRole => "insufficient role",
            Self::InsufficientPermission => "insufficient permission",
        })
    }
}

impl core::error::Error for AccessError {}

/// Why a JWKS could not be turned into a key set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySetError {
    /// Not JSON, or not an object with a `keys` array.
    NotJwks(&'static str),
    /// An Ed25519 key (`kty` `OKP`, `crv` `Ed25519`) that cannot be used; the
    /// index is the key's position in `keys`.
    BadKey {
        /// Position in the `keys` array.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two Ed25519 keys share a `kid`.
    DuplicateKid(String),
}

impl KeySetError {
    /// The stable, machine-readable code.
    pub const fn code(&self) -> &'static str {
        "invalid_jwks"
    }
}

impl fmt::Display for KeySetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotJwks(why) => write!(f, "invalid JWKS: {why}"),
            Self::BadKey { index, reason } => write!(f, "invalid JWKS: keys[{index}]: {reason}"),
            Self::DuplicateKid(kid) => write!(f, "invalid JWKS: duplicate kid {}", Quoted(kid)),
        }
    }
}

impl core::error::Error for KeySetError {}

/// Why route rules or a requirement could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not valid JSON, or not of the expected shape.
    Json(&'static str),
    /// A problem with one rule, by position.
    Rule {
        /// Position of the rule in the list.
        index: usize,
        /// What is wrong with it.
        reason: PolicyProblem,
    },
    /// A top-level key (`rules` or `default`) given twice.
    DuplicateKey(&'static str),
}

/// What is wrong with a route rule or requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyProblem {
    /// A key the rule format does not know (a typo would otherwise open a route).
    UnknownField(String),
    /// A required key is missing.
    MissingField(&'static str),
    /// A value of the wrong JSON type.
    WrongType(&'static str),
    /// A path pattern with no canonical form (see
    /// [`RoutePolicy::canonical_path`](crate::RoutePolicy::canonical_path)),
    /// or with an unsupported wildcard.
    BadPath(String),
    /// A method that is not an HTTP token or `*`.
    BadMethod(String),
    /// A role or permission that is empty or misuses `*`.
    BadName(String),
    /// `public: true` together with `require`.
    PublicWithRequire,
    /// A key given twice in a rule or in its `require` (JSON parsers
    /// differ on which one wins, so neither does).
    DuplicateField(&'static str),
    /// An empty list (`methods`, `any_roles`, `all_roles` or `perms`): it
    /// would read as "none" but match everything.
    EmptyList(&'static str),
}

impl PolicyError {
    /// The stable, machine-readable code.
    pub const fn code(&self) -> &'static str {
        "invalid_policy"
    }
}

impl PolicyProblem {
    /// The stable, machine-readable code (that of [`PolicyError`]).
    pub const fn code(&self) -> &'static str {
        "invalid_policy"
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(why) => write!(f, "invalid route rules: {why}"),
            Self::Rule { index, reason } => write!(f, "invalid route rule {index}: {reason}"),
            Self::DuplicateKey(k) => write!(f, "invalid route rules: duplicate key {}", Quoted(k)),
        }
    }
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownField(k) => write!(f, "unknown key {}", Quoted(k)),
            Self::MissingField(k) => write!(f, "missing key {}", Quoted(k)),
            Self::WrongType(k) => write!(f, "{} has the wrong type", Quoted(k)),
            Self::BadPath(p) => write!(
                f,
                "path {} must start with '/', have no empty, '.', '..' or ';' segment, no '?', '#', '\\' or control character, no encoded '/', '\\' or ';', and use only whole-segment '*' or a final '**'",
                Quoted(p)
            ),
            Self::BadMethod(m) => write!(f, "method {} is not an HTTP method or '*'", Quoted(m)),
            Self::BadName(n) => write!(
                f,
                "role or permission {} is empty or misuses '*'",
                Quoted(n)
            ),
            Self::PublicWithRequire => f.write_str("a public rule cannot have \"require\""),
            Self::DuplicateField(k) => write!(f, "duplicate key {}", Quoted(k)),
            Self::EmptyList(k) => write!(
                f,
                "{} is an empty list, which would read as none but match everything: name at least one or leave the key out",
                Quoted(k)
            ),
        }
    }
}

impl core::error::Error for PolicyError {}

impl core::error::Error for PolicyProblem {}

/// Why a role or permission name is refused (see
/// [`check_role_name`](crate::check_role_name) and
/// [`check_permission_name`](crate::check_permission_name)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameError {
    /// An empty role name.
    EmptyRole,
    /// A role name with `*`: roles match by equality, so no rule could
    /// require it.
    WildcardInRole,
    /// An empty permission name.
    EmptyPermission,
    /// A permission with an empty segment (`a..b`, `.a`, `a.`).
    EmptySegment,
    /// A permission whose `*` is not its whole last segment.
    MisplacedWildcard,
}

impl NameError {
    /// Every variant.
    pub const ALL: [Self; 5] = [
        Self::EmptyRole,
        Self::WildcardInRole,
        Self::EmptyPermission,
        Self::EmptySegment,
        Self::MisplacedWildcard,
    ];

    /// The stable, machine-readable code: `invalid_role_name` or
    /// `invalid_permission_name`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::EmptyRole | Self::WildcardInRole => "invalid_role_name",
            Self::EmptyPermission | Self::EmptySegment | Self::MisplacedWildcard => {
                "invalid_permission_name"
            }
        }
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EmptyRole => "a role name cannot be empty",
            Self::WildcardInRole => "a role name cannot contain '*'",
            Self::EmptyPermission => "a permission name cannot be empty",
            Self::EmptySegment => "a permission name cannot have an empty segment",
            Self::MisplacedWildcard => {
                "in a permission name, '*' may only be the whole last segment"
            }
        })
    }
}

impl core::error::Error for NameError {}
