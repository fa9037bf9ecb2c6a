//! Plain base64url (no padding) for the tests, the benchmark and the vector
//! generator, which need raw bytes the core keeps private. Deliberately
//! independent of the core's strict decoder, so the tests do not check the
//! core against itself. Included with `#[path]`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encodes without padding.
#[allow(dead_code, reason = "not every includer encodes")]
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut buf = [0u8; 3];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes, panicking on characters outside the alphabet.
pub(crate) fn decode(s: &str) -> Vec<u8> {
    let (mut bits, mut n, mut out) = (0u32, 0, Vec::new());
    for c in s.bytes() {
        let value = ALPHABET
            .iter()
            .position(|&a| a == c)
            .expect("base64url character");
        bits = bits << 6 | value as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}
