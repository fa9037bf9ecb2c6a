//! Every file of `tests/vectors/`, run through the gate's decision logic
//! ([`Config::from_vars`] and [`Gate::decide`]), so the edge cannot drift
//! from the core, the server and the npm package.
//!
//! Where the gate deliberately differs from a bare verifier, the test says
//! so: it has no revocation list (access tokens are short-lived and the
//! server checks sessions), it always requires `typ` `at+jwt`, and it
//! refuses a key set with no usable key as a configuration error.

use serde_json::Value;

use edgeauth_core::{Claims, KeySet, SigningKey};

use crate::{
    config::{self, Config},
    gate::{self, Decision, Gate},
};

fn vector_file(name: &str) -> Value {
    let path = format!("{}/../tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// Settings from pairs, the way the glue reads `[vars]`.
fn config(vars: &[(&str, &str)]) -> Result<Config, config::ConfigError> {
    Config::from_vars(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    })
}

/// What the gate does, in the vectors' vocabulary: `allow` or a code.
fn outcome(decision: &Decision) -> &'static str {
    match decision {
        Decision::Forward { .. } => "allow",
        Decision::Deny(denial) => denial.code(),
    }
}

const ISSUER: &str = "https://auth.vectors.test";
const AUDIENCE: &str = "api";
const NOW: u64 = 1_767_225_660;
const ALL_ROUTES_PROTECTED: &str = r#"[{"path": "/**", "require": {}}]"#;

#[test]
fn token_vectors() {
    let file = vector_file("tokens.json");
    let jwks = file["jwks"].to_string();
    let (mut forwarded, mut denied) = (0, 0);
    for case in file["cases"].as_array().unwrap() {
        let name = str_of(case, "name");
        let leeway = case
            .get("leeway")
            .unwrap_or(&file["leeway"])
            .as_u64()
            .unwrap()
            .to_string();
        let config = config(&[
            (config::ISSUER, str_of(&file, "issuer")),
            (config::AUDIENCE, str_of(&file, "audience")),
            (config::JWKS, &jwks),
            (config::ORIGIN, "https://origin.test"),
            (config::ROUTES, ALL_ROUTES_PROTECTED),
            (config::LEEWAY, &leeway),
        ])
        .unwrap();
        let gate = Gate::new(&config);
        let token = str_of(case, "token");
        let now = case["now"].as_u64().unwrap();
        let decision = gate.decide("GET", "/resource", Some(token), now);
        // Presented again, a remembered token must be decided the same way.
        let again = gate.decide("GET", "/resource", Some(token), now);
        assert_eq!(again, decision, "case {name}, second time");
        let expect = &case["expect"];
        let about = format!("case {name}: {}", case["description"]);

        if case.get("require_type") == Some(&Value::Bool(false)) {
            // The gate always asks for an access token (RFC 9068).
            assert_eq!(outcome(&decision), "wrong_type", "{about}");
            continue;
        }
        match (expect.get("claims"), expect.get("error")) {
            (Some(claims), _) => {
                let Decision::Forward {
                    identity: Some(identity),
                    ..
                } = &decision
                else {
                    panic!("{about}: {decision:?}");
                };
                let [(_, sub), (_, sid), (_, roles)] = identity.headers();
                assert_eq!(percent_decode(&sub), str_of(claims, "sub"), "{about}");
                assert_eq!(percent_decode(&sid), str_of(claims, "sid"), "{about}");
                let roles: Vec<_> = roles.split(',').map(percent_decode).collect();
                let expected = strings(&claims["roles"]);
                if expected.is_empty() {
                    assert_eq!(roles, [""], "{about}");
                } else {
                    assert_eq!(roles, expected, "{about}");
                }
                forwarded += 1;
            }
            (None, Some(code)) if code == "revoked" => {
                // No revocation list at the edge: the token's own checks pass.
                assert_eq!(outcome(&decision), "allow", "{about}");
            }
            (None, Some(code)) => {
                assert_eq!(outcome(&decision), code.as_str().unwrap(), "{about}");
                denied += 1;
            }
            (None, None) => panic!("{about}: no expectation"),
        }
    }
    assert!(
        forwarded > 5 && denied > 50,
        "{forwarded} forwarded, {denied} denied"
    );
}

#[test]
fn keyset_vectors() {
    for case in vector_file("keysets.json")["cases"].as_array().unwrap() {
        let name = str_of(case, "name");
        let got = config(&[
            (config::ISSUER, ISSUER),
            (config::AUDIENCE, AUDIENCE),
            (config::JWKS, str_of(case, "jwks")),
            (config::ORIGIN, "https://origin.test"),
            (config::ROUTES, ALL_ROUTES_PROTECTED),
        ]);
        match case["expect"].get("kids").map(strings) {
            Some(kids) if !kids.is_empty() => {
                let gate = Gate::new(&got.unwrap_or_else(|e| panic!("{name}: {e}")));
                assert_eq!(gate.keys().kids().collect::<Vec<_>>(), kids, "{name}");
            }
            // A set the core rejects, or one with no usable key: the gate
            // refuses to start and names the setting.
            _ => {
                let err = got.expect_err(name);
                // An empty value counts as not set: then no key source is.
                let setting = if str_of(case, "jwks").trim().is_empty() {
                    config::JWKS_URL
                } else {
                    config::JWKS
                };
                assert_eq!(err.setting(), setting, "{name}");
            }
        }
    }
}

