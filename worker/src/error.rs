//! The gate's answers when it does not forward: RFC 9457 problem details.
//!
//! Every denial and every failure of the gate itself is a [`Problem`] with a
//! stable `code`; the Worker glue turns it into an HTTP response. Internal
//! failures carry a generic detail only: the real error is logged by the
//! glue, never sent to the client.

use core::fmt::Write as _;

use edgeauth_core::{AccessError, VerifyError};

use crate::config::ConfigError;

/// The media type of every answer the gate makes itself.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An answer from the gate itself (RFC 9457 problem details).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    status: u16,
    code: &'static str,
    detail: String,
    www_authenticate: Option<String>,
    retry_after: Option<u64>,
}

impl Problem {
    /// A token that failed verification: 401 with RFC 6750 `invalid_token`.
    pub fn invalid_token(error: VerifyError) -> Self {
        let mut challenge = String::from("Bearer error=\"invalid_token\", error_description=\"");
        // The descriptions are fixed lowercase ASCII words: nothing to escape.
        let _ = write!(challenge, "{error}\"");
        Self {
            status: error.http_status(),
            code: error.code(),
            detail: error.to_string(),
            www_authenticate: Some(challenge),
            retry_after: None,
        }
    }

    /// A request the route rules refuse: 401 `missing_token` (with a bare
    /// `Bearer` challenge, RFC 6750 section 3.1), 403 `insufficient_role` or
    /// `insufficient_permission` (`insufficient_scope`), 403 `route_denied`.
    pub fn access(error: AccessError) -> Self {
        let www_authenticate = match error {
            AccessError::MissingToken => Some("Bearer".to_owned()),
            AccessError::InsufficientRole | AccessError::InsufficientPermission => {
                Some("Bearer error=\"insufficient_scope\"".to_owned())
            }
            _ => None,
        };
        Self {
            status: error.http_status(),
            code: error.code(),
            detail: error.to_string(),
            www_authenticate,
            retry_after: None,
        }
    }

    /// A missing or invalid setting: 500 `config_error`, naming the setting.
    pub fn config(error: &ConfigError) -> Self {
        Self::internal(500, "config_error", error.to_string())
    }

    /// The key set could not be fetched and no earlier one is held: 503
    /// `jwks_unavailable`, to be retried shortly.
    pub fn jwks_unavailable(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::internal(
                503,
                "jwks_unavailable",
                "the signing keys could not be fetched".to_owned(),
            )
        }
    }

    /// The origin could not be reached: 502 `bad_gateway`.
    pub fn bad_gateway() -> Self {
        Self::internal(
            502,
            "bad_gateway",
            "the origin could not be reached".to_owned(),
        )
    }

    /// Anything else that went wrong in the gate: 500 `internal_error`.
    pub fn internal_error() -> Self {
        Self::internal(500, "internal_error", "internal error".to_owned())
    }

    fn internal(status: u16, code: &'static str, detail: String) -> Self {
        Self {
            status,
            code,
            detail,
            www_authenticate: None,
            retry_after: None,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The `WWW-Authenticate` challenge, for 401 and 403 answers.
    pub fn www_authenticate(&self) -> Option<&str> {
        self.www_authenticate.as_deref()
    }

    /// The `Retry-After` delay in seconds, when retrying makes sense.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// The response body: `{"type", "title", "status", "detail", "code"}`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(128);
        out.push_str("{\"type\":\"about:blank\",\"title\":");
        push_json_string(&mut out, title(self.status));
        let _ = write!(out, ",\"status\":{},\"detail\":", self.status);
        push_json_string(&mut out, &self.detail);
        out.push_str(",\"code\":");
        push_json_string(&mut out, self.code);
        out.push('}');
        out
    }
}

/// The reason phrase, as RFC 9457 asks of `about:blank` problems.
fn title(status: u16) -> &'static str {
    match status {
        401 => "Unauthorized",
        403 => "Forbidden",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
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
                challenge.starts_with("Bearer error=\"invalid_token\""),
                "{challenge}"
            );
            let body = json(&p);
            assert_eq!(body["code"], error.code());
            assert_eq!(body["status"], 401);
            assert_eq!(body["title"], "Unauthorized");
        }
    }

    #[test]
    fn access_errors() {
        let cases = [
            (AccessError::MissingToken, 401, Some("Bearer")),
            (
                AccessError::InsufficientRole,
                403,
                Some("Bearer error=\"insufficient_scope\""),
            ),
            (
                AccessError::InsufficientPermission,
                403,
                Some("Bearer error=\"insufficient_scope\""),
            ),
            (AccessError::RouteDenied, 403, None),
        ];
        for (error, status, challenge) in cases {
            let p = Problem::access(error);
            assert_eq!((p.status(), p.code()), (status, error.code()));
            assert_eq!(p.www_authenticate(), challenge);
            assert_eq!(json(&p)["status"], status);
        }
    }

    #[test]
    fn internal_answers_are_generic() {
        let p = Problem::jwks_unavailable(5);
        assert_eq!(
            (p.status(), p.code(), p.retry_after()),
            (503, "jwks_unavailable", Some(5))
        );
        assert_eq!(Problem::bad_gateway().status(), 502);
        let p = Problem::internal_error();
        assert_eq!(json(&p)["detail"], "internal error");
        assert_eq!(p.www_authenticate(), None);
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\n\u{1}é");
        assert_eq!(out, r#""a\"b\\c\u000a\u0001é""#);
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "a\"b\\c\n\u{1}é");
    }
}
