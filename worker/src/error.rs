//! The gate's answers when it does not forward: RFC 9457 problem details.
//!
//! Every denial and every failure of the gate itself is a [`Problem`] with a
//! stable `code`; the Worker glue turns it into an HTTP response. Internal
//! failures carry a generic detail only: the real error is logged by the
//! glue, never sent to the client.

use edgeauth_core::{AccessError, Challenge, CsrfError, VerifyError};

use crate::config::ConfigError;

/// An answer from the gate itself (RFC 9457 problem details), rendered by
/// the core as the issuing server renders its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    status: u16,
    code: &'static str,
    detail: String,
    challenge: Option<Challenge>,
    retry_after: Option<u64>,
}

impl Problem {
    /// A token that failed verification: 401 with RFC 6750 `invalid_token`.
    pub(crate) fn invalid_token(error: VerifyError) -> Self {
        Self {
            status: error.http_status(),
            code: error.code(),
            detail: error.to_string(),
            challenge: Some(Challenge::for_verify(error)),
            retry_after: None,
        }
    }

    /// A request the route rules refuse: 401 `missing_token` (with a bare
    /// `Bearer` challenge, RFC 6750 section 3.1), 403 `insufficient_role` or
    /// `insufficient_permission` (`insufficient_scope`), 403 `route_denied`.
    pub(crate) fn access(error: AccessError) -> Self {
        Self {
            status: error.http_status(),
            code: error.code(),
            detail: error.to_string(),
            challenge: Challenge::for_access(error),
            retry_after: None,
        }
    }

    /// A cookie-authenticated unsafe request from an origin not allowed:
    /// 403 `csrf_rejected` (no challenge: a token would not help).
    pub(crate) fn csrf(error: CsrfError) -> Self {
        Self::internal(error.http_status(), error.code(), error.to_string())
    }

    /// A missing or invalid setting: 500 `config_error`. The detail names
    /// the setting only, never its value or the parser's message (those go
    /// to the log).
    pub(crate) fn config(error: &ConfigError) -> Self {
        Self::internal(500, "config_error", error.public_detail())
    }

    /// The key set could not be fetched and no usable one is held (none
    /// yet, or the last one is older than `EDGEAUTH_JWKS_MAX_STALENESS`):
    /// 503 `jwks_unavailable`, to be retried shortly.
    pub(crate) fn jwks_unavailable(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::internal(
                503,
                "jwks_unavailable",
                "the signing keys could not be fetched".to_owned(),
            )
        }
    }

    /// A revocation feed is configured but none may be relied on (none
    /// fetched yet, or the last good one is older than
    /// `EDGEAUTH_REVOCATIONS_MAX_STALENESS`) and no fetch succeeded: 503
    /// `revocations_unavailable` on protected routes (fail closed).
    pub(crate) fn revocations_unavailable(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::internal(
                503,
                "revocations_unavailable",
                "the revocation list could not be fetched".to_owned(),
            )
        }
    }

    /// The origin could not be reached: 502 `bad_gateway`.
    pub(crate) fn bad_gateway() -> Self {
        Self::internal(
            502,
            "bad_gateway",
            "the origin could not be reached".to_owned(),
        )
    }

    /// Anything else that went wrong in the gate: 500 `internal_error`.
    pub(crate) fn internal_error() -> Self {
        Self::internal(500, "internal_error", "internal error".to_owned())
    }

    fn internal(status: u16, code: &'static str, detail: String) -> Self {
        Self {
            status,
            code,
            detail,
            challenge: None,
            retry_after: None,
        }
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    #[cfg(test)]
    /// The stable, machine-readable code.
    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    /// The `WWW-Authenticate` challenge, for 401 and 403 answers.
    pub(crate) fn www_authenticate(&self) -> Option<String> {
        self.challenge.map(|c| c.header_value())
    }

    /// The `Retry-After` delay in seconds, when retrying makes sense.
    pub(crate) fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// The response body: `{"type", "title", "status", "detail", "code"}`.
    pub(crate) fn to_json(&self) -> String {
        edgeauth_core::Problem::new(self.code, self.status, &self.detail).to_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(p: &Problem) -> serde_json::Value {
        serde_json::from_str(&p.to_json()).unwrap()
    }

    #[test]
    fn invalid_token_is_401_with_the_core_code_and_a_challenge() {
        for error in VerifyError::ALL {
            let p = Problem::invalid_token(error);
            assert_eq!(p.status(), 401);
            assert_eq!(p.code(), error.code());
            let challenge = p.www_authenticate().unwrap();
            assert!(
                challenge.starts_with("Bearer realm=\"edgeauth\", error=\"invalid_token\""),
                "{challenge}"
            );
            let body = json(&p);
            assert_eq!(body["type"], format!("urn:edgeauth:error:{}", error.code()));
            assert_eq!(body["code"], error.code());
            assert_eq!(body["status"], 401);
            assert_eq!(body["title"], "Unauthorized");
        }
    }

    #[test]
    fn access_errors() {
        let cases = [
            (
                AccessError::MissingToken,
                401,
                Some("Bearer realm=\"edgeauth\""),
            ),
            (
                AccessError::InsufficientRole,
                403,
                Some("Bearer realm=\"edgeauth\", error=\"insufficient_scope\""),
            ),
            (
                AccessError::InsufficientPermission,
                403,
                Some("Bearer realm=\"edgeauth\", error=\"insufficient_scope\""),
            ),
            (AccessError::RouteDenied, 403, None),
        ];
        for (error, status, challenge) in cases {
            let p = Problem::access(error);
            assert_eq!((p.status(), p.code()), (status, error.code()));
            assert_eq!(p.www_authenticate().as_deref(), challenge);
            assert_eq!(json(&p)["status"], status);
        }
    }

    #[test]
    fn csrf_is_403_without_a_challenge() {
        let p = Problem::csrf(CsrfError::Rejected);
        assert_eq!((p.status(), p.code()), (403, "csrf_rejected"));
        assert_eq!(p.www_authenticate(), None);
        assert_eq!(json(&p)["type"], "urn:edgeauth:error:csrf_rejected");
    }

    #[test]
    fn config_errors_name_the_setting_only() {
        let error = crate::config::ConfigError::invalid(
            crate::config::ROUTES,
            "invalid route rule 0: unknown key \"secret-value\"",
        );
        let p = Problem::config(&error);
        assert_eq!((p.status(), p.code()), (500, "config_error"));
        assert_eq!(json(&p)["detail"], "setting EDGEAUTH_ROUTES is invalid");
        assert!(!p.to_json().contains("secret-value"));
    }

    #[test]
    fn internal_answers_are_generic() {
        let p = Problem::jwks_unavailable(5);
        assert_eq!(
            (p.status(), p.code(), p.retry_after()),
            (503, "jwks_unavailable", Some(5))
        );
        let p = Problem::revocations_unavailable(2);
        assert_eq!(
            (p.status(), p.code(), p.retry_after()),
            (503, "revocations_unavailable", Some(2))
        );
        assert_eq!(p.www_authenticate(), None);
        assert_eq!(Problem::bad_gateway().status(), 502);
        let p = Problem::internal_error();
        assert_eq!(json(&p)["detail"], "internal error");
        assert_eq!(json(&p)["type"], "urn:edgeauth:error:internal_error");
        assert_eq!(json(&p)["title"], "Internal Server Error");
        assert_eq!(p.www_authenticate(), None);
    }
}
