//! Mints the deterministic key sets and tokens that the workerd tests and
//! the benchmark use, with the core's own signer.
//!
//! ```text
//! cargo run -p edgeauth-worker --example mint -- ISSUER AUDIENCE > fixtures.json
//! ```
//!
//! Tokens are valid from 2026-01-01 to 2100-01-01 (the expired one ended
//! on 2026-01-01 at 01:00), so no clock is read and every run prints the
//! same bytes.

#![allow(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    reason = "a std tool"
)]

use edgeauth_core::{AssertionSigner, Claims, KeySet, SigningKey};

const VALID_FROM: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const VALID_UNTIL: u64 = 4_102_444_800; // 2100-01-01T00:00:00Z
/// The gate's assertion signing seed in the tests (32 bytes of 0x33,
/// base64url), as `EDGEAUTH_ASSERTION_KEY` holds one.
const ASSERTION_KEY: &str = "MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(issuer), Some(audience)) = (args.next(), args.next()) else {
        return Err("usage: mint ISSUER AUDIENCE".into());
    };
    let k1 = SigningKey::from_seed("k1", &[0x11; 32]);
    let k2 = SigningKey::from_seed("k2", &[0x22; 32]);
    let claims = |roles: &[&str]| Claims {
        iss: issuer.clone(),
        aud: vec![audience.clone()],
        sub: "5f0c6b8e-1d2a-4c3b-9e4f-a1b2c3d4e5f6".into(),
        sid: "0b7d3c2a-9f8e-4d1c-8b7a-6e5f4d3c2b1a".into(),
        jti: "fixture".into(),
        iat: VALID_FROM,
        nbf: VALID_FROM,
        exp: VALID_UNTIL,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        perms: vec!["articles.*".into()],
        tid: None,
        amr: Some(vec!["pwd".into()]),
    };

    let valid = k1.sign(&claims(&["editor", "viewer"]))?;
    let mut tampered = valid.clone();
    // Flip the payload's last character: the signature no longer matches.
    let at = valid.rfind('.').ok_or("no signature")? - 1;
    let flipped = if valid.get(at..=at) == Some("A") {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(at..=at, flipped);

    let tokens = [
        ("valid", valid),
        ("tampered", tampered),
        ("admin", k1.sign(&claims(&["admin"]))?),
        (
            "expired",
            k1.sign(&Claims {
                exp: VALID_FROM + 3600,
                ..claims(&["editor"])
            })?,
        ),
        (
            "wrong_audience",
            k1.sign(&Claims {
                aud: vec!["someone-else".into()],
                ..claims(&["editor"])
            })?,
        ),
        ("rotated", k2.sign(&claims(&["editor", "viewer"]))?),
    ];

    let jwks = |keys: &[&SigningKey]| -> Result<String, Box<dyn std::error::Error>> {
        let mut set = KeySet::new();
        for key in keys {
            set.insert(key.kid(), &key.public_key())?;
        }
        Ok(set.to_jwks())
    };
    let mut out = serde_json::Map::new();
    out.insert("jwks_k1".into(), jwks(&[&k1])?.into());
    out.insert("jwks_k1_k2".into(), jwks(&[&k1, &k2])?.into());
    out.insert(
        "tokens".into(),
        tokens
            .into_iter()
            .map(|(name, token)| (name.to_owned(), token.into()))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    );
    let signer = AssertionSigner::from_base64url(ASSERTION_KEY)?;
    out.insert("assertion_key".into(), ASSERTION_KEY.into());
    out.insert("assertion_public_key".into(), signer.public_key().into());
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
