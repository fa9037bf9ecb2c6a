//! The one application error and its RFC 9457 problem+json rendering.
//!
//! Client mistakes get their own status and stable `code`; internal errors
//! are logged once, here, and the client gets a generic detail.

use core::fmt;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
/// The media type of every error body.
pub use edgeauth_core::PROBLEM_JSON;
use edgeauth_core::{AccessError, Challenge, Extension, VerifyError};

/// A failed request: what the client is told, and for internal errors what
/// is logged.
#[derive(Debug)]
#[non_exhaustive]
pub enum AppError {
    /// 400: the request is malformed (bad JSON or form syntax, missing field).
    BadRequest {
        /// Stable code, e.g. `invalid_request`.
        code: &'static str,
        /// Human-readable detail.
        detail: String,
    },
    /// 422: well-formed but unacceptable input.
    Unprocessable {
        /// Stable code, e.g. `invalid_email`.
        code: &'static str,
        /// Human-readable detail.
        detail: String,
    },
    /// 422 `weak_password`, with the rules that failed.
    WeakPassword(Vec<&'static str>),
    /// 401 `missing_token`: no access token at all.
    MissingToken,
    /// 401: the access token failed verification (core's code).
    InvalidToken(VerifyError),
    /// 401 `invalid_credentials`: unknown email or wrong password, alike.
    InvalidCredentials,
    /// 401 `invalid_refresh_token`.
    InvalidRefreshToken,
    /// 401 `refresh_token_reused`: the family has been revoked.
    RefreshTokenReused,
    /// 403 `csrf_rejected`: a cookie-authenticated state change from an
    /// origin that is not allowed.
    CsrfRejected,
    /// 401 or 403 with the core's authorization code (`missing_token`,
    /// `insufficient_permission`, ...).
    Access(AccessError),
    /// 409 with a code (`role_in_use`).
    Conflict(&'static str),
    /// 403 `email_not_verified`: the password is right, but sign-in needs
    /// a verified address (`REQUIRE_EMAIL_VERIFICATION`).
    EmailNotVerified,
    /// 404 with a code (`not_found`, `session_not_found`).
    NotFound(&'static str),
    /// 409 `email_taken`.
    EmailTaken,
    /// 413 `payload_too_large`.
    PayloadTooLarge,
    /// 415 `unsupported_media_type`.
    UnsupportedMediaType(&'static str),
    /// 408 `request_timeout`: the request's body did not arrive in time.
    RequestTimeout,
    /// 429 `too_many_attempts`, with Retry-After seconds.
    TooManyAttempts(u64),
    /// 503 `server_busy`: password hashing is saturated; Retry-After seconds.
    Busy(u64),
    /// 503 `database_unavailable`: the database cannot be reached for now.
    /// Logged, with Retry-After.
    Unavailable(Box<dyn core::error::Error + Send + Sync>),
    /// 500: anything that is our fault. Logged, never shown.
    Internal(Box<dyn core::error::Error + Send + Sync>),
}

impl AppError {
    /// A 400 `invalid_request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code: "invalid_request",
            detail: detail.into(),
        }
    }

    /// A 500 from any error.
    pub fn internal(e: impl Into<Box<dyn core::error::Error + Send + Sync>>) -> Self {
        Self::Internal(e.into())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unprocessable { .. } | Self::WeakPassword(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::MissingToken
            | Self::InvalidToken(_)
            | Self::InvalidCredentials
            | Self::InvalidRefreshToken
            | Self::RefreshTokenReused => StatusCode::UNAUTHORIZED,
            Self::CsrfRejected | Self::EmailNotVerified => StatusCode::FORBIDDEN,
            Self::Access(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::FORBIDDEN)
            }
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::EmailTaken => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy(_) | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } | Self::Unprocessable { code, .. } => code,
            Self::WeakPassword(_) => "weak_password",
            Self::MissingToken => "missing_token",
            Self::InvalidToken(e) => e.code(),
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidRefreshToken => "invalid_refresh_token",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::CsrfRejected => "csrf_rejected",
            Self::Access(e) => e.code(),
            Self::Conflict(code) => code,
            Self::EmailNotVerified => "email_not_verified",
            Self::NotFound(code) => code,
            Self::EmailTaken => "email_taken",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RequestTimeout => "request_timeout",
            Self::TooManyAttempts(_) => "too_many_attempts",
            Self::Busy(_) => "server_busy",
            Self::Unavailable(_) => "database_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::BadRequest { detail, .. } | Self::Unprocessable { detail, .. } => detail.clone(),
            Self::WeakPassword(rules) => {
                format!("the password breaks these rules: {}", rules.join(", "))
            }
            Self::MissingToken => {
                "no access token: send Authorization: Bearer or the session cookie".into()
            }
            Self::InvalidToken(e) => e.to_string(),
            Self::InvalidCredentials => "the email or password is wrong".into(),
            Self::InvalidRefreshToken => "the refresh token is not valid".into(),
            Self::RefreshTokenReused => {
                "the refresh token was already used; the session has been revoked".into()
            }
            Self::CsrfRejected => {
                "a cookie-authenticated request must come from an allowed Origin".into()
            }
            Self::Access(AccessError::MissingToken) => {
                "no access token: send Authorization: Bearer or the session cookie".into()
            }
            Self::Access(e) => format!("{e}: the token does not grant this"),
            Self::Conflict(_) => "the role is granted to a user or inherited by a role".into(),
            Self::EmailNotVerified => {
                "the email address is not verified: follow the link in the verification mail".into()
            }
            Self::NotFound(_) => "not found".into(),
            Self::EmailTaken => "an account with this email already exists".into(),
            Self::PayloadTooLarge => "the request body is too large".into(),
            Self::UnsupportedMediaType(expected) => format!("expected {expected}"),
            Self::RequestTimeout => "the request body did not arrive in time".into(),
            Self::TooManyAttempts(_) => "too many attempts; try again later".into(),
            Self::Busy(_) => "the server is busy; try again shortly".into(),
            Self::Unavailable(_) => "the database is unavailable; try again shortly".into(),
            Self::Internal(_) => "an internal error occurred".into(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyAttempts(s) | Self::Busy(s) => Some((*s).max(1)),
            Self::Unavailable(_) => Some(1),
            _ => None,
        }
    }

    /// The RFC 6749 section 5.2 `error` the token endpoint adds.
    fn oauth_error(&self) -> &'static str {
        match self {
            Self::InvalidCredentials | Self::InvalidRefreshToken | Self::RefreshTokenReused => {
                "invalid_grant"
            }
            Self::BadRequest { code, .. } if *code == "unsupported_grant_type" => {
                "unsupported_grant_type"
            }
            Self::TooManyAttempts(_) | Self::Busy(_) | Self::Unavailable(_) => {
                "temporarily_unavailable"
            }
            Self::Internal(_) => "server_error",
            _ => "invalid_request",
        }
    }

