//! The edgeauth verifier: decides whether an access token is good and
//! whether it may do a thing.
//!
//! `no_std` + `alloc`, with no clock, RNG, network or file: the caller passes
//! `now`. The issuing server, the npm package and the edge gate all call this
//! crate, so its behaviour is the product's behaviour. Besides verification
//! and authorization it owns the decisions the three share:
//!
//! - the role and permission name grammar ([`check_role_name`],
//!   [`check_permission_name`]);
//! - where a request carries its token ([`access_token`]);
//! - the one canonical form of a request path, which route rules match and
//!   a gate forwards ([`RoutePolicy::canonical_path`]);
//! - how long a verified result may be reused ([`Verifier::reuse_window`]);
//! - when to refetch a key set ([`KeyRefresh`], [`KeyRefreshPolicy`]);
//! - which sessions are revoked, from the server's signed feed ([`Revocations`]);
//! - how a failure is answered over HTTP ([`Problem`], [`Challenge`]);
//! - when a cookie-authenticated request needs an allowed origin
//!   ([`check_csrf`]);
//! - the gate's signed origin assertion ([`GateAssertion`]).
//!
//! docs/tokens.md is the contract it implements.
//!
//! ```
//! # use edgeauth_core::{KeySet, Verifier, VerifyError};
//! let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1",
//!     "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
//! let verifier = Verifier::new(KeySet::from_jwks(jwks)?, "https://auth.example", "api");
//! let err = verifier.verify("not.a.token", 1_700_000_000).unwrap_err();
//! assert_eq!(err.code(), "malformed");
//! # Ok::<(), edgeauth_core::KeySetError>(())
//! ```
//!
//! Features:
//! - `sign`: mint tokens with [`SigningKey`] (for the issuing server; std).
//! - `assertion-sign`: sign gate assertions with [`AssertionSigner`] (for
//!   the edge gate; no extra dependency).
//! - `std`: std in dependencies; the verifier itself never needs it.

#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod assertion;
mod base64;
mod claims;
mod csrf;
mod error;
mod extract;
mod json;
mod keys;
mod names;
mod path;
mod policy;
mod problem;
mod refresh;
mod revocations;
#[cfg(feature = "sign")]
mod sign;
mod verify;

// The public interface.
#[cfg(feature = "assertion-sign")]
pub use crate::assertion::AssertionSigner;
#[cfg(feature = "sign")]
pub use crate::sign::{ACCESS_TOKEN_TYPE, SignError, SigningKey};
pub use crate::{
    assertion::{
        ASSERTION_HEADER, ASSERTION_TYPE, AssertedIdentity, AssertionError, AssertionKeys,
        DEFAULT_ASSERTION_MAX_AGE, GateAssertion, MAX_ASSERTION_LEN,
    },
    claims::Claims,
    csrf::{CsrfError, check_csrf, is_safe_method, origin_of, parse_origins, request_origin},
    error::{AccessError, KeySetError, NameError, PolicyError, PolicyProblem, VerifyError},
    extract::{
        DEFAULT_ACCESS_COOKIE, TokenSource, access_token, bearer_token, cookie_value,
        is_cookie_name,
    },
    keys::KeySet,
    names::{check_permission_name, check_role_name, grants},
    path::CanonicalPath,
    policy::{Fallback, Requirement, Route, RoutePolicy},
    problem::{
        Challenge, Extension, PROBLEM_JSON, PROBLEM_TYPE_PREFIX, Problem, REALM, problem_type,
        status_title,
    },
    refresh::{KeyRefresh, KeyRefreshPolicy, Need, Plan},
    revocations::{
        MAX_REVOCATIONS_LEN, REVOCATIONS_MEDIA_TYPE, REVOCATIONS_TYPE, RevocationFeed, Revocations,
    },
    verify::{DEFAULT_LEEWAY, MAX_TOKEN_LEN, ReuseWindow, Verifier},
};
