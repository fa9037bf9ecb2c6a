//! A small, strict JSON reader (RFC 8259) for the few documents the core
//! reads: token headers and claims, JWKS and route rules.
//!
//! It builds no tree and never produces a float: callers walk objects and
//! arrays and pull the typed values they expect, and skip the rest. Strings
//! without escapes are borrowed from the input. Nesting of skipped values is
//! bounded, so hostile input cannot exhaust the stack.

use alloc::{borrow::Cow, string::String};

/// How deeply a skipped value may nest.
const MAX_DEPTH: u32 = 64;

/// The input is not JSON of the expected shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonError(pub(crate) &'static str);

type Result<T, E = JsonError> = core::result::Result<T, E>;

/// The kind of the next value, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

pub(crate) struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

/// What [`Reader::object`] calls for each member: the reader, positioned
/// at the value, and the member's name.
type MemberFn<'f, 'a, E> = dyn FnMut(&mut Reader<'a>, Cow<'a, str>) -> Result<(), E> + 'f;

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek_byte(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes().get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<()> {
        if self.peek_byte() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(JsonError(what))
        }
    }

    /// The kind of the next value, without consuming it.
    pub(crate) fn peek(&mut self) -> Option<Kind> {
        Some(match self.peek_byte()? {
            b'{' => Kind::Object,
            b'[' => Kind::Array,
            b'"' => Kind::String,
            b'-' | b'0'..=b'9' => Kind::Number,
            b't' | b'f' => Kind::Bool,
            b'n' => Kind::Null,
            _ => return None,
        })
    }

    /// Succeeds when only whitespace is left.
    pub(crate) fn finish(mut self) -> Result<()> {
        match self.peek_byte() {
            None => Ok(()),
            Some(_) => Err(JsonError("trailing characters after the JSON value")),
        }
    }

    /// Walks an object's members; `member` is called with each key and must
    /// consume the value (read it or [`skip`](Self::skip) it).
    pub(crate) fn object<E: From<JsonError>>(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.object_dyn(&mut member)
    }

    /// [`object`](Self::object) through one `dyn` callback: one copy of the
    /// loop per error type, not one per caller (the npm package's .wasm
    /// counts its bytes; an indirect call per member costs nothing visible).
    fn object_dyn<E: From<JsonError>>(
        &mut self,
        member: &mut MemberFn<'_, 'a, E>,
    ) -> Result<(), E> {
        self.expect(b'{', "expected an object")?;
        if self.peek_byte() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            if self.peek_byte() != Some(b'"') {
                return Err(JsonError("expected a string key").into());
            }
            let key = self.string()?;
            self.expect(b':', "expected ':' after a key")?;
            member(self, key)?;
            match self.peek_byte() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(JsonError("expected ',' or '}' in an object").into()),
            }
        }
    }

    /// Walks an array's elements; `element` must consume each one.
    pub(crate) fn array<E: From<JsonError>>(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<(), E>,
    ) -> Result<(), E> {
        self.array_dyn(&mut element)
    }

    /// [`array`](Self::array) through one `dyn` callback (see
    /// [`object_dyn`](Self::object_dyn)).
    fn array_dyn<E: From<JsonError>>(
        &mut self,
        element: &mut dyn FnMut(&mut Self) -> Result<(), E>,
    ) -> Result<(), E> {
        self.expect(b'[', "expected an array")?;
        if self.peek_byte() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            element(self)?;
            match self.peek_byte() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(JsonError("expected ',' or ']' in an array").into()),
            }
        }
    }

    /// Reads a string, borrowing it when it has no escapes.
    pub(crate) fn string(&mut self) -> Result<Cow<'a, str>> {
        self.expect(b'"', "expected a string")?;
        let start = self.pos;
        let bytes = self.bytes();
        self.pos = start + string_run(bytes.get(start..).unwrap_or_default());
        match bytes.get(self.pos) {
            Some(b'"') => {
                let s = self
                    .text
                    .get(start..self.pos)
                    .ok_or(JsonError("bad string"))?;
                self.pos += 1;
                return Ok(Cow::Borrowed(s));
            }
            Some(b'\\') => {}
            _ => return Err(JsonError("unterminated string")),
        }
        // Slow path: the string has escapes.
        let mut out = String::from(self.text.get(start..self.pos).unwrap_or_default());
        loop {
            let run_start = self.pos;
            while let Some(&b) = bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                _ => return Err(JsonError("unterminated string")),
            }
        }
    }

    /// Reads the escape after a backslash.
    fn escape(&mut self) -> Result<char> {
        let byte = *self.bytes().get(self.pos).ok_or(JsonError("bad escape"))?;
        self.pos += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                let code = match unit {
                    0xd800..=0xdbff => {
                        if self.bytes().get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(JsonError("unpaired surrogate"));
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return Err(JsonError("unpaired surrogate"));
                        }
                        0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                    }
                    0xdc00..=0xdfff => return Err(JsonError("unpaired surrogate")),
                    _ => unit,
                };
                char::from_u32(code).ok_or(JsonError("bad escape"))?
            }
            _ => return Err(JsonError("bad escape")),
        })
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .bytes()
            .get(self.pos..self.pos + 4)
            .ok_or(JsonError("bad \\u escape"))?;
        let mut value = 0;
        for &d in digits {
            let nibble = char::from(d)
                .to_digit(16)
                .ok_or(JsonError("bad \\u escape"))?;
            value = value << 4 | nibble;
        }
        self.pos += 4;
        Ok(value)
    }

    /// Reads a non-negative integer: digits only, no sign, fraction or
    /// exponent, and no leading zeros.
    pub(crate) fn uint(&mut self) -> Result<u64> {
        const NOT_UINT: JsonError = JsonError("expected a non-negative integer");
        self.skip_ws();
        let bytes = self.bytes();
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(&d @ b'0'..=b'9') = bytes.get(self.pos) {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
                .ok_or(NOT_UINT)?;
            self.pos += 1;
        }
        let digits = self.pos - start;
        let leading_zero = digits > 1 && bytes.get(start) == Some(&b'0');
        let continues = matches!(bytes.get(self.pos), Some(b'.' | b'e' | b'E'));
        if digits == 0 || leading_zero || continues {
            return Err(NOT_UINT);
        }
        Ok(value)
    }

    /// Reads `true` or `false`.
    pub(crate) fn bool(&mut self) -> Result<bool> {
        if self.literal("true") {
            Ok(true)
        } else if self.literal("false") {
            Ok(false)
        } else {
            Err(JsonError("expected true or false"))
        }
    }

    fn literal(&mut self, word: &str) -> bool {
        self.skip_ws();
        let found = self
            .text
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(word));
        if found {
            self.pos += word.len();
        }
        found
    }

    /// Reads an array of strings.
    pub(crate) fn strings(&mut self) -> Result<alloc::vec::Vec<String>> {
        let mut out = alloc::vec::Vec::new();
        self.array(|r| {
            out.push(r.string()?.into_owned());
            Ok::<_, JsonError>(())
        })?;
        Ok(out)
    }

    /// Skips one value of any kind, checking that it is well formed.
    pub(crate) fn skip(&mut self) -> Result<()> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: u32) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(JsonError("nested too deeply"));
        }
        match self.peek() {
            Some(Kind::Object) => self.object(|r, _| r.skip_nested(depth + 1)),
            Some(Kind::Array) => self.array(|r| r.skip_nested(depth + 1)),
            Some(Kind::String) => self.string().map(drop),
            Some(Kind::Number) => self.skip_number(),
            Some(Kind::Bool) => self.bool().map(drop),
            Some(Kind::Null) if self.literal("null") => Ok(()),
            _ => Err(JsonError("expected a value")),
        }
    }

    /// Skips a number of any form (it is never converted).
    fn skip_number(&mut self) -> Result<()> {
        const BAD: JsonError = JsonError("bad number");
        let bytes = self.bytes();
        let digits = |pos: &mut usize| {
            let start = *pos;
            while let Some(b'0'..=b'9') = bytes.get(*pos) {
                *pos += 1;
            }
            *pos - start
        };
        let mut pos = self.pos;
        if bytes.get(pos) == Some(&b'-') {
            pos += 1;
        }
        let int_start = pos;
        let int_digits = digits(&mut pos);
        if int_digits == 0 || (int_digits > 1 && bytes.get(int_start) == Some(&b'0')) {
            return Err(BAD);
        }
        if bytes.get(pos) == Some(&b'.') {
            pos += 1;
            if digits(&mut pos) == 0 {
                return Err(BAD);
            }
        }
        if let Some(b'e' | b'E') = bytes.get(pos) {
            pos += 1;
            if let Some(b'+' | b'-') = bytes.get(pos) {
                pos += 1;
            }
            if digits(&mut pos) == 0 {
                return Err(BAD);
            }
        }
        self.pos = pos;
        Ok(())
    }
}

