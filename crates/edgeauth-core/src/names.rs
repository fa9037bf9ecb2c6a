//! Role and permission names: their grammar, and what a granted permission
//! covers. One definition for everyone who names them: route rules and
//! requirements (this crate), the issuing server's role definitions, and the
//! npm package.
//!
//! - A role is any non-empty name without `*`: tokens carry roles expanded,
//!   so a role is matched by equality and a `*` in one could never be
//!   required by a rule.
//! - A permission is `*`, or dot-separated non-empty segments of which only
//!   the last may be `*` (`articles.read`, `articles.*`, `a.b.*`).

use crate::error::NameError;

/// Checks a role name: not empty, no `*`.
pub fn check_role_name(role: &str) -> Result<(), NameError> {
    if role.is_empty() {
        Err(NameError::EmptyRole)
    } else if role.contains('*') {
        Err(NameError::WildcardInRole)
    } else {
        Ok(())
    }
}

/// Checks a permission name: `*`, or dot-separated non-empty segments of
/// which only the last may be `*`.
pub fn check_permission_name(perm: &str) -> Result<(), NameError> {
    if perm.is_empty() {
        return Err(NameError::EmptyPermission);
    }
    let mut segments = perm.split('.').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if segment.is_empty() {
            return Err(NameError::EmptySegment);
        }
        if segment.contains('*') && !(last && segment == "*") {
            return Err(NameError::MisplacedWildcard);
        }
    }
    Ok(())
}

/// Whether any of `granted` covers `required`: `*` covers everything,
/// `a.*` covers `a.b` and `a.b.c` but not `a`, and anything covers itself.
pub fn grants<S: AsRef<str>>(granted: &[S], required: &str) -> bool {
    granted.iter().any(|grant| {
        let grant = grant.as_ref();
        grant == "*"
            || grant == required
            || grant.strip_suffix(".*").is_some_and(|resource| {
                required
                    .strip_prefix(resource)
                    .and_then(|rest| rest.strip_prefix('.'))
                    .is_some_and(|action| !action.is_empty())
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_wildcards() {
        let granted = ["articles.*", "users.read"];
        for (perm, want) in [
            ("articles.read", true),
            ("articles.comments.write", true),
            ("articles.*", true),
            ("articles", false),
            ("articlesx.read", false),
            ("users.read", true),
            ("users.write", false),
            ("users.*", false),
        ] {
            assert_eq!(grants(&granted, perm), want, "{perm}");
        }
        assert!(grants(&["*"], "anything.at.all"));
        assert!(!grants::<&str>(&[], "a.b"));
    }

    #[test]
    fn permission_names() {
        for ok in ["*", "a", "a.b", "a.*", "a.b.*", "users:read"] {
            assert_eq!(check_permission_name(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", NameError::EmptyPermission),
            (".", NameError::EmptySegment),
            ("a.", NameError::EmptySegment),
            (".a", NameError::EmptySegment),
            ("a..b", NameError::EmptySegment),
            ("a*", NameError::MisplacedWildcard),
            ("*.a", NameError::MisplacedWildcard),
            ("a.*.b", NameError::MisplacedWildcard),
            ("a.b*", NameError::MisplacedWildcard),
            ("**", NameError::MisplacedWildcard),
        ] {
            assert_eq!(check_permission_name(bad), Err(why), "{bad}");
        }
    }

    #[test]
    fn role_names() {
        for ok in ["admin", "a.b", "org:owner", " spaced "] {
            assert_eq!(check_role_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_role_name(""), Err(NameError::EmptyRole));
        for bad in ["adm*", "*", "a.*"] {
            assert_eq!(
                check_role_name(bad),
                Err(NameError::WildcardInRole),
                "{bad}"
            );
        }
    }
}
