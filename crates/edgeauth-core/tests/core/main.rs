//! The core's one integration-test binary: the shared vectors in
//! `tests/vectors/`, the pinned error codes, and property tests.

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

#[path = "../support/b64.rs"]
mod b64;
mod codes;
mod props;
mod vectors;

use serde_json::Value;

/// Reads a file of `tests/vectors/`.
pub(crate) fn vector_file(name: &str) -> Value {
    let path = format!("{}/../../tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}
