//! Writes `tests/vectors/tokens.json`, the shared token vectors.
//!
//! ```text
//! cargo run -p edgeauth-core --features sign --example gen-vectors            # write
//! cargo run -p edgeauth-core --features sign --example gen-vectors -- --check # compare
//! ```
//!
//! Everything is deterministic (fixed seeds, Ed25519 signatures are
//! deterministic), so running it again gives the same bytes; `--check`, run
//! by the test command, fails if the committed file has drifted.

#![allow(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    reason = "std-only code"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::path::PathBuf;

use curve25519_dalek::Scalar;
use ed25519_dalek::{Signer, Verifier as _};
use edgeauth_core::{Claims, KeySet, SigningKey};
use hmac::Mac;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

#[path = "../tests/support/b64.rs"]
mod b64_support;
use b64_support::{decode, encode as b64};

const ISSUER: &str = "https://auth.edgeauth.test";
const AUDIENCE: &str = "api.edgeauth.test";
/// 2026-01-01T00:00:00Z.
const IAT: u64 = 1_767_225_600;
const TTL: u64 = 900;
const LEEWAY: u64 = 30;

struct Keys {
    k1: ed25519_dalek::SigningKey,
    k2: ed25519_dalek::SigningKey,
    outsider: ed25519_dalek::SigningKey,
}

fn seed(n: u8) -> [u8; 32] {
    let digest = Sha512::digest(format!("edgeauth test vector key {n}"));
    digest[..32].try_into().unwrap()
}

fn claims() -> Claims {
    Claims {
        iss: ISSUER.into(),
        aud: vec![AUDIENCE.into()],
        sub: "5f0c6b8e-1d2a-4c3b-9e4f-a1b2c3d4e5f6".into(),
        sid: "0b7d3c2a-9f8e-4d1c-8b7a-6e5f4d3c2b1a".into(),
        jti: "tok-0001".into(),
        iat: IAT,
        nbf: IAT,
        exp: IAT + TTL,
        roles: vec!["editor".into(), "viewer".into()],
        perms: vec!["articles.*".into(), "comments.read".into()],
        tid: None,
        amr: Some(vec!["pwd".into()]),
    }
}

fn header(kid: &str) -> Value {
    json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid})
}

/// The claims as JSON text, in the order the server writes them.
fn payload(c: &Claims) -> Value {
    let mut v = json!({
        "iss": c.iss, "aud": if c.aud.len() == 1 { json!(c.aud[0]) } else { json!(c.aud) },
        "sub": c.sub, "sid": c.sid, "jti": c.jti, "iat": c.iat, "nbf": c.nbf, "exp": c.exp,
        "roles": c.roles, "perms": c.perms,
    });
    if let Some(tid) = &c.tid {
        v["tid"] = json!(tid);
    }
    if let Some(amr) = &c.amr {
        v["amr"] = json!(amr);
    }
    v
}

/// What the verifier must return for these claims.
fn expected(c: &Claims) -> Value {
    let mut v = payload(c);
    v["aud"] = json!(c.aud);
    json!({ "claims": v })
}

fn segments(header: &str, payload: &str) -> String {
    format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()))
}

fn sign_raw(header: &str, payload: &str, key: &ed25519_dalek::SigningKey) -> String {
    let input = segments(header, payload);
    let sig = key.sign(input.as_bytes()).to_bytes();
    format!("{input}.{}", b64(&sig))
}

fn sign(header: &Value, payload: &Value, key: &ed25519_dalek::SigningKey) -> String {
    sign_raw(&header.to_string(), &payload.to_string(), key)
}

/// A signature with `R` the identity point (small order) that ed25519-dalek's
/// non-strict `verify` accepts and `verify_strict` refuses.
fn small_order_r(input: &str, key: &ed25519_dalek::SigningKey) -> [u8; 64] {
    let expanded = Sha512::digest(key.to_bytes());
    let mut a: [u8; 32] = expanded[..32].try_into().unwrap();
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    let a = Scalar::from_bytes_mod_order(a);
    let mut r = [0u8; 32];
    r[0] = 1;
    let mut h = Sha512::new();
    h.update(r);
    h.update(key.verifying_key().as_bytes());
    h.update(input.as_bytes());
    let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    let s = k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r);
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

