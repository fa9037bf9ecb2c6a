//! Claims to JSON text, for `JSON.parse` on the JavaScript side: strings,
//! arrays of strings and integers only, so no float formatting is linked.

use edgeauth_core::Claims;

/// The claims as a JSON object: `aud` always an array, `tid` and `amr` only
/// when present (the shape of tests/vectors/tokens.json).
pub(crate) fn claims(c: &Claims) -> String {
    let mut out = String::with_capacity(384);
    out.push('{');
    member(&mut out, "iss", |o| string(o, &c.iss));
    member(&mut out, "aud", |o| strings(o, &c.aud));
    member(&mut out, "sub", |o| string(o, &c.sub));
    member(&mut out, "sid", |o| string(o, &c.sid));
    member(&mut out, "jti", |o| string(o, &c.jti));
    member(&mut out, "iat", |o| push_uint(o, c.iat));
    member(&mut out, "nbf", |o| push_uint(o, c.nbf));
    member(&mut out, "exp", |o| push_uint(o, c.exp));
    member(&mut out, "roles", |o| strings(o, &c.roles));
    member(&mut out, "perms", |o| strings(o, &c.perms));
    if let Some(tid) = &c.tid {
        member(&mut out, "tid", |o| string(o, tid));
    }
    if let Some(amr) = &c.amr {
        member(&mut out, "amr", |o| strings(o, amr));
    }
    out.push('}');
    out
}

fn member(out: &mut String, name: &str, value: impl FnOnce(&mut String)) {
    if out.len() > 1 {
        out.push(',');
    }
    string(out, name);
    out.push(':');
    value(out);
}

fn strings(out: &mut String, values: &[String]) {
    out.push('[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, value);
    }
    out.push(']');
}

/// A JSON string literal (RFC 8259 section 7).
fn string(out: &mut String, value: &str) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in value.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(value.get(start..i).unwrap_or_default());
        start = i + 1;
        if escape.is_empty() {
            out.push_str("\\u00");
            push_hex(out, byte);
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(value.get(start..).unwrap_or_default());
    out.push('"');
}

/// A byte as two lower-case hex digits.
pub(crate) fn push_hex(out: &mut String, byte: u8) {
    for nibble in [byte >> 4, byte & 0x0f] {
        out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
    }
}

/// A decimal integer, without `core::fmt`.
pub(crate) fn push_uint(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    loop {
        if let Some(slot) = digits.get_mut(len) {
            *slot = b'0' + (n % 10) as u8;
        }
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &digit in digits.iter().take(len).rev() {
        out.push(char::from(digit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        for n in [0, 7, 10, 1_767_225_600, u64::MAX] {
            let mut s = String::new();
            push_uint(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        string(&mut s, "a\"b\\c\u{1}\n\u{7f}é\u{2028}");
        assert_eq!(
            s,
            r#""a\"b\\c\u0001\u000a"#.to_owned() + "\u{7f}é\u{2028}\""
        );
    }

    #[test]
    fn claims_shape() {
        let c = Claims {
            iss: "i".into(),
            aud: vec!["a".into()],
            sub: "s".into(),
            sid: "d".into(),
            jti: "j".into(),
            iat: 1,
            nbf: 2,
            exp: 3,
            roles: vec![],
            perms: vec!["p.*".into(), "q".into()],
            tid: None,
            amr: Some(vec!["pwd".into()]),
        };
        assert_eq!(
            claims(&c),
            r#"{"iss":"i","aud":["a"],"sub":"s","sid":"d","jti":"j","iat":1,"nbf":2,"exp":3,"roles":[],"perms":["p.*","q"],"amr":["pwd"]}"#
        );
    }
}
