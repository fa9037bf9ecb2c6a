//! The edgeauth verifier: decides whether an access token is good and
//! whether it may do a thing.
//!
//! `no_std` + `alloc`, with no clock, RNG, network or file: the caller passes
//! `now`. The issuing server, the npm package and the edge gate all call this
//! crate, so its behaviour is the product's behaviour; shared/DESIGN.md is the
//! contract it implements.
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
//! - `std`: std in dependencies; the verifier itself never needs it.

#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod base64;
mod claims;
mod error;
mod json;
mod keys;
mod names;
mod policy;
#[cfg(feature = "sign")]
mod sign;
mod verify;

// The public interface.
#[cfg(feature = "sign")]
pub use crate::sign::{ACCESS_TOKEN_TYPE, SignError, SigningKey};
pub use crate::{
    claims::Claims,
    error::{AccessError, KeySetError, NameError, PolicyError, PolicyProblem, VerifyError},
    keys::KeySet,
    names::{check_permission_name, check_role_name, grants},
    policy::{Fallback, Requirement, Route, RoutePolicy},
    verify::{DEFAULT_LEEWAY, MAX_TOKEN_LEN, Verifier},
};