    /// The response of the token endpoint: RFC 6749's `error` and
    /// `error_description` added, and a failed refresh grant answered 400.
    pub fn into_token_response(self) -> Response {
        self.log();
        let refresh_failure = matches!(self, Self::InvalidRefreshToken | Self::RefreshTokenReused);
        let oauth = self.oauth_error();
        let mut problem = self.problem();
        if refresh_failure {
            problem.status = StatusCode::BAD_REQUEST.as_u16();
        }
        problem.error = Some(oauth);
        problem.error_description = Some(problem.detail.clone());
        let mut response = problem.into_response_with(&self);
        if refresh_failure {
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response.headers_mut().remove(header::WWW_AUTHENTICATE);
        }
        response
    }

    fn problem(&self) -> Problem {
        Problem {
            status: self.status().as_u16(),
            detail: self.detail(),
            code: self.code(),
            failed_rules: match self {
                Self::WeakPassword(rules) => Some(rules.clone()),
                _ => None,
            },
            error: None,
            error_description: None,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Internal(e) => write!(f, "internal error: {e}"),
            other => write!(f, "{}: {}", other.code(), other.detail()),
        }
    }
}

impl core::error::Error for AppError {}

/// An RFC 9457 problem document, rendered by the core (as the gate renders
/// its own): `type` `urn:edgeauth:error:<code>`, `title` the status's reason
/// phrase, `status`, `detail`, `code`, then the extension members present.
#[derive(Debug)]
pub(crate) struct Problem {
    status: u16,
    detail: String,
    code: &'static str,
    failed_rules: Option<Vec<&'static str>>,
    error: Option<&'static str>,
    error_description: Option<String>,
}

