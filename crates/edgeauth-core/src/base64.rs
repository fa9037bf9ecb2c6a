//! Strict base64url without padding (RFC 4648 section 5, as JWS uses it).
//!
//! Strict means: only the 64 URL-safe characters, no `=`, no whitespace, no
//! impossible lengths (`len % 4 == 1`) and no stray bits in the last
//! character, so every byte string has exactly one accepted encoding and a
//! token cannot be altered without changing what it decodes to.

use alloc::vec::Vec;

const INVALID: u8 = 0xff;

/// Maps an ASCII byte to its 6-bit value, or `INVALID`.
#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an out-of-bounds index fails the build"
)]
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let alphabet = ALPHABET;
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The input is not strict unpadded base64url.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidBase64;

/// How many bytes `encoded_len` characters decode to, if that length is possible.
pub(crate) const fn decoded_len(encoded_len: usize) -> Option<usize> {
    match encoded_len % 4 {
        1 => None,
        rem => Some(encoded_len / 4 * 3 + rem.saturating_sub(1)),
    }
}

/// The 6-bit value of an ASCII byte, or `INVALID` (which has the top bits set).
#[inline(always)]
#[allow(
    clippy::indexing_slicing,
    reason = "a [_; 256] indexed by a u8 cannot be out of bounds"
)]
fn sextet(byte: u8) -> u32 {
    u32::from(DECODE[usize::from(byte)])
}

/// Decodes `input` into `out`, which must be exactly `decoded_len(input.len())` long.
///
/// Whole 4-character groups decode without branching on validity: the table
/// marks invalid bytes with high bits, which are OR-ed together and checked
/// once at the end.
fn decode_exact(input: &[u8], out: &mut [u8]) -> Result<(), InvalidBase64> {
    let (groups, rest) = input.as_chunks::<4>();
    let (out_groups, out_rest) = out.as_chunks_mut::<3>();
    if groups.len() != out_groups.len() {
        return Err(InvalidBase64);
    }
    let mut invalid = 0;
    for (&[a, b, c, d], dst) in groups.iter().zip(out_groups) {
        let (a, b, c, d) = (sextet(a), sextet(b), sextet(c), sextet(d));
        invalid |= a | b | c | d;
        let [_, x, y, z] = (a << 18 | b << 12 | c << 6 | d).to_be_bytes();
        *dst = [x, y, z];
    }
    // 2 characters carry 12 bits for 1 byte, 3 characters 18 bits for 2
    // bytes; the bits left over must be zero (canonical encoding).
    match (rest, out_rest) {
        ([], []) => {}
        (&[a, b], [x]) => {
            let (a, b) = (sextet(a), sextet(b));
            invalid |= a | b | (b & 0xf) << 8;
            *x = (a << 2 | b >> 4) as u8;
        }
        (&[a, b, c], [x, y]) => {
            let (a, b, c) = (sextet(a), sextet(b), sextet(c));
            invalid |= a | b | c | (c & 0x3) << 8;
            let [_, _, hi, lo] = (a << 10 | b << 4 | c >> 2).to_be_bytes();
            [*x, *y] = [hi, lo];
        }
        _ => return Err(InvalidBase64),
    }
    if invalid & !0x3f == 0 {
        Ok(())
    } else {
        Err(InvalidBase64)
    }
}

/// Decodes into the front of `buf` when it fits there, else into `spill`.
pub(crate) fn decode_small<'b>(
    input: &[u8],
    buf: &'b mut [u8],
    spill: &'b mut Vec<u8>,
) -> Result<&'b [u8], InvalidBase64> {
    let len = decoded_len(input.len()).ok_or(InvalidBase64)?;
    let out = match buf.get_mut(..len) {
        Some(out) => out,
        None => {
            spill.resize(len, 0);
            spill.as_mut_slice()
        }
    };
    decode_exact(input, out)?;
    Ok(out)
}

/// Decodes into a new vector.
#[cfg(test)]
pub(crate) fn decode(input: &[u8]) -> Result<Vec<u8>, InvalidBase64> {
    let len = decoded_len(input.len()).ok_or(InvalidBase64)?;
    let mut out = alloc::vec![0; len];
    decode_exact(input, &mut out)?;
    Ok(out)
}

/// Decodes into a fixed-size array; the input must decode to exactly `N` bytes.
pub(crate) fn decode_array<const N: usize>(input: &[u8]) -> Result<[u8; N], InvalidBase64> {
    if decoded_len(input.len()) != Some(N) {
        return Err(InvalidBase64);
    }
    let mut out = [0; N];
    decode_exact(input, &mut out)?;
    Ok(out)
}

/// Checks that `input` is strict base64url without keeping the bytes.
pub(crate) fn validate(input: &[u8]) -> Result<(), InvalidBase64> {
    let mut scratch = [0u8; 96];
    for chunk in input.chunks(128) {
        let len = decoded_len(chunk.len()).ok_or(InvalidBase64)?;
        decode_exact(chunk, scratch.get_mut(..len).ok_or(InvalidBase64)?)?;
    }
    Ok(())
}

/// Encodes without padding.
pub(crate) fn encode(input: &[u8]) -> alloc::string::String {
    let mut out = alloc::string::String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let (bytes, chars) = match *chunk {
            [a] => ([a, 0, 0], 2),
            [a, b] => ([a, b, 0], 3),
            [a, b, c] => ([a, b, c], 4),
            _ => continue,
        };
        let n = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.extend(ALPHABET.get(index as usize).map(|&c| char::from(c)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length() {
        let data: Vec<u8> = (0..=255).collect();
        for len in 0..data.len() {
            let encoded = encode(&data[..len]);
            assert!(!encoded.contains('='));
            assert_eq!(decode(encoded.as_bytes()).unwrap(), &data[..len]);
            assert_eq!(validate(encoded.as_bytes()), Ok(()));
        }
    }

    #[test]
    fn rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(decode(enc.as_bytes()).unwrap(), plain.as_bytes());
            assert_eq!(encode(plain.as_bytes()), enc);
        }
    }

    #[test]
    fn rejects_non_strict_forms() {
        for bad in [
            "Zg==", "Zg=", "Z", "Zm9v Yg", "Zm9v\nYg", "Zm9v+g", "Zm9v/g", "Zh", "Zm9", "Zm8.",
        ] {
            assert_eq!(decode(bad.as_bytes()), Err(InvalidBase64), "{bad:?}");
            assert_eq!(validate(bad.as_bytes()), Err(InvalidBase64), "{bad:?}");
        }
    }

    #[test]
    fn fixed_size_decode_checks_length() {
        assert_eq!(decode_array::<3>(b"Zm9v"), Ok(*b"foo"));
        assert_eq!(decode_array::<2>(b"Zm9v"), Err(InvalidBase64));
        assert_eq!(decode_array::<4>(b"Zm9v"), Err(InvalidBase64));
    }
}
