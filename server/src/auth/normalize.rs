//! Emails and display names, as users type them, made canonical, so that
//! look-alikes are one account: NFKC, lowercase, and the domain in its IDNA
//! ASCII form (UTS #46). Invisible and bidirectional control characters
//! are refused, never silently kept: `ada\u{200B}@example.com` is not a
//! second Ada, and a name cannot reverse the text around it.

use unicode_normalization::UnicodeNormalization as _;

use super::AuthError;

/// The longest email (RFC 5321's path limit, less the brackets).
const MAX_EMAIL: usize = 254;
/// The longest local part, in bytes (RFC 5321).
const MAX_LOCAL: usize = 64;
/// The longest name, in characters.
const MAX_NAME: usize = 200;

/// The ASCII characters besides letters and digits that an unquoted local
/// part may hold (RFC 5322 `atext`); `.` separates its atoms.
const ATEXT: &str = "!#$%&'*+-/=?^_`{|}~";

/// Characters that change how text around them is shown or that show
/// nothing: bidirectional controls (U+061C, U+200E/F, U+202A..U+202E,
/// U+2066..U+2069), zero-width and invisible operators, the soft hyphen,
/// the byte-order mark, interlinear annotations and tag characters. A name
/// may still hold U+200C/U+200D (ZWNJ, ZWJ), which some scripts and emoji
/// need.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}' | '\u{200E}' | '\u{200F}'
        | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// NFKC, lowercased, NFKC again (lowercasing can undo composition, as
/// `İ` -> `i̇` does).
fn fold(text: &str) -> String {
    text.nfkc()
        .collect::<String>()
        .to_lowercase()
        .nfkc()
        .collect()
}

/// An email as stored and looked up: trimmed, NFKC, lowercase, its domain
/// in IDNA ASCII form. Refused (`invalid_email`): no `@`, an empty or
/// over-long part, a local part with anything but letters, digits, `.`
/// between atoms and RFC 5322's `atext` symbols (so no spaces, quotes,
/// controls, invisible or bidi characters), or a domain that IDNA refuses
/// or that has no dot.
pub(crate) fn email(raw: &str) -> Result<String, AuthError> {
    let folded = fold(raw.trim());
    let (local, domain) = folded.rsplit_once('@').ok_or(AuthError::InvalidEmail)?;
    let local_ok = !local.is_empty()
        && local.len() <= MAX_LOCAL
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .chars()
                    .all(|c| c.is_alphanumeric() || ATEXT.contains(c))
        });
    if !local_ok
        || domain
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c))
    {
        return Err(AuthError::InvalidEmail);
    }
    let domain = idna::domain_to_ascii_strict(domain).map_err(|_| AuthError::InvalidEmail)?;
    let domain_ok = domain.contains('.')
        && domain
            .split('.')
            .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
    let email = format!("{local}@{domain}");
    if !domain_ok || email.len() > MAX_EMAIL {
        return Err(AuthError::InvalidEmail);
    }
    Ok(email)
}

/// A display name as stored: trimmed and NFKC (case kept); none when
/// empty. Refused (`invalid_name`): over 200 characters, or holding
/// control, invisible or bidi characters.
pub(crate) fn name(raw: Option<String>) -> Result<Option<String>, AuthError> {
    let Some(raw) = raw else { return Ok(None) };
    let name: String = raw.trim().nfkc().collect();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > MAX_NAME || name.chars().any(|c| c.is_control() || is_invisible(c)) {
        return Err(AuthError::InvalidName);
    }
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn look_alike_emails_are_one() {
        let same = |a: &str, b: &str| assert_eq!(email(a).unwrap(), email(b).unwrap(), "{a} {b}");
        same(" Ada@Example.COM ", "ada@example.com");
        same("jos\u{e9}@example.com", "jose\u{301}@example.com");
        same("\u{ff41}lice@example.com", "alice@example.com");
        same("ALICE@\u{ff45}xample.com", "alice@example.com");
        same("ada@B\u{fc}cher.example", "ada@xn--bcher-kva.example");
        same("ada@b\u{fc}cher.example", "ada@XN--BCHER-KVA.example");
        assert_eq!(
            email("Jos\u{e9}@B\u{fc}cher.example").unwrap(),
            "jos\u{e9}@xn--bcher-kva.example"
        );
    }

    #[test]
    fn invisible_and_malformed_emails_are_refused() {
        for bad in [
            "alice@example.com\u{200b}",
            "ali\u{200b}ce@example.com",
            "alice\u{202e}@example.com",
            "alice@exa\u{200d}mple.com",
            "\u{feff}alice@example.com",
            "ali ce@example.com",
            "\"alice\"@example.com",
            "alice@",
            "@example.com",
            "alice",
            "alice@localhost",
            "alice@example..com",
            "alice@-example.com",
            ".alice@example.com",
            "al..ice@example.com",
            "a@b@example.com",
            "alice,bob@example.com",
            "alice@exam ple.com",
            "alice\r\n@example.com",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(email(&long_local).is_err());
        let long = format!("a@{}.example", "b".repeat(250));
        assert!(email(&long).is_err());
        assert!(email("o'brien+tag@example.com").is_ok());
    }

    #[test]
    fn names_fold_and_refuse_invisible_characters() {
        assert_eq!(
            name(Some("  Ada  ".into())).unwrap().as_deref(),
            Some("Ada")
        );
        assert_eq!(
            name(Some("\u{ff21}da".into())).unwrap().as_deref(),
            Some("Ada")
        );
        assert_eq!(name(Some("   ".into())).unwrap(), None);
        assert_eq!(name(None).unwrap(), None);
        assert!(
            name(Some("\u{646}\u{200c}\u{645}".into())).is_ok(),
            "ZWNJ stays"
        );
        for bad in [
            "evil\u{202e}txt.exe",
            "a\u{2066}b",
            "a\u{200b}b",
            "a\nb",
            "a\u{7f}",
        ] {
            assert!(name(Some(bad.into())).is_err(), "{bad:?}");
        }
        assert!(name(Some("x".repeat(201))).is_err());
    }
}
