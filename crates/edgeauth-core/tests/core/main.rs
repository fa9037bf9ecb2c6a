//! The core's one integration-test binary: the shared vectors in
//! `tests/vectors/`, the pinned error codes, the decisions the adapters
//! share, and property tests.

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
mod shared;
#[path = "../support/vectors.rs"]
mod support;
mod vectors;
