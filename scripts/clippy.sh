#!/usr/bin/env bash
# Clippy on the verifier core, per feature set and target, so that the
# server's std features cannot hide a no_std break. Every other package runs
# its own clippy in its scripts/test-*.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

run() { echo "clippy $*"; cargo clippy -q "$@" -- -D warnings; }

run -p edgeauth-core --lib
run -p edgeauth-core --lib --features fast
run -p edgeauth-core --lib --target wasm32-unknown-unknown
# The edge gate's set: the assertion signer without `sign`'s std.
run -p edgeauth-core --lib --features assertion-sign --target wasm32-unknown-unknown
run -p edgeauth-core --all-targets --features sign
