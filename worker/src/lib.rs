//! The edgeauth edge gate: a Cloudflare Worker that checks every request
//! with `edgeauth-core` and forwards only allowed ones to the origin.
//!
//! The decisions live in plain Rust (`gate.rs`, `config.rs`, `error.rs`)
//! and are tested natively; on `wasm32` the glue (`glue.rs`) reads the
//! request, asks the gate, and carries out its answer. The crate's only
//! public item is the Worker's `fetch` export.

// A Worker is std code; the core's no_std path lints do not apply here.
#![allow(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]
// Natively the crate is built for its tests only: what the wasm32 glue uses
// would count as dead code there (clippy for wasm32 still sees every use).
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod config;
mod error;
mod gate;
#[cfg(target_arch = "wasm32")]
mod glue;
mod trust;
#[cfg(test)]
mod vectors;
