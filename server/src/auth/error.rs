//! The domain error of `auth`: what went wrong in terms of accounts,
//! credentials and sessions. `crate::error` turns it into the HTTP answer.

use core::fmt;

use edgeauth_core::VerifyError;

use crate::{secret::RandomError, store::StoreError};

/// Why an authentication step failed.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum AuthError {
    /// An account with this email already exists.
    EmailTaken,
    /// The password breaks these rules of the password policy.
    WeakPassword(Vec<&'static str>),
    /// The email address is not valid.
    InvalidEmail,
    /// The display name is too long or has control characters.
    InvalidName,
    /// Unknown email or wrong password, alike.
    InvalidCredentials,
    /// Too many failed sign-ins for this email; retry after these seconds.
    TooManyAttempts(u64),
    /// Password hashing is saturated; retry after these seconds.
    Busy(u64),
    /// The refresh token is unknown, malformed, or its session is over.
    InvalidRefreshToken,
    /// A used refresh token came back: its session has been revoked.
    RefreshTokenReused,
    /// The session does not exist (or is not the user's).
    SessionNotFound,
    /// An access token failed verification.
    InvalidToken(VerifyError),
    /// A link sent by mail is unknown, used, or for another purpose.
    InvalidMailToken,
    /// A link sent by mail is past its end of validity.
    MailTokenExpired,
    /// The password is right but the address is not verified, and
    /// `REQUIRE_EMAIL_VERIFICATION` is on.
    EmailNotVerified,
    /// The store failed.
    Store(StoreError),
    /// Anything else that is our fault (keys, hashing, randomness).
    Internal(Box<dyn core::error::Error + Send + Sync>),
}

impl AuthError {
    /// An internal error from anything.
    pub(crate) fn internal(e: impl Into<Box<dyn core::error::Error + Send + Sync>>) -> Self {
        Self::Internal(e.into())
    }

    /// The stable code (the same as the HTTP answer's).
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::EmailTaken => "email_taken",
            Self::WeakPassword(_) => "weak_password",
            Self::InvalidEmail => "invalid_email",
            Self::InvalidName => "invalid_name",
            Self::InvalidCredentials => "invalid_credentials",
            Self::TooManyAttempts(_) => "too_many_attempts",
            Self::Busy(_) => "server_busy",
            Self::InvalidRefreshToken => "invalid_refresh_token",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::SessionNotFound => "session_not_found",
            Self::InvalidToken(e) => e.code(),
            Self::InvalidMailToken => "invalid_token",
            Self::MailTokenExpired => "token_expired",
            Self::EmailNotVerified => "email_not_verified",
            Self::Store(StoreError::Unavailable(_)) => "database_unavailable",
            Self::Store(_) | Self::Internal(_) => "internal_error",
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmailTaken => f.write_str("an account with this email already exists"),
            Self::WeakPassword(rules) => {
                write!(f, "the password breaks these rules: {}", rules.join(", "))
            }
            Self::InvalidEmail => f.write_str("the email address is not valid"),
            Self::InvalidName => {
                f.write_str("the name must be at most 200 characters, without control characters")
            }
            Self::InvalidCredentials => f.write_str("the email or password is wrong"),
            Self::TooManyAttempts(s) => write!(f, "too many attempts; retry in {s} s"),
            Self::Busy(s) => write!(f, "password hashing is busy; retry in {s} s"),
            Self::InvalidRefreshToken => f.write_str("the refresh token is not valid"),
            Self::RefreshTokenReused => f.write_str("the refresh token was already used"),
            Self::SessionNotFound => f.write_str("session not found"),
            Self::InvalidToken(e) => write!(f, "invalid access token: {e}"),
            Self::InvalidMailToken => {
                f.write_str("the link is not valid (unknown, used, or for another purpose)")
            }
            Self::MailTokenExpired => f.write_str("the link has expired"),
            Self::EmailNotVerified => f.write_str("the email address is not verified"),
            Self::Store(e) => write!(f, "store: {e}"),
            Self::Internal(e) => write!(f, "internal error: {e}"),
        }
    }
}

impl core::error::Error for AuthError {}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<RandomError> for AuthError {
    fn from(e: RandomError) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes are those of the HTTP answers they become.
    #[test]
    fn codes_are_pinned() {
        let cases: Vec<(AuthError, &str)> = vec![
            (AuthError::EmailTaken, "email_taken"),
            (AuthError::WeakPassword(vec!["too_short"]), "weak_password"),
            (AuthError::InvalidEmail, "invalid_email"),
            (AuthError::InvalidName, "invalid_name"),
            (AuthError::InvalidCredentials, "invalid_credentials"),
            (AuthError::TooManyAttempts(5), "too_many_attempts"),
            (AuthError::Busy(1), "server_busy"),
            (AuthError::InvalidRefreshToken, "invalid_refresh_token"),
            (AuthError::RefreshTokenReused, "refresh_token_reused"),
            (AuthError::SessionNotFound, "session_not_found"),
            (AuthError::InvalidToken(VerifyError::Expired), "expired"),
            (AuthError::InvalidMailToken, "invalid_token"),
            (AuthError::MailTokenExpired, "token_expired"),
            (AuthError::EmailNotVerified, "email_not_verified"),
            (AuthError::Store(StoreError::Conflict), "internal_error"),
            (AuthError::internal("boom"), "internal_error"),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error}");
        }
    }
}