impl Problem {
    /// A problem for a bare status (from axum or tower), by status alone.
    pub(crate) fn for_status(status: StatusCode) -> Response {
        let error = match status {
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                AppError::UnsupportedMediaType("another content type")
            }
            StatusCode::NOT_FOUND => AppError::NotFound("not_found"),
            StatusCode::REQUEST_TIMEOUT => AppError::RequestTimeout,
            StatusCode::METHOD_NOT_ALLOWED => AppError::BadRequest {
                code: "method_not_allowed",
                detail: "this method is not allowed here".into(),
            },
            StatusCode::UNPROCESSABLE_ENTITY => AppError::Unprocessable {
                code: "invalid_body",
                detail: "the request body is not acceptable".into(),
            },
            s if s.is_client_error() => AppError::bad_request("the request is malformed"),
            _ => AppError::Internal("unreachable: not logged".into()),
        };
        let mut problem = error.problem();
        problem.status = status.as_u16();
        problem.into_response_with(&error)
    }

    fn to_json(&self) -> String {
        let mut extensions = Vec::with_capacity(3);
        if let Some(rules) = &self.failed_rules {
            extensions.push(("failed_rules", Extension::Strs(rules)));
        }
        if let Some(error) = self.error {
            extensions.push(("error", Extension::Str(error)));
        }
        if let Some(description) = &self.error_description {
            extensions.push(("error_description", Extension::Str(description)));
        }
        edgeauth_core::Problem::new(self.code, self.status, &self.detail).to_json_with(&extensions)
    }

    fn into_response_with(self, error: &AppError) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.to_json();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(seconds) = error.retry_after()
            && let Ok(v) = HeaderValue::from_str(&seconds.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            let challenge = match error {
                AppError::MissingToken | AppError::Access(AccessError::MissingToken) => {
                    Challenge::Bearer
                }
                AppError::InvalidToken(e) => Challenge::for_verify(*e),
                _ => Challenge::InvalidToken(None),
            };
            if let Ok(v) = HeaderValue::from_str(&challenge.header_value()) {
                headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        response
    }
}

impl AppError {
    /// Logs an internal error, once, where it becomes a response.
    fn log(&self) {
        match self {
            Self::Internal(e) => tracing::error!(error = %e, "internal error"),
            Self::Unavailable(e) => tracing::error!(error = %e, "database unavailable"),
            _ => {}
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        self.problem().into_response_with(&self)
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(_) => Self::Unavailable(Box::new(e)),
            e => Self::internal(e),
        }
    }
}

/// An administrative refusal as an HTTP answer.
impl From<crate::auth::admin::AdminError> for AppError {
    fn from(e: crate::auth::admin::AdminError) -> Self {
        use crate::auth::admin::AdminError as E;
        match e {
            E::Account(e) => e.into(),
            E::Store(e) => e.into(),
            E::NoSuchUser(_) | E::UserNotFound => Self::NotFound("user_not_found"),
            E::RoleNotFound => Self::NotFound("role_not_found"),
            E::RoleInUse => Self::Conflict("role_in_use"),
            E::InvalidPage(_) => Self::bad_request(e.to_string()),
            e => Self::Unprocessable {
                code: e.code(),
                detail: e.to_string(),
            },
        }
    }
}