/// The length of the leading run of bytes that need no attention inside a
/// string: everything before the first `"`, `\\` or control character.
///
/// Eight bytes at a time (SWAR): for each word, a byte's high bit is set in
/// `hits` where it equals `"` or `\\` or is below 0x20. The lowest flagged
/// byte is exact (borrows only flag bytes above a true match), so the first
/// match is found with one `trailing_zeros`.
fn string_run(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let zero = |x: u64| below(x, 1);
    let (words, _) = bytes.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let x = u64::from_le_bytes(*word);
        let hits = zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | below(x, 0x20);
        if hits != 0 {
            return i * 8 + (hits.trailing_zeros() / 8) as usize;
        }
    }
    let done = words.len() * 8;
    let tail = bytes.get(done..).unwrap_or_default();
    done + tail
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(tail.len())
}

/// Appends `value` to `out` as a JSON string (RFC 8259 section 7): runs
/// of plain characters are copied whole; `"`, `\\` and control characters
/// are escaped.
pub(crate) fn write_string(out: &mut String, value: &str) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in value.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(value.get(start..i).unwrap_or_default());
        start = i + 1;
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            for nibble in [byte >> 4, byte & 0xf] {
                out.extend(HEX.get(usize::from(nibble)).map(|&h| char::from(h)));
            }
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(value.get(start..).unwrap_or_default());
    out.push('"');
}

