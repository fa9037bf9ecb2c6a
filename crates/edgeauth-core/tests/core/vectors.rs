//! Every file of `tests/vectors/`, run through the public API.

use ed25519_dalek::Signer;
use edgeauth_core::{Claims, KeySet, Requirement, RoutePolicy, SigningKey, Verifier};
use serde_json::{Value, json};

use crate::{
    b64::decode as b64,
    support::{token_case, token_verifier, vector_file},
};

/// The claims in the vectors' representation (aud always an array; tid and
/// amr only when present), as the core itself writes them.
fn claims_json(c: &Claims) -> Value {
    serde_json::from_str(&c.to_json()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn token_vectors() {
    let file = vector_file("tokens.json");
    let base = token_verifier(&file);
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() > 100);
    let mut seen_codes = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut verifier = base.clone().with_type_required(
            case.get("require_type")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        );
        if let Some(leeway) = case.get("leeway") {
            verifier = verifier.with_leeway(leeway.as_u64().unwrap());
        }
        let revoked = case.get("revoked").map(strings).unwrap_or_default();
        let got = verifier.verify_with(
            case["token"].as_str().unwrap(),
            case["now"].as_u64().unwrap(),
            |sid| revoked.iter().any(|r| r == sid),
        );
        let got = match got {
            Ok(claims) => {
                // A cache re-checking only the times agrees at the same moment.
                assert_eq!(
                    verifier.check_times(&claims, case["now"].as_u64().unwrap()),
                    Ok(())
                );
                json!({ "claims": claims_json(&claims) })
            }
            Err(e) => {
                seen_codes.insert(e.code());
                json!({ "error": e.code() })
            }
        };
        assert_eq!(got, case["expect"], "case {name}: {}", case["description"]);
    }
    let all: std::collections::BTreeSet<_> = edgeauth_core::VerifyError::ALL
        .iter()
        .map(|e| e.code())
        .collect();
    assert_eq!(seen_codes, all, "every error code has a vector");
}

#[test]
fn check_times_alone_follows_the_time_rules() {
    let file = vector_file("tokens.json");
    let verifier = token_verifier(&file);
    let valid = token_case(&file, "valid_handmade");
    let claims = verifier
        .verify(
            valid["token"].as_str().unwrap(),
            valid["now"].as_u64().unwrap(),
        )
        .unwrap();
    // Every time vector on the same token: check_times alone gives its outcome.
    let mut checked = 0;
    for case in file["cases"].as_array().unwrap() {
        let same_token = case["token"] == valid["token"]
            && case.get("leeway").is_none()
            && case.get("revoked").is_none();
        if !same_token {
            continue;
        }
        let got = verifier
            .check_times(&claims, case["now"].as_u64().unwrap())
            .map_or_else(|e| e.code(), |()| "ok");
        let want = case["expect"]["error"].as_str().unwrap_or("ok");
        assert_eq!(got, want, "{}", case["name"]);
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} time vectors");
}

#[test]
fn keyset_vectors() {
    for case in vector_file("keysets.json")["cases"].as_array().unwrap() {
        let got = match KeySet::from_jwks(case["jwks"].as_str().unwrap()) {
            Ok(set) => json!({ "kids": set.kids().collect::<Vec<_>>() }),
            Err(e) => json!({ "error": e.code() }),
        };
        assert_eq!(got, case["expect"], "case {}", case["name"]);
    }
}

fn token_claims(token: &Value) -> Option<Claims> {
    (!token.is_null()).then(|| Claims {
        roles: strings(&token["roles"]),
        perms: strings(&token["perms"]),
        ..Claims::default()
    })
}