/// The one place where a domain error of `auth` becomes an HTTP answer;
/// every code and status is what the endpoints have always answered.
impl From<crate::auth::AuthError> for AppError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError as E;
        match e {
            E::EmailTaken => Self::EmailTaken,
            E::WeakPassword(rules) => Self::WeakPassword(rules),
            E::InvalidEmail => Self::Unprocessable {
                code: "invalid_email",
                detail: "the email address is not valid".into(),
            },
            E::InvalidName => Self::Unprocessable {
                code: "invalid_name",
                detail: "the name must be at most 200 characters, without control characters"
                    .into(),
            },
            E::InvalidCredentials => Self::InvalidCredentials,
            E::TooManyAttempts(retry) => Self::TooManyAttempts(retry),
            E::Busy(retry) => Self::Busy(retry),
            E::InvalidRefreshToken => Self::InvalidRefreshToken,
            E::RefreshTokenReused => Self::RefreshTokenReused,
            E::SessionNotFound => Self::NotFound("session_not_found"),
            E::InvalidToken(e) => Self::InvalidToken(e),
            E::InvalidMailToken => Self::BadRequest {
                code: "invalid_token",
                detail: "the link is not valid: unknown, already used, or for another purpose"
                    .into(),
            },
            E::MailTokenExpired => Self::BadRequest {
                code: "token_expired",
                detail: "the link has expired: ask for a new one".into(),
            },
            E::EmailNotVerified => Self::EmailNotVerified,
            E::Store(e) => e.into(),
            E::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<crate::secret::RandomError> for AppError {
    fn from(e: crate::secret::RandomError) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire contract: each error's status and code.
    #[test]
    fn codes_and_statuses_are_pinned() {
        let cases: Vec<(AppError, u16, &str)> = vec![
            (AppError::bad_request("x"), 400, "invalid_request"),
            (
                AppError::WeakPassword(vec!["too_short"]),
                422,
                "weak_password",
            ),
            (AppError::MissingToken, 401, "missing_token"),
            (AppError::InvalidToken(VerifyError::Expired), 401, "expired"),
            (AppError::InvalidToken(VerifyError::Revoked), 401, "revoked"),
            (AppError::InvalidCredentials, 401, "invalid_credentials"),
            (AppError::InvalidRefreshToken, 401, "invalid_refresh_token"),
            (AppError::RefreshTokenReused, 401, "refresh_token_reused"),
            (AppError::CsrfRejected, 403, "csrf_rejected"),
            (AppError::EmailNotVerified, 403, "email_not_verified"),
            (
                AppError::NotFound("session_not_found"),
                404,
                "session_not_found",
            ),
            (AppError::EmailTaken, 409, "email_taken"),
            (AppError::PayloadTooLarge, 413, "payload_too_large"),
            (
                AppError::UnsupportedMediaType("x"),
                415,
                "unsupported_media_type",
            ),
            (AppError::RequestTimeout, 408, "request_timeout"),
            (AppError::TooManyAttempts(5), 429, "too_many_attempts"),
            (AppError::Busy(1), 503, "server_busy"),
            (
                AppError::Unavailable("connection refused".into()),
                503,
                "database_unavailable",
            ),
            (AppError::internal("boom"), 500, "internal_error"),
            (
                AppError::Access(AccessError::MissingToken),
                401,
                "missing_token",
            ),
            (
                AppError::Access(AccessError::InsufficientPermission),
                403,
                "insufficient_permission",
            ),
            (AppError::NotFound("user_not_found"), 404, "user_not_found"),
            (AppError::NotFound("role_not_found"), 404, "role_not_found"),
            (AppError::Conflict("role_in_use"), 409, "role_in_use"),
            (
                AppError::Unprocessable {
                    code: "invalid_password_hash",
                    detail: String::new(),
                },
                422,
                "invalid_password_hash",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!((error.status().as_u16(), error.code()), (status, code));
        }
    }

    /// Each domain error of `auth` becomes the answer it always was.
    #[test]
    fn auth_errors_keep_their_status_and_code() {
        use crate::{auth::AuthError, store::StoreError};
        let cases: Vec<(AuthError, u16, &str)> = vec![
            (AuthError::EmailTaken, 409, "email_taken"),
            (
                AuthError::WeakPassword(vec!["too_short"]),
                422,
                "weak_password",
            ),
            (AuthError::InvalidEmail, 422, "invalid_email"),
            (AuthError::InvalidName, 422, "invalid_name"),
            (AuthError::InvalidCredentials, 401, "invalid_credentials"),
            (AuthError::TooManyAttempts(7), 429, "too_many_attempts"),
            (AuthError::Busy(1), 503, "server_busy"),
            (AuthError::InvalidRefreshToken, 401, "invalid_refresh_token"),
            (AuthError::RefreshTokenReused, 401, "refresh_token_reused"),
            (AuthError::SessionNotFound, 404, "session_not_found"),
            (AuthError::InvalidMailToken, 400, "invalid_token"),
            (AuthError::MailTokenExpired, 400, "token_expired"),
            (AuthError::EmailNotVerified, 403, "email_not_verified"),
            (
                AuthError::InvalidToken(VerifyError::Revoked),
                401,
                "revoked",
            ),
            (
                AuthError::Store(StoreError::Unavailable("down".into())),
                503,
                "database_unavailable",
            ),
            (
                AuthError::Store(StoreError::Conflict),
                500,
                "internal_error",
            ),
            (AuthError::internal("boom"), 500, "internal_error"),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.code(), code);
            let app = AppError::from(error);
            assert_eq!((app.status().as_u16(), app.code()), (status, code));
        }
        let weak = AppError::from(AuthError::WeakPassword(vec!["too_short"])).problem();
        assert_eq!(weak.failed_rules, Some(vec!["too_short"]));
        let retry = AppError::from(AuthError::TooManyAttempts(7)).into_response();
        assert_eq!(retry.headers()[header::RETRY_AFTER], "7");
        let email = AppError::from(AuthError::InvalidEmail);
        assert_eq!(email.detail(), "the email address is not valid");
    }

    #[test]
    fn shedding_carries_retry_after_and_internals_stay_hidden() {
        let busy = AppError::Busy(1).into_response();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
        assert_eq!(busy.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let internal = AppError::internal("database password is hunter2").problem();
        assert_eq!(internal.detail, "an internal error occurred");
        let body: serde_json::Value = serde_json::from_str(&internal.to_json()).unwrap();
        assert_eq!(body["type"], "urn:edgeauth:error:internal_error");
        assert_eq!(body["title"], "Internal Server Error");
        let token = AppError::RefreshTokenReused.into_token_response();
        assert_eq!(token.status(), StatusCode::BAD_REQUEST);
        assert!(token.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
