//! Reading the shared vectors in `tests/vectors/`, for the tests and the
//! benchmark. Included with `#[path]`.

use edgeauth_core::{KeySet, Verifier};
use serde_json::Value;

/// Reads a file of `tests/vectors/`.
pub(crate) fn vector_file(name: &str) -> Value {
    let path = format!("{}/../../tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The verifier `tokens.json` describes: its key set, issuer, audience and
/// leeway, with the type check on.
pub(crate) fn token_verifier(tokens: &Value) -> Verifier {
    Verifier::new(
        KeySet::from_jwks(&tokens["jwks"].to_string()).unwrap(),
        tokens["issuer"].as_str().unwrap(),
        tokens["audience"].as_str().unwrap(),
    )
    .with_leeway(tokens["leeway"].as_u64().unwrap())
}

/// The case of `tokens.json` with this name.
pub(crate) fn token_case<'a>(tokens: &'a Value, name: &str) -> &'a Value {
    let cases = tokens["cases"].as_array().unwrap();
    cases
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}