/// A real token with the vector's roles and permissions.
fn token_for(key: &SigningKey, grants: &Value) -> String {
    key.sign(&Claims {
        iss: ISSUER.into(),
        aud: vec![AUDIENCE.into()],
        sub: "vector-user".into(),
        sid: "vector-session".into(),
        jti: "vector".into(),
        iat: NOW,
        nbf: NOW,
        exp: NOW + 900,
        roles: strings(&grants["roles"]),
        perms: strings(&grants["perms"]),
        ..Claims::default()
    })
    .unwrap()
}

fn gate_for(key: &SigningKey, routes: &str) -> Result<Gate, config::ConfigError> {
    let mut keys = KeySet::new();
    keys.insert(key.kid(), &key.public_key()).unwrap();
    let jwks = keys.to_jwks();
    config(&[
        (config::ISSUER, ISSUER),
        (config::AUDIENCE, AUDIENCE),
        (config::JWKS, &jwks),
        (config::ORIGIN, "https://origin.test"),
        (config::ROUTES, routes),
    ])
    .map(|c| Gate::new(&c))
}

#[test]
fn policy_vectors() {
    let file = vector_file("policy.json");
    let key = SigningKey::from_seed("policy", &[9; 32]);
    let mut checked = 0;
    for set in file["rule_sets"].as_array().unwrap() {
        let gate = gate_for(&key, str_of(set, "rules")).unwrap();
        for case in set["cases"].as_array().unwrap() {
            let token = (!case["token"].is_null()).then(|| token_for(&key, &case["token"]));
            let decision = gate.decide(
                str_of(case, "method"),
                str_of(case, "path"),
                token.as_deref(),
                NOW,
            );
            let about = format!("rule set {}: {}", set["name"], case["description"]);
            assert_eq!(outcome(&decision), str_of(case, "expect"), "{about}");
            if let Decision::Forward { url, identity } = &decision {
                // The origin gets the canonical path, then the query as sent.
                let query = str_of(case, "path").split_once('?').map(|(_, q)| q);
                let want = format!(
                    "https://origin.test{}{}",
                    str_of(case, "canonical"),
                    query.map(|q| format!("?{q}")).unwrap_or_default()
                );
                assert_eq!(url, &want, "{about}");
                // Identity headers exactly when a token was checked and passed.
                let protected =
                    gate.decide(str_of(case, "method"), str_of(case, "path"), None, NOW);
                assert_eq!(identity.is_some(), outcome(&protected) == "missing_token");
            }
            checked += 1;
        }
    }
    for case in file["invalid_rule_sets"].as_array().unwrap() {
        let err = gate_for(&key, str_of(case, "rules")).expect_err(str_of(case, "name"));
        assert_eq!(err.setting(), config::ROUTES, "{}", case["name"]);
    }
    for case in file["requirements"].as_array().unwrap() {
        let routes = format!(r#"[{{"path": "/**", "require": {}}}]"#, case["require"]);
        let gate = gate_for(&key, &routes).unwrap();
        let token = token_for(&key, &case["token"]);
        let decision = gate.decide("GET", "/any", Some(&token), NOW);
        assert_eq!(outcome(&decision), str_of(case, "expect"), "{case}");
        checked += 1;
    }
    assert!(checked > 50, "{checked}");
}

#[test]
fn forwarded_header_vectors() {
    let cases = vector_file("policy.json")["forwarded_headers"]["cases"].clone();
    let cases = cases.as_array().unwrap();
    assert!(cases.len() > 10);
    for case in cases {
        let name = str_of(case, "name");
        let forwarded = case["forwarded"].as_bool().unwrap();
        assert_eq!(!gate::strips_header(name), forwarded, "{case}");
        if !forwarded {
            // What src/forward.js relies on to ask about few names.
            let lower = name.to_ascii_lowercase();
            assert!(
                lower.contains("edgeauth") || lower.contains("method"),
                "{name}"
            );
        }
    }
}

#[test]
fn rfc8037_vector() {
    // The RFC's public key is a usable key for the gate...
    let file = vector_file("rfc8037.json");
    let jwks = format!(
        r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"rfc","x":"{}"}}]}}"#,
        str_of(&file["jwk"], "x")
    );
    let c = config(&[
        (config::ISSUER, ISSUER),
        (config::AUDIENCE, AUDIENCE),
        (config::JWKS, &jwks),
        (config::ORIGIN, "https://origin.test"),
        (config::ROUTES, ALL_ROUTES_PROTECTED),
    ])
    .unwrap();
    let gate = Gate::new(&c);
    assert!(gate.keys().contains("rfc"));
    // ...but its JWS, good only at the signature level (no `typ`, no `kid`,
    // no claims), is not an access token, so the edge refuses it.
    let decision = gate.decide("GET", "/", Some(str_of(&file, "jws")), NOW);
    assert_eq!(outcome(&decision), "wrong_type");
    // The published JWK itself carries the private `d`: never a trusted key.
    let err = config(&[
        (config::ISSUER, ISSUER),
        (config::AUDIENCE, AUDIENCE),
        (config::JWKS, &format!(r#"{{"keys":[{}]}}"#, file["jwk"])),
        (config::ORIGIN, "https://origin.test"),
        (config::ROUTES, ALL_ROUTES_PROTECTED),
    ])
    .unwrap_err();
    assert_eq!(err.setting(), config::JWKS);
}

/// Undoes the identity headers' percent-encoding, as an origin would.
fn percent_decode(value: &str) -> String {
    let mut bytes = Vec::new();
    let mut rest = value.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(&tail[..2]).unwrap();
            bytes.push(u8::from_str_radix(hex, 16).unwrap());
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).unwrap()
}