#[test]
fn policy_vectors() {
    let file = vector_file("policy.json");
    for set in file["rule_sets"].as_array().unwrap() {
        let policy = RoutePolicy::from_json(set["rules"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("rule set {}: {e}", set["name"]));
        for case in set["cases"].as_array().unwrap() {
            let claims = token_claims(&case["token"]);
            let (method, path) = (
                case["method"].as_str().unwrap(),
                case["path"].as_str().unwrap(),
            );
            let got = policy.check(method, path, claims.as_ref());
            let got = got.map_or_else(|e| e.code(), |()| "allow");
            let about = format!("rule set {}: {}", set["name"], case["description"]);
            assert_eq!(got, case["expect"], "{about}");
            // Every allowed case names its canonical path: the one routed.
            if got == "allow" {
                let canonical = policy.canonical_path(path).unwrap();
                assert_eq!(canonical.as_str(), case["canonical"], "{about}");
                let routed = policy.route_canonical(method, &canonical);
                assert_eq!(routed, policy.route(method, path), "{about}");
            }
        }
    }
    for case in file["invalid_rule_sets"].as_array().unwrap() {
        let err = RoutePolicy::from_json(case["rules"].as_str().unwrap())
            .expect_err(case["name"].as_str().unwrap());
        assert_eq!(err.code(), case["expect"], "{}", case["name"]);
        assert!(!err.to_string().is_empty());
    }
    for case in file["requirements"].as_array().unwrap() {
        let requirement = Requirement::from_json(&case["require"].to_string()).unwrap();
        let claims = token_claims(&case["token"]).unwrap();
        let got = requirement
            .check(&claims)
            .map_or_else(|e| e.code(), |()| "allow");
        assert_eq!(got, case["expect"], "{case}");
    }
}

#[test]
fn rfc8037_appendix_a4_signature() {
    let file = vector_file("rfc8037.json");
    // The public key is a valid, strong Ed25519 key for our key sets.
    let jwks = format!(
        r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"k","x":"{}"}}]}}"#,
        file["jwk"]["x"].as_str().unwrap()
    );
    assert_eq!(KeySet::from_jwks(&jwks).unwrap().len(), 1);

    let jws = file["jws"].as_str().unwrap();
    let (input, signature) = jws.rsplit_once('.').unwrap();
    let d: [u8; 32] = b64(file["jwk"]["d"].as_str().unwrap()).try_into().unwrap();
    let x: [u8; 32] = b64(file["jwk"]["x"].as_str().unwrap()).try_into().unwrap();
    let signature: [u8; 64] = b64(signature).try_into().unwrap();
    assert_eq!(
        b64(input.split_once('.').unwrap().1),
        file["payload"].as_str().unwrap().as_bytes()
    );

    // Our signing key derives the RFC's public key, and signs identically.
    assert_eq!(SigningKey::from_seed("k", &d).public_key(), x);
    let dalek = ed25519_dalek::SigningKey::from_bytes(&d);
    assert_eq!(dalek.sign(input.as_bytes()).to_bytes(), signature);
    // Strict verification accepts it.
    let key = ed25519_dalek::VerifyingKey::from_bytes(&x).unwrap();
    key.verify_strict(
        input.as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&signature),
    )
    .unwrap();
}

#[test]
fn minted_tokens_verify() {
    let key = SigningKey::from_seed("kid-1", &[7; 32]);
    let mut set = KeySet::new();
    set.insert(key.kid(), &key.public_key()).unwrap();
    let claims = Claims {
        iss: "https://i".into(),
        aud: vec!["a".into(), "b".into()],
        sub: "u".into(),
        sid: "s".into(),
        jti: "j".into(),
        iat: 100,
        nbf: 100,
        exp: 1000,
        roles: vec!["r".into()],
        perms: vec![],
        tid: Some("t".into()),
        amr: None,
    };
    let token = key.sign(&claims).unwrap();
    assert!(
        !format!("{key:?}").contains(&format!("{:?}", key.seed())),
        "Debug hides the seed"
    );
    let verifier = Verifier::new(set, "https://i", "b");
    assert_eq!(verifier.verify(&token, 500).unwrap(), claims);
    let mut too_late = claims.clone();
    too_late.exp = u64::MAX;
    assert!(
        key.sign(&too_late).is_err(),
        "times beyond i64 cannot be minted"
    );
}