/// Adds the group order to `S`: the same signature in a non-canonical form.
fn non_canonical(mut sig: [u8; 64]) -> [u8; 64] {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (s, l) in sig[32..].iter_mut().zip(L) {
        let sum = u16::from(*s) + u16::from(l) + carry;
        *s = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    sig
}

struct Cases(Vec<Value>);

impl Cases {
    fn add(
        &mut self,
        name: &str,
        description: &str,
        token: &str,
        now: u64,
        expect: Value,
    ) -> &mut Value {
        assert!(
            !self.0.iter().any(|c| c["name"] == name),
            "duplicate case {name}"
        );
        self.0.push(json!({
            "name": name, "description": description, "token": token, "now": now, "expect": expect,
        }));
        self.0.last_mut().unwrap()
    }
    fn err(
        &mut self,
        name: &str,
        description: &str,
        token: &str,
        now: u64,
        code: &str,
    ) -> &mut Value {
        self.add(name, description, token, now, json!({ "error": code }))
    }
}

fn build() -> Value {
    let keys = Keys {
        k1: ed25519_dalek::SigningKey::from_bytes(&seed(1)),
        k2: ed25519_dalek::SigningKey::from_bytes(&seed(2)),
        outsider: ed25519_dalek::SigningKey::from_bytes(&seed(3)),
    };
    let mut set = KeySet::new();
    set.insert("k1", keys.k1.verifying_key().as_bytes())
        .unwrap();
    set.insert("k2", keys.k2.verifying_key().as_bytes())
        .unwrap();
    let jwks: Value = serde_json::from_str(&set.to_jwks()).unwrap();

    let base = claims();
    let now = IAT + 60;
    let mut cases = Cases(Vec::new());

    // --- valid tokens -----------------------------------------------------
    let minted = SigningKey::from_seed("k1", &seed(1)).sign(&base).unwrap();
    cases.add(
        "valid",
        "a typical token, as the server mints it",
        &minted,
        now,
        expected(&base),
    );
    let valid = sign(&header("k1"), &payload(&base), &keys.k1);
    cases.add(
        "valid_handmade",
        "the same claims, signed by hand",
        &valid,
        now,
        expected(&base),
    );
    cases.add(
        "valid_second_key",
        "signed by the second key of the set (after a rotation)",
        &sign(&header("k2"), &payload(&base), &keys.k2),
        now,
        expected(&base),
    );
    let mut c = base.clone();
    c.tid = Some("org-42".into());
    c.amr = None;
    c.roles = vec![];
    c.perms = vec![];
    cases.add(
        "valid_tid_no_amr",
        "tid present, amr absent, no roles",
        &sign(&header("k1"), &payload(&c), &keys.k1),
        now,
        expected(&c),
    );
    let mut c = base.clone();
    c.aud = vec!["web".into(), AUDIENCE.into()];
    cases.add(
        "aud_array",
        "aud as an array that contains the audience",
        &sign(&header("k1"), &payload(&c), &keys.k1),
        now,
        expected(&c),
    );
    let mut c = base.clone();
    c.aud = vec![AUDIENCE.into()];
    let mut p = payload(&c);
    p["aud"] = json!([AUDIENCE]);
    cases.add(
        "aud_array_of_one",
        "aud as a one-element array",
        &sign(&header("k1"), &p, &keys.k1),
        now,
        expected(&c),
    );
    for (name, typ) in [
        ("typ_application", "application/at+jwt"),
        ("typ_upper_case", "AT+JWT"),
    ] {
        let mut h = header("k1");
        h["typ"] = json!(typ);
        cases.add(
            name,
            "typ matches case-insensitively, with or without application/",
            &sign(&h, &payload(&base), &keys.k1),
            now,
            expected(&base),
        );
    }
    let mut p = payload(&base);
    p["extra"] = json!({"float": 1.5, "nested": [[null, true, -2e10]], "s": "x"});
    p["scope"] = json!("openid");
    cases.add(
        "unknown_claims_skipped",
        "unknown claims of any JSON type are ignored",
        &sign(&header("k1"), &p, &keys.k1),
        now,
        expected(&base),
    );
    let escaped_payload = payload(&base)
        .to_string()
        .replace("\"sub\":\"5f0c", "\"s\\u0075b\":\"\\u0035f0c")
        .replace("editor", "edit\\u006fr");
    cases.add(
        "escaped_strings",
        "JSON escapes in keys and values are decoded",
        &sign_raw(&header("k1").to_string(), &escaped_payload, &keys.k1),
        now,
        expected(&base),
    );
    let spaced_payload = serde_json::to_string_pretty(&payload(&base)).unwrap();
    cases.add(
        "json_whitespace",
        "whitespace inside the JSON is fine",
        &sign_raw(
            " { \"alg\" : \"EdDSA\" , \"typ\":\"at+jwt\",\"kid\":\"k1\" }\n",
            &spaced_payload,
            &keys.k1,
        ),
        now,
        expected(&base),
    );
    let mut p = payload(&base);
    p["sub"] = json!("ユーザー😀");
    let mut c = base.clone();
    c.sub = "ユーザー😀".into();
    cases.add(
        "unicode_claims",
        "non-ASCII claim values",
        &sign(&header("k1"), &p, &keys.k1),
        now,
        expected(&c),
    );

    // --- 1: size --------------------------------------------------------------
    let sized = |len: usize| {
        let mut p = payload(&base);
        p["pad"] = json!("");
        let probe = sign(&header("k1"), &p, &keys.k1);
        // Every 3 bytes of padding add 4 characters.
        let missing = len - probe.len();
        assert_eq!(missing % 4, 0, "pick lengths that base64 can hit");
        p["pad"] = json!("x".repeat(missing / 4 * 3));
        let token = sign(&header("k1"), &p, &keys.k1);
        assert_eq!(token.len(), len);
        token
    };
    let probe_len = {
        let mut p = payload(&base);
        p["pad"] = json!("");
        sign(&header("k1"), &p, &keys.k1).len()
    };
    let aligned = |target: usize| target - (target - probe_len) % 4;
    let big_ok = sized(aligned(8192));
    cases.add(
        "size_at_limit",
        &format!("{} bytes, within the 8 KiB limit", big_ok.len()),
        &big_ok,
        now,
        expected(&base),
    );
    let over = sized(aligned(8192) + 4);
    cases.err(
        "size_over_limit",
        "just over 8 KiB, otherwise valid",
        &over,
        now,
        "token_too_large",
    );
    cases.err(
        "size_huge",
        "64 KiB of garbage",
        &"a".repeat(64 << 10),
        now,
        "token_too_large",
    );
    cases.err(
        "size_huge_dots",
        "8193 dots",
        &".".repeat(8193),
        now,
        "token_too_large",
    );

    // --- 2: malformed framing ------------------------------------------------
    let [hs, ps, ss]: [&str; 3] = valid.split('.').collect::<Vec<_>>().try_into().unwrap();
    for (name, description, token) in [
        ("empty", "the empty string", String::new()),
        ("one_segment", "no dots", "abc".to_string()),
        (
            "two_segments",
            "header and payload only",
            format!("{hs}.{ps}"),
        ),
        ("four_segments", "an extra segment", format!("{valid}.{ss}")),
        ("empty_segments", "three empty segments", "..".to_string()),
        (
            "header_not_base64",
            "header segment with '!'",
            format!("!{hs}.{ps}.{ss}"),
        ),
        (
            "header_padding",
            "header segment padded with '='",
            format!("{hs}=.{ps}.{ss}"),
        ),
        (
            "signature_padding",
            "signature segment padded with '=='",
            format!("{valid}=="),
        ),
        (
            "signature_standard_alphabet",
            "'+' from the standard alphabet in the signature",
            format!("{hs}.{ps}.+{}", &ss[1..]),
        ),
        (
            "leading_space",
            "whitespace before the token",
            format!(" {valid}"),
        ),
        (
            "trailing_newline",
            "a newline after the token",
            format!("{valid}\n"),
        ),
        (
            "inner_space",
            "a space inside the header segment",
            format!("{} {}.{ps}.{ss}", &hs[..4], &hs[4..]),
        ),
        (
            "truncated_one_char",
            "the last character cut (an impossible base64 length)",
            valid[..valid.len() - 1].to_string(),
        ),
        (
            "bearer_prefix",
            "the Authorization scheme left on",
            format!("Bearer {valid}"),
        ),
        (
            "header_not_json",
            "header decodes to text that is not JSON",
            format!("{}.{ps}.{ss}", b64(b"alg=EdDSA")),
        ),
        (
            "header_json_array",
            "header is a JSON array",
            format!("{}.{ps}.{ss}", b64(br#"["EdDSA"]"#)),
        ),
        (
            "header_alg_not_string",
            "alg is a number",
            format!(
                "{}.{ps}.{ss}",
                b64(br#"{"alg":1,"typ":"at+jwt","kid":"k1"}"#)
            ),
        ),
        (
            "header_duplicate_alg",
            "alg given twice",
            format!(
                "{}.{ps}.{ss}",
                b64(br#"{"alg":"none","alg":"EdDSA","typ":"at+jwt","kid":"k1"}"#)
            ),
        ),
        (
            "header_trailing_garbage",
            "JSON followed by more text",
            format!(
                "{}.{ps}.{ss}",
                b64(br#"{"alg":"EdDSA","typ":"at+jwt","kid":"k1"} x"#)
            ),
        ),
        (
            "header_not_utf8",
            "header bytes are not UTF-8",
            format!("{}.{ps}.{ss}", b64(b"{\"alg\":\"EdDSA\xff\"}")),
        ),
    ] {
        cases.err(
            &format!("malformed_{name}"),
            description,
            &token,
            now,
            "malformed",
        );
    }

    // --- 3: algorithm ----------------------------------------------------------
    let none = format!(
        "{}.{ps}.",
        b64(br#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#)
    );
    cases.err(
        "alg_none",
        "alg none with an empty signature",
        &none,
        now,
        "unsupported_alg",
    );
    let hs_header = json!({"alg": "HS256", "typ": "at+jwt", "kid": "k1"}).to_string();
    let hs_input = segments(&hs_header, &payload(&base).to_string());
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(keys.k1.verifying_key().as_bytes()).unwrap();
    mac.update(hs_input.as_bytes());
    let hs256 = format!("{hs_input}.{}", b64(&mac.finalize().into_bytes()));
    cases.err(
        "alg_hs256_confusion",
        "HS256 keyed with the Ed25519 public key bytes",
        &hs256,
        now,
        "unsupported_alg",
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(set.to_jwks().as_bytes()).unwrap();
    mac.update(hs_input.as_bytes());
    let hs_jwks = format!("{hs_input}.{}", b64(&mac.finalize().into_bytes()));
    cases.err(
        "alg_hs256_jwks_secret",
        "HS256 keyed with the JWKS text",
        &hs_jwks,
        now,
        "unsupported_alg",
    );
    for (name, alg) in [
        ("rs256", "RS256"),
        ("ed25519_name", "Ed25519"),
        ("lowercase", "eddsa"),
        ("es256", "ES256"),
    ] {
        let mut h = header("k1");
        h["alg"] = json!(alg);
        cases.err(
            &format!("alg_{name}"),
            &format!("alg {alg}, signed with the Ed25519 key"),
            &sign(&h, &payload(&base), &keys.k1),
            now,
            "unsupported_alg",
        );
    }
    cases.err(
        "alg_missing",
        "no alg at all",
        &sign(
            &json!({"typ": "at+jwt", "kid": "k1"}),
            &payload(&base),
            &keys.k1,
        ),
        now,
        "unsupported_alg",
    );
    let mut h = header("k1");
    h["crit"] = json!(["exp"]);
    cases.err(
        "crit_header",
        "any crit parameter is refused",
        &sign(&h, &payload(&base), &keys.k1),
        now,
        "unsupported_alg",
    );
    let mut h = header("nope");
    h["alg"] = json!("none");
    cases.err(
        "order_alg_before_kid",
        "bad alg and unknown kid: alg is checked first",
        &sign(&h, &payload(&base), &keys.k1),
        now,
        "unsupported_alg",
    );

    // --- 4: type -------------------------------------------------------------
    for (name, typ) in [
        ("jwt", json!("JWT")),
        ("missing", Value::Null),
        ("number", json!(1)),
        ("id_token", json!("id_token+jwt")),
    ] {
        let mut h = header("k1");
        if typ.is_null() {
            h.as_object_mut().unwrap().remove("typ");
        } else {
            h["typ"] = typ;
        }
        let token = sign(&h, &payload(&base), &keys.k1);
        let code = if name == "number" {
            "malformed"
        } else {
            "wrong_type"
        };
        cases.err(
            &format!("typ_{name}"),
            "typ is not at+jwt",
            &token,
            now,
            code,
        );
        if name == "jwt" {
            cases.add(
                "typ_jwt_not_required",
                "typ JWT passes when the type check is off",
                &token,
                now,
                expected(&base),
            )["require_type"] = json!(false);
        }
    }
    let mut h = header("nope");
    h["typ"] = json!("JWT");
    cases.err(
        "order_typ_before_kid",
        "wrong typ and unknown kid: typ is checked first",
        &sign(&h, &payload(&base), &keys.k1),
        now,
        "wrong_type",
    );

    // --- 5: key id -----------------------------------------------------------
    cases.err(
        "kid_unknown",
        "kid not in the key set",
        &sign(&header("k3"), &payload(&base), &keys.outsider),
        now,
        "unknown_key",
    );
    let mut h = header("k1");
    h.as_object_mut().unwrap().remove("kid");
    cases.err(
        "kid_missing",
        "no kid",
        &sign(&h, &payload(&base), &keys.k1),
        now,
        "unknown_key",
    );
    cases.err(
        "kid_case",
        "kid matching is exact",
        &sign(&header("K1"), &payload(&base), &keys.k1),
        now,
        "unknown_key",
    );

    // --- 6: signature ---------------------------------------------------------
    let mut evil = base.clone();
    evil.roles = vec!["admin".into()];
    let tampered_payload = b64(payload(&evil).to_string().as_bytes());
    cases.err(
        "tampered_payload",
        "roles changed to admin, original signature",
        &format!("{hs}.{tampered_payload}.{ss}"),
        now,
        "bad_signature",
    );
    let tampered_header = b64(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k2"})
        .to_string()
        .as_bytes());
    cases.err(
        "tampered_header",
        "kid switched to the other key",
        &format!("{tampered_header}.{ps}.{ss}"),
        now,
        "bad_signature",
    );
    let sig =
        ed25519_dalek::Signature::from_bytes(&<[u8; 64]>::try_from(decode(ss)).unwrap()).to_bytes();
    for (name, byte, bit) in [("first", 0usize, 0u8), ("middle", 31, 3), ("last", 63, 5)] {
        let mut flipped = sig;
        flipped[byte] ^= 1 << bit;
        cases.err(
            &format!("signature_bit_flipped_{name}"),
            "one signature bit flipped",
            &format!("{hs}.{ps}.{}", b64(&flipped)),
            now,
            "bad_signature",
        );
    }
    cases.err(
        "signed_by_outsider",
        "kid k1 but signed by a key outside the set",
        &sign(&header("k1"), &payload(&base), &keys.outsider),
        now,
        "bad_signature",
    );
    cases.err(
        "signature_non_canonical_s",
        "S + l: same signature, non-canonical scalar",
        &format!("{hs}.{ps}.{}", b64(&non_canonical(sig))),
        now,
        "bad_signature",
    );
    let input = format!("{hs}.{ps}");
    let weak = small_order_r(&input, &keys.k1);
    assert!(
        keys.k1
            .verifying_key()
            .verify(
                input.as_bytes(),
                &ed25519_dalek::Signature::from_bytes(&weak)
            )
            .is_ok(),
        "non-strict verify accepts it"
    );
    assert!(
        keys.k1
            .verifying_key()
            .verify_strict(
                input.as_bytes(),
                &ed25519_dalek::Signature::from_bytes(&weak)
            )
            .is_err()
    );
    cases.err(
        "signature_small_order_r",
        "R is the identity point: accepted by non-strict Ed25519, refused by strict",
        &format!("{input}.{}", b64(&weak)),
        now,
        "bad_signature",
    );
    cases.err(
        "signature_empty",
        "an empty signature segment",
        &format!("{input}."),
        now,
        "bad_signature",
    );
    cases.err(
        "signature_63_bytes",
        "truncated to 63 bytes",
        &format!("{input}.{}", b64(&sig[..63])),
        now,
        "bad_signature",
    );
    cases.err(
        "signature_65_bytes",
        "a 65th byte appended",
        &format!("{input}.{}", b64(&[&sig[..], &[0]].concat())),
        now,
        "bad_signature",
    );
    cases.err(
        "truncated_two_chars",
        "the last two characters cut (a valid base64 length, 63 bytes)",
        &valid[..valid.len() - 2],
        now,
        "bad_signature",
    );
    cases.err(
        "signature_zero",
        "64 zero bytes",
        &format!("{input}.{}", b64(&[0; 64])),
        now,
        "bad_signature",
    );
    let mut ex = base.clone();
    ex.exp = IAT;
    ex.iss = "https://evil.test".into();
    let expired_forged = format!(
        "{}.{}",
        segments(&header("k1").to_string(), &payload(&ex).to_string()),
        ss
    );
    cases.err(
        "order_signature_before_claims",
        "expired, wrong issuer and a bad signature: the signature decides",
        &expired_forged,
        now,
        "bad_signature",
    );

    // --- 7: payload -------------------------------------------------------------
    let raw = |payload: &str| sign_raw(&header("k1").to_string(), payload, &keys.k1);
    let missing = |claim: &str| {
        let mut p = payload(&base);
        p.as_object_mut().unwrap().remove(claim);
        raw(&p.to_string())
    };
    for claim in [
        "iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "roles", "perms",
    ] {
        cases.err(
            &format!("claim_missing_{claim}"),
            &format!("signed, but without {claim}"),
            &missing(claim),
            now,
            "malformed",
        );
    }
    let typed = |claim: &str, value: Value| {
        let mut p = payload(&base);
        p[claim] = value;
        raw(&p.to_string())
    };
    for (name, claim, value) in [
        ("exp_float", "exp", json!(IAT as f64 + 900.5)),
        ("exp_string", "exp", json!((IAT + 900).to_string())),
        ("exp_negative", "exp", json!(-1)),
        ("iat_exponent", "iat", json!(1.7672256e9)),
        ("sub_number", "sub", json!(42)),
        ("roles_string", "roles", json!("admin")),
        ("perms_number_item", "perms", json!(["a.b", 1])),
        ("aud_number", "aud", json!(7)),
        ("aud_null", "aud", Value::Null),
        ("tid_number", "tid", json!(1)),
        ("amr_string", "amr", json!("pwd")),
    ] {
        cases.err(
            &format!("claim_{name}"),
            &format!("signed, but {claim} has the wrong type"),
            &typed(claim, value),
            now,
            "malformed",
        );
    }
    let dup = payload(&base).to_string().replacen(
        "\"iss\":",
        "\"iss\":\"https://evil.test\",\"iss\":",
        1,
    );
    cases.err(
        "claim_duplicate",
        "iss given twice",
        &raw(&dup),
        now,
        "malformed",
    );
    cases.err(
        "payload_not_json",
        "signed text that is not JSON",
        &raw("hello"),
        now,
        "malformed",
    );
    cases.err(
        "payload_json_array",
        "signed JSON array",
        &raw("[1,2]"),
        now,
        "malformed",
    );
    cases.err(
        "payload_trailing_garbage",
        "signed JSON followed by more text",
        &raw(&format!("{} x", payload(&base))),
        now,
        "malformed",
    );
    let bad_b64_payload = format!("{}.!!!!", b64(header("k1").to_string().as_bytes()));
    let sig_bad = keys.k1.sign(bad_b64_payload.as_bytes()).to_bytes();
    cases.err(
        "payload_not_base64",
        "a signed payload segment that is not base64url",
        &format!("{bad_b64_payload}.{}", b64(&sig_bad)),
        now,
        "malformed",
    );

    // --- 8, 9: time ------------------------------------------------------------
    let exp = base.exp;
    cases.add(
        "time_exp",
        "now = exp, inside the leeway",
        &valid,
        exp,
        expected(&base),
    );
    cases.add(
        "time_exp_leeway_minus_one",
        "now = exp + leeway - 1",
        &valid,
        exp + LEEWAY - 1,
        expected(&base),
    );
    cases.err(
        "time_exp_leeway",
        "now = exp + leeway: expired",
        &valid,
        exp + LEEWAY,
        "expired",
    );
    cases.err(
        "time_long_expired",
        "a day after exp",
        &valid,
        exp + 86_400,
        "expired",
    );
    cases.err(
        "time_exp_no_leeway",
        "now = exp with leeway 0",
        &valid,
        exp,
        "expired",
    )["leeway"] = json!(0);
    cases.add(
        "time_exp_minus_one_no_leeway",
        "now = exp - 1 with leeway 0",
        &valid,
        exp - 1,
        expected(&base),
    )["leeway"] = json!(0);
    cases.add(
        "time_nbf_leeway",
        "now = nbf - leeway: valid",
        &valid,
        IAT - LEEWAY,
        expected(&base),
    );
    cases.err(
        "time_nbf_leeway_plus_one",
        "now = nbf - leeway - 1: not yet valid",
        &valid,
        IAT - LEEWAY - 1,
        "not_yet_valid",
    );
    let mut future_iat = base.clone();
    future_iat.iat = now + LEEWAY + 1;
    future_iat.exp = future_iat.iat + TTL;
    cases.err(
        "time_iat_future",
        "iat beyond now + leeway",
        &sign(&header("k1"), &payload(&future_iat), &keys.k1),
        now,
        "not_yet_valid",
    );
    let mut c = base.clone();
    c.exp = u64::MAX;
    cases.add(
        "time_exp_max",
        "exp = 2^64 - 1 does not overflow",
        &sign(&header("k1"), &payload(&c), &keys.k1),
        now,
        expected(&c),
    );
    let mut c = base.clone();
    c.iss = "https://evil.test".into();
    c.exp = IAT;
    cases.err(
        "order_expired_before_issuer",
        "expired and wrong issuer: expiry is checked first",
        &sign(&header("k1"), &payload(&c), &keys.k1),
        now,
        "expired",
    );

    // --- 10, 11: issuer and audience ----------------------------------------------
    for (name, iss) in [
        ("other", "https://evil.test"),
        ("trailing_slash", "https://auth.edgeauth.test/"),
        ("case", "https://AUTH.edgeauth.test"),
    ] {
        let mut c = base.clone();
        c.iss = iss.into();
        cases.err(
            &format!("iss_{name}"),
            &format!("iss {iss}"),
            &sign(&header("k1"), &payload(&c), &keys.k1),
            now,
            "wrong_issuer",
        );
    }
    for (name, aud) in [
        ("other", vec!["web"]),
        ("array_without", vec!["web", "admin"]),
        ("empty_array", vec![]),
        ("prefix", vec!["api.edgeauth"]),
    ] {
        let mut c = base.clone();
        c.aud = aud.into_iter().map(String::from).collect();
        let mut p = payload(&c);
        p["aud"] = json!(c.aud);
        cases.err(
            &format!("aud_{name}"),
            "no aud value is the audience",
            &sign(&header("k1"), &p, &keys.k1),
            now,
            "wrong_audience",
        );
    }
    let mut c = base.clone();
    c.iss = "https://evil.test".into();
    c.aud = vec!["web".into()];
    cases.err(
        "order_issuer_before_audience",
        "wrong issuer and audience: issuer first",
        &sign(&header("k1"), &payload(&c), &keys.k1),
        now,
        "wrong_issuer",
    );

    // --- 12: revocation -----------------------------------------------------------
    cases.err(
        "revoked",
        "sid on the caller's revocation list",
        &valid,
        now,
        "revoked",
    )["revoked"] = json!([base.sid, "other"]);
    cases.add(
        "not_revoked",
        "other sessions revoked",
        &valid,
        now,
        expected(&base),
    )["revoked"] = json!(["other"]);
    let mut c = base.clone();
    c.aud = vec!["web".into()];
    cases.err(
        "order_audience_before_revoked",
        "wrong audience and revoked: audience first",
        &sign(&header("k1"), &payload(&c), &keys.k1),
        now,
        "wrong_audience",
    )["revoked"] = json!([base.sid]);

    json!({
        "description": "edgeauth access-token vectors (docs/tokens.md). For each case, verify `token` with the key set `jwks`, `issuer`, `audience`, leeway `leeway` (a case may override `leeway` and `require_type`, default true) at time `now` (seconds), treating the sessions in the case's `revoked` (default none) as revoked; expect either `claims` (aud always as an array; tid and amr only when present) or the error `code`. Generated by crates/edgeauth-core/examples/gen-vectors.rs.",
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "leeway": LEEWAY,
        "jwks": jwks,
        "cases": cases.0,
    })
}

fn main() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/tokens.json"
    ));
    let text = serde_json::to_string_pretty(&build()).unwrap() + "\n";
    if std::env::args().any(|a| a == "--check") {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != text {
            eprintln!("{} is out of date: run the generator", path.display());
            std::process::exit(1);
        }
        println!("{} is up to date", path.display());
    } else {
        std::fs::write(&path, text).unwrap();
        println!("wrote {}", path.display());
    }
}
