#!/usr/bin/env bash
# The edge gate (worker/, issue 5): clippy (native and wasm32), the native
# unit tests of the gate logic with every shared vector, the worker-build
# release build, and the built Worker in workerd (wrangler dev, offline)
# in front of a local echo origin and JWKS. Called by scripts/test.sh;
# runs on its own too.
#
#   scripts/test-worker.sh
#
# Installs what a fresh machine lacks: the wasm32 target, worker-build
# 0.8.7 (cargo, about 11 minutes of CPU, only when missing), the
# wasm-bindgen CLI matching Cargo.lock (scripts/ensure-wasm-bindgen.sh),
# and worker/'s npm packages (wrangler with workerd, binaryen, esbuild).
# The benchmark (worker/bench/run.js, needs wrk) is not run here.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${EDGEAUTH_TARGET_DIR:-$HOME/.cache/edgeauth/target}}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> worker: %s\n' "$*"; }

step "toolchain"
rustup target add wasm32-unknown-unknown >/dev/null

step "clippy (native gate logic, with and without fast; wasm32 Worker)"
cargo clippy -q -p edgeauth-worker --all-targets -- -D warnings
cargo clippy -q -p edgeauth-worker --lib --no-default-features -- -D warnings
cargo clippy -q -p edgeauth-worker --lib --target wasm32-unknown-unknown -- -D warnings

step "native tests (gate logic, shared vectors)"
cargo test -q -p edgeauth-worker

step "npm packages (worker/)"
if [ -x worker/node_modules/.bin/wrangler ] && [ worker/node_modules/.package-lock.json -nt worker/package-lock.json ]; then
  echo "up to date"
else
  (cd worker && npm ci --no-audit --no-fund --loglevel=error)
fi

step "worker-build release build"
worker/build.sh

step "workerd tests (wrangler dev, local origin and JWKS)"
(cd worker && npm test)