/// Appends a JSON array of strings.
pub(crate) fn write_strings<S: AsRef<str>>(out: &mut String, values: &[S]) {
    out.push('[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, value.as_ref());
    }
    out.push(']');
}

/// Appends a non-negative integer in decimal.
pub(crate) fn write_uint(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (value % 10) as u8;
        }
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend(
        digits
            .get(at..)
            .unwrap_or_default()
            .iter()
            .map(|&d| char::from(d)),
    );
}

/// Displays a string quoted and escaped as JSON, so that error messages
/// cannot carry raw control characters (or forged log lines).
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl core::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut out = String::with_capacity(self.0.len() + 2);
        write_string(&mut out, self.0);
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn skip_all(text: &str) -> Result<()> {
        let mut r = Reader::new(text);
        r.skip()?;
        r.finish()
    }

    #[test]
    fn accepts_well_formed_values() {
        for ok in [
            "{}",
            "[]",
            " { \"a\" : [1, -2.5e+3, 0, 0.1, 1E9, true, false, null, \"x\\u00e9\\ud83d\\ude00\"] } ",
            "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
            "-0",
        ] {
            assert_eq!(skip_all(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            "",
            "{",
            "}",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "01",
            "1.",
            ".5",
            "1e",
            "+1",
            "tru",
            "nul",
            "\"abc",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"a\nb\"",
            "{} {}",
            "[1 2]",
            "'a'",
            "NaN",
            "Infinity",
        ] {
            assert!(skip_all(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writes_strings_that_read_back() {
        let original = "a\"b\\c\n\r\t\u{1}\u{1f}é😀";
        let mut out = String::new();
        write_string(&mut out, original);
        assert_eq!(Reader::new(&out).string().unwrap(), original);
    }

    #[test]
    fn string_runs_stop_at_the_first_special_byte() {
        for len in 0..40 {
            for special in [b'"', b'\\', 0, 0x1f] {
                let mut bytes = alloc::vec![b'a'; len];
                bytes.extend([special, b'"', b'a']);
                assert_eq!(string_run(&bytes), len, "{len} {special}");
            }
            // Bytes that are close to the special ones but not special.
            let plain: Vec<u8> = [0x20u8, b'!', b'#', b'[', b']', 0x7f, 0x80, 0xff].repeat(len);
            assert_eq!(string_run(&plain), plain.len());
        }
    }

    #[test]
    fn writes_integers() {
        for n in [0, 7, 10, 1_767_225_600, u64::MAX] {
            let mut out = String::new();
            write_uint(&mut out, n);
            assert_eq!(out, alloc::format!("{n}"));
            assert_eq!(Reader::new(&out).uint(), Ok(n));
        }
    }

    #[test]
    fn bounds_nesting() {
        let deep: String = "[".repeat(100_000);
        assert!(skip_all(&deep).is_err());
        let ok = alloc::format!("{}{}", "[".repeat(60), "]".repeat(60));
        assert_eq!(skip_all(&ok), Ok(()));
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let mut r = Reader::new("[\"plain\", \"esc\\u0061ped\"]");
        let mut got = Vec::new();
        r.array(|r| {
            got.push(r.string()?);
            Ok::<_, JsonError>(())
        })
        .unwrap();
        assert!(matches!(&got[0], Cow::Borrowed("plain")));
        assert!(matches!(&got[1], Cow::Owned(s) if s == "escaped"));
    }

    #[test]
    fn integers_are_strict() {
        for (text, want) in [
            ("0", Some(0)),
            ("1700000000", Some(1_700_000_000)),
            ("18446744073709551615", Some(u64::MAX)),
        ] {
            assert_eq!(Reader::new(text).uint().ok(), want);
        }
        for bad in [
            "-1",
            "1.0",
            "1e3",
            "007",
            "18446744073709551616",
            "\"1\"",
            "",
        ] {
            assert!(Reader::new(bad).uint().is_err(), "{bad}");
        }
    }
}
