//! Strict base64url without padding (RFC 4648 section 5, as JWS uses it).
//!
//! Strict means: only the 64 URL-safe characters, no `=`, no whitespace, no
//! impossible lengths (`len % 4 == 1`) and no stray bits in the last
//! character, so every byte string has exactly one accepted encoding and a
//! token cannot be altered without changing what it decodes to.

use alloc::vec::Vec;

const INVALID: u8 = 0xff;

/// Maps an ASCII byte to its 6-bit value, or `INVALID`.
#[allow(clippy::indexing_slicing, reason = "const evaluation: an out-of-bounds index fails the build")]
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

#[inline]
#[allow(
    clippy::indexing_slicing,
    reason = "a [_; 256] indexed by a u8 cannot be out of bounds"
)]
fn sextet(byte: u8) -> Result<u32, InvalidBase64> {
    match DECODE[usize::from(byte)] {
        INVALID => Err(InvalidBase64),
        v => Ok(u32::from(v)),
    }
}

/// Decodes `input` into `out`, which must be exactly `decoded_len(input.len())` long.
fn decode_exact(input: &[u8], out: &mut [u8]) -> Result<(), InvalidBase64> {
    let mut chunks = input.chunks_exact(4);
    let mut dst = out.chunks_mut(3);
    for (chunk, dst) in (&mut chunks).zip(&mut dst) {
        let mut n = 0u32;
        for &c in chunk {
            n = n << 6 | sextet(c)?;
        }
        let bytes = n.to_be_bytes();
        dst.copy_from_slice(bytes.get(1..1 + dst.len()).ok_or(InvalidBase64)?);
    }
    let rest = chunks.remainder();
    if rest.is_empty() {
        return Ok(());
    }
    let mut n = 0u32;
    for &c in rest {
        n = n << 6 | sextet(c)?;
    }
    // 2 chars carry 12 bits for 1 byte, 3 chars carry 18 bits for 2 bytes;
    // the leftover low bits must be zero (canonical encoding).
    let (value, unused_bits) = match rest.len() {
        2 => (n >> 4, n & 0xf),
        3 => (n >> 2, n & 0x3),
        _ => return Err(InvalidBase64),
    };
    if unused_bits != 0 {
        return Err(InvalidBase64);
    }
    let tail = dst.next().ok_or(InvalidBase64)?;
    let bytes = value.to_be_bytes();
    let start = bytes.len() - tail.len();
    tail.copy_from_slice(bytes.get(start..).ok_or(InvalidBase64)?);
    Ok(())
}

/// Decodes into a new vector.
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

/// Checks that `input` is strict base64url without decoding it anywhere.
pub(crate) fn validate(input: &[u8]) -> Result<(), InvalidBase64> {
    let rem = input.len() % 4;
    if rem == 1 {
        return Err(InvalidBase64);
    }
    for &c in input {
        sextet(c)?;
    }
    let last = input.last().map_or(Ok(0), |&c| sextet(c))?;
    let unused_mask = match rem {
        2 => 0xf,
        3 => 0x3,
        _ => 0,
    };
    if last & unused_mask == 0 {
        Ok(())
    } else {
        Err(InvalidBase64)
    }
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
