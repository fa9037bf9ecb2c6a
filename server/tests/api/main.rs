//! The server's integration tests: one binary. Most tests run the real app
//! on an ephemeral loopback port with a manual clock and drive it with a
//! real HTTP client; `binary` spawns the `edgeauth` executable itself.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core,
    missing_docs,
    unreachable_pub,
    reason = "tests"
)]

mod admin;
mod binary;
mod cors;
mod email;
mod endpoints;
mod keys;
mod metrics;
mod multi;
mod protection;
mod refresh;
mod revocations;
mod serving;
mod store;
mod support;
