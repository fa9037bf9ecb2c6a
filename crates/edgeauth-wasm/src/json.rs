//! The two number formats the bindings write without `core::fmt` (which
//! would link float and padding machinery): HTTP statuses in thrown errors
//! and hex cache keys. Claims are written by the core (`Claims::to_json`).

/// A byte as two lower-case hex digits.
pub(crate) fn push_hex(out: &mut String, byte: u8) {
    for nibble in [byte >> 4, byte & 0x0f] {
        out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
    }
}

/// A decimal integer.
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
    fn hex() {
        let mut s = String::new();
        for b in [0u8, 0x0f, 0xa5, 0xff] {
            push_hex(&mut s, b);
        }
        assert_eq!(s, "000fa5ff");
    }
}
