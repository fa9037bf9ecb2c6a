//! Password hashes imported from other systems (the admin API's and the
//! CLI's `password_hash`): argon2id and argon2i in PHC form, bcrypt
//! (`$2a$`, `$2b$`, `$2y$`), scrypt (`$scrypt$ln=..,r=..,p=..$salt$hash`) and
//! PBKDF2-SHA256 (`$pbkdf2-sha256$i=N,l=32$salt$hash`), salts and hashes in
//! the PHC "B64" alphabet, as the RustCrypto crates write them.
//!
//! [`check`] refuses a malformed hash before anything is stored;
//! [`verify`] checks a login password against a stored foreign (non-argon2)
//! hash with the RustCrypto crates. After the first successful login the
//! hash is replaced by an argon2id hash of the current parameters
//! (`password.rs` sees any non-argon2id hash as outdated).

use core::fmt;

use argon2::{ARGON2I_IDENT, ARGON2ID_IDENT, Params, PasswordHash};
use sha2::Sha256;

/// Why an imported hash was refused (`invalid_password_hash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidHash(&'static str);

impl fmt::Display for InvalidHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the password hash is not acceptable: {}", self.0)
    }
}

impl core::error::Error for InvalidHash {}

/// The bounds of what an import may ask the server to compute at each
/// login (a hostile import must not make logins arbitrarily slow).
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;
const MAX_SCRYPT_LOG_N: u8 = 20;
const MAX_BCRYPT_COST: u32 = 16;

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

/// Checks that `hash` is one of the accepted forms, with sane parameters.
pub(crate) fn check(hash: &str) -> Result<(), InvalidHash> {
    if hash.len() > 512 {
        return Err(InvalidHash("longer than 512 characters"));
    }
    if is_bcrypt(hash) {
        let parts: bcrypt::HashParts =
            hash.parse().map_err(|_| InvalidHash("not a bcrypt hash"))?;
        if parts.get_cost() > MAX_BCRYPT_COST {
            return Err(InvalidHash("bcrypt cost above 16"));
        }
        return Ok(());
    }
    let parsed = PasswordHash::new(hash).map_err(|_| InvalidHash("not a PHC string"))?;
    let (Some(_), Some(output)) = (&parsed.salt, &parsed.hash) else {
        return Err(InvalidHash("no salt or no hash"));
    };
    let algorithm = parsed.algorithm.as_str();
    if parsed.algorithm == ARGON2ID_IDENT || parsed.algorithm == ARGON2I_IDENT {
        Params::try_from(&parsed).map_err(|_| InvalidHash("bad argon2 parameters"))?;
        return Ok(());
    }
    match algorithm {
        "scrypt" => scrypt_params(&parsed, output.len()).map(|_| ()),
        "pbkdf2-sha256" => pbkdf2_rounds(&parsed, output.len()).map(|_| ()),
        _ => Err(InvalidHash(
            "use argon2id, argon2i, bcrypt, scrypt or pbkdf2-sha256",
        )),
    }
}

fn scrypt_params(parsed: &PasswordHash, len: usize) -> Result<scrypt::Params, InvalidHash> {
    let get = |name| parsed.params.get_decimal(name);
    let (Some(ln), Some(r), Some(p)) = (get("ln"), get("r"), get("p")) else {
        return Err(InvalidHash("scrypt needs ln, r and p"));
    };
    let ln = u8::try_from(ln)
        .ok()
        .filter(|ln| *ln <= MAX_SCRYPT_LOG_N)
        .ok_or(InvalidHash("scrypt ln above 20"))?;
    scrypt::Params::new(ln, r, p, len).map_err(|_| InvalidHash("bad scrypt parameters"))
}

fn pbkdf2_rounds(parsed: &PasswordHash, len: usize) -> Result<u32, InvalidHash> {
    let rounds = parsed
        .params
        .get_decimal("i")
        .filter(|i| (1..=MAX_PBKDF2_ROUNDS).contains(i))
        .ok_or(InvalidHash("pbkdf2 needs i between 1 and 10000000"))?;
    if let Some(l) = parsed.params.get_decimal("l")
        && usize::try_from(l).ok() != Some(len)
    {
        return Err(InvalidHash("pbkdf2 l differs from the hash's length"));
    }
    Ok(rounds)
}

/// Verifies `password` against a foreign hash: `None` when `stored` is
/// argon2 (or unreadable), which `password.rs` checks itself.
pub(crate) fn verify(password: &[u8], stored: &str) -> Option<bool> {
    if is_bcrypt(stored) {
        return Some(bcrypt::verify(password, stored).unwrap_or(false));
    }
    let parsed = PasswordHash::new(stored).ok()?;
    let algorithm = parsed.algorithm.as_str();
    if !matches!(algorithm, "scrypt" | "pbkdf2-sha256") {
        return None;
    }
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Some(false);
    };
    let expected = expected.as_bytes();
    let mut out = vec![0_u8; expected.len()];
    let computed = match algorithm {
        "scrypt" => scrypt_params(&parsed, expected.len())
            .ok()
            .and_then(|params| scrypt::scrypt(password, salt, &params, &mut out).ok())
            .is_some(),
        _ => pbkdf2_rounds(&parsed, expected.len())
            .ok()
            .and_then(|rounds| {
                pbkdf2::pbkdf2::<hmac::Hmac<Sha256>>(password, salt, rounds, &mut out).ok()
            })
            .is_some(),
    };
    Some(computed && constant_time_eq(&out, expected))
}

/// Constant-time comparison of two digests.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_and_unknown_hashes_are_refused() {
        for bad in [
            "",
            "plaintext",
            "$md5$abc",
            "$2b$04$short",
            "$2b$31$......................................................",
            "$scrypt$ln=40,r=8,p=1$c2FsdHNhbHQ$aGFzaA",
            "$scrypt$r=8,p=1$c2FsdHNhbHQ$aGFzaA",
            "$pbkdf2-sha256$i=0,l=32$c2FsdHNhbHQ$aGFzaA",
            "$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHQ",
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ",
            "$argon2d$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
