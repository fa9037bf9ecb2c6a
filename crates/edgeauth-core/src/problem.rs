//! How an HTTP answer reports a failure: one RFC 9457 problem+json rendering
//! and one RFC 6750 `WWW-Authenticate` challenge, for the issuing server and
//! the edge gate alike.
//!
//! A problem is `{"type": "urn:edgeauth:error:<code>", "title": <the
//! status's reason phrase>, "status": <status>, "detail": ..., "code":
//! <code>}`, optionally followed by extension members (the server's token
//! endpoint adds RFC 6749's `error` and `error_description`).

use alloc::string::String;

use crate::{
    error::{AccessError, VerifyError},
    json,
};

/// The media type of every problem answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The prefix of every problem `type`; the code follows.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:edgeauth:error:";

/// The `realm` of every `Bearer` challenge.
pub const REALM: &str = "edgeauth";

/// The problem `type` of a code: `urn:edgeauth:error:<code>`.
pub fn problem_type(code: &str) -> String {
    let mut out = String::with_capacity(PROBLEM_TYPE_PREFIX.len() + code.len());
    out.push_str(PROBLEM_TYPE_PREFIX);
    out.push_str(code);
    out
}

/// The problem `title` of a status: its reason phrase (RFC 9110), or
/// `Error` for a status without one.
pub const fn status_title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "Error",
    }
}

/// A problem document: the five members every answer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Problem<'a> {
    code: &'a str,
    status: u16,
    detail: &'a str,
}

/// The value of an extension member of a [`Problem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Extension<'a> {
    /// A JSON string.
    Str(&'a str),
    /// A JSON array of strings.
    Strs(&'a [&'a str]),
}

impl<'a> Problem<'a> {
    /// A problem with its stable code, HTTP status and human-readable detail.
    pub const fn new(code: &'a str, status: u16, detail: &'a str) -> Self {
        Self {
            code,
            status,
            detail,
        }
    }

    /// The stable code.
    pub const fn code(&self) -> &'a str {
        self.code
    }

    /// The HTTP status.
    pub const fn status(&self) -> u16 {
        self.status
    }

    /// The body: `{"type","title","status","detail","code"}`.
    pub fn to_json(&self) -> String {
        self.to_json_with(&[])
    }

    /// The body with extension members after the five standard ones, in
    /// the order given.
    pub fn to_json_with(&self, extensions: &[(&str, Extension<'_>)]) -> String {
        let mut out = String::with_capacity(160 + self.detail.len());
        out.push_str("{\"type\":");
        json::write_string(&mut out, &problem_type(self.code));
        out.push_str(",\"title\":");
        json::write_string(&mut out, status_title(self.status));
        out.push_str(",\"status\":");
        json::write_uint(&mut out, u64::from(self.status));
        out.push_str(",\"detail\":");
        json::write_string(&mut out, self.detail);
        out.push_str(",\"code\":");
        json::write_string(&mut out, self.code);
        for (name, value) in extensions {
            out.push(',');
            json::write_string(&mut out, name);
            out.push(':');
            match value {
                Extension::Str(s) => json::write_string(&mut out, s),
                Extension::Strs(list) => json::write_strings(&mut out, list),
            }
        }
        out.push('}');
        out
    }
}

/// An RFC 6750 `WWW-Authenticate` challenge of the `Bearer` scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Challenge {
    /// No credentials at all (section 3.1: no error code).
    Bearer,
    /// Credentials that are not good: `invalid_token`, with the core's
    /// description when the failure is a verification error.
    InvalidToken(Option<VerifyError>),
    /// A good token without the role or permission asked for.
    InsufficientScope,
}

impl Challenge {
    /// The challenge for a failed verification.
    pub const fn for_verify(error: VerifyError) -> Self {
        Self::InvalidToken(Some(error))
    }

    /// The challenge for an access decision, if it has one: `missing_token`
    /// a bare challenge, `insufficient_role` and `insufficient_permission`
    /// `insufficient_scope`, `route_denied` none (no token would help).
    pub const fn for_access(error: AccessError) -> Option<Self> {
        match error {
            AccessError::MissingToken => Some(Self::Bearer),
            AccessError::InsufficientRole | AccessError::InsufficientPermission => {
                Some(Self::InsufficientScope)
            }
            AccessError::RouteDenied => None,
        }
    }

    /// The header value, e.g. `Bearer realm="edgeauth", error="invalid_token",
    /// error_description="token expired"`. The descriptions are the core's
    /// fixed lowercase texts: nothing in them needs quoting.
    pub fn header_value(&self) -> String {
        let mut out = String::with_capacity(96);
        out.push_str("Bearer realm=\"");
        out.push_str(REALM);
        out.push('"');
        let (error, description) = match self {
            Self::Bearer => (None, None),
            Self::InvalidToken(e) => (Some("invalid_token"), *e),
            Self::InsufficientScope => (Some("insufficient_scope"), None),
        };
        if let Some(error) = error {
            out.push_str(", error=\"");
            out.push_str(error);
            out.push('"');
        }
        if let Some(description) = description {
            use core::fmt::Write as _;
            let _ = write!(out, ", error_description=\"{description}\"");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        let p = Problem::new("expired", 401, "token expired");
        assert_eq!(
            p.to_json(),
            r#"{"type":"urn:edgeauth:error:expired","title":"Unauthorized","status":401,"detail":"token expired","code":"expired"}"#
        );
        let p = Problem::new("weak_password", 422, "say \"more\"\n");
        assert_eq!(
            p.to_json_with(&[
                ("failed_rules", Extension::Strs(&["too_short", "common"])),
                ("error", Extension::Str("invalid_request")),
            ]),
            r#"{"type":"urn:edgeauth:error:weak_password","title":"Unprocessable Entity","status":422,"detail":"say \"more\"\n","code":"weak_password","failed_rules":["too_short","common"],"error":"invalid_request"}"#
        );
        assert_eq!((p.code(), p.status()), ("weak_password", 422));
        assert_eq!(status_title(599), "Error");
    }

    #[test]
    fn challenges() {
        assert_eq!(
            Challenge::Bearer.header_value(),
            r#"Bearer realm="edgeauth""#
        );
        assert_eq!(
            Challenge::for_verify(VerifyError::Expired).header_value(),
            r#"Bearer realm="edgeauth", error="invalid_token", error_description="token expired""#
        );
        assert_eq!(
            Challenge::InvalidToken(None).header_value(),
            r#"Bearer realm="edgeauth", error="invalid_token""#
        );
        assert_eq!(
            Challenge::InsufficientScope.header_value(),
            r#"Bearer realm="edgeauth", error="insufficient_scope""#
        );
        assert_eq!(
            Challenge::for_access(AccessError::MissingToken),
            Some(Challenge::Bearer)
        );
        assert_eq!(
            Challenge::for_access(AccessError::InsufficientPermission),
            Some(Challenge::InsufficientScope)
        );
        assert_eq!(Challenge::for_access(AccessError::RouteDenied), None);
    }
}
