//! Whole-token verification against a bare `verify_strict` of the same
//! signing input, measured in one run.
//!
//! ```text
//! cargo bench -p edgeauth-core --bench verify
//! ```
//!
//! Criterion reports each side; afterwards the two are timed interleaved
//! (alternating blocks, so machine noise hits both alike) and the median
//! ratio is printed. Target: at most 1.05x.
//!
//! Machine noise aside, instruction counts tell the same story exactly:
//!
//! ```text
//! for side in none full bare; do
//!   EDGEAUTH_BENCH_ONLY=$side valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/verify-*
//! done
//! ```

#![allow(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    reason = "std-only code"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    clippy::panic
)]

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::Criterion;
use ed25519_dalek::{Signature, VerifyingKey};
use edgeauth_core::Verifier;

#[path = "../tests/support/b64.rs"]
mod b64;
#[path = "../tests/support/vectors.rs"]
mod support;

use b64::decode;
use support::{token_case, token_verifier, vector_file};

struct Fixture {
    token: String,
    now: u64,
    verifier: Verifier,
    key: VerifyingKey,
    signature: Signature,
}

fn fixture() -> Fixture {
    let vectors = vector_file("tokens.json");
    let case = token_case(&vectors, "valid");
    let token = case["token"].as_str().unwrap().to_owned();
    let verifier = token_verifier(&vectors);
    let jwk = &vectors["jwks"]["keys"][0];
    let key =
        VerifyingKey::from_bytes(&decode(jwk["x"].as_str().unwrap()).try_into().unwrap()).unwrap();
    let signature = Signature::from_slice(&decode(token.rsplit_once('.').unwrap().1)).unwrap();
    Fixture {
        now: case["now"].as_u64().unwrap(),
        token,
        verifier,
        key,
        signature,
    }
}

impl Fixture {
    fn full(&self) {
        black_box(
            self.verifier
                .verify(black_box(&self.token), self.now)
                .unwrap(),
        );
    }

    fn bare(&self) {
        let input = black_box(&self.token).rsplit_once('.').unwrap().0;
        self.key
            .verify_strict(input.as_bytes(), black_box(&self.signature))
            .unwrap();
    }
}

fn time(iterations: u32, f: impl Fn()) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed()
}

fn main() {
    let fx = fixture();
    fx.full();
    fx.bare();

    // Instruction counting: `EDGEAUTH_BENCH_ONLY=full|bare|none` runs that
    // side 1000 times and exits, for `valgrind --tool=callgrind` (see README).
    if let Ok(only) = std::env::var("EDGEAUTH_BENCH_ONLY") {
        for _ in 0..1000 {
            match only.as_str() {
                "full" => fx.full(),
                "bare" => fx.bare(),
                _ => {}
            }
        }
        return;
    }

    // scripts/bench-core.sh runs only the interleaved part, in many processes.
    if std::env::var_os("EDGEAUTH_BENCH_INTERLEAVED_ONLY").is_none() {
        criterion_run(&fx);
    }
    interleaved(&fx);
}

fn criterion_run(fx: &Fixture) {
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("verify");
    group.bench_function("edgeauth_verify", |b| b.iter(|| fx.full()));
    group.bench_function("bare_verify_strict", |b| b.iter(|| fx.bare()));
    group.finish();
    c.final_summary();
}

fn interleaved(fx: &Fixture) {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not and
    // gets a quick smoke run.
    let quick =
        !std::env::args().any(|a| a == "--bench") || std::env::args().any(|a| a == "--test");
    // Short alternating rounds: a round that another process interrupts is
    // slow on one side only, so the median of the per-round ratios and the
    // ratio of each side's fastest round both resist that noise.
    let (rounds, iterations) = if quick { (3, 10) } else { (301, 300) };
    let mut ratios = Vec::new();
    let (mut full_best, mut bare_best) = (Duration::MAX, Duration::MAX);
    for round in 0..rounds {
        let (full, bare) = if round % 2 == 0 {
            let full = time(iterations, || fx.full());
            (full, time(iterations, || fx.bare()))
        } else {
            let bare = time(iterations, || fx.bare());
            (time(iterations, || fx.full()), bare)
        };
        full_best = full_best.min(full);
        bare_best = bare_best.min(bare);
        ratios.push(full.as_secs_f64() / bare.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let per_op = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(iterations);
    println!(
        "interleaved, {rounds} rounds x {iterations}: fastest round edgeauth verify {:.2} us, bare verify_strict {:.2} us, \
         ratio {:.3}x; median per-round ratio {:.3}x (quartiles {:.3}x..{:.3}x)",
        per_op(full_best),
        per_op(bare_best),
        full_best.as_secs_f64() / bare_best.as_secs_f64(),
        ratios[ratios.len() / 2],
        ratios[ratios.len() / 4],
        ratios[ratios.len() * 3 / 4],
    );
}
