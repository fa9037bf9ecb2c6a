#!/usr/bin/env bash
# Cross-component tests (tests/e2e/): the live issuing server with the npm
# package (and the edge gate). Runs after scripts/test-server.sh and
# scripts/test-pkg.sh, which build what it uses; runs alone too.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

cargo build -q -p edgeauth-server --bin edgeauth
export EDGEAUTH_SERVER_BIN="$target_dir/debug/edgeauth"
[ -f pkg/dist/node.js ] && [ -f pkg/dist/edgeauth_wasm_bg.wasm ] || (cd pkg && npm run build)

# One file at a time: the revocation tests bound how soon a revocation
# shows, and the rotation test loads its gate for over a minute; side by
# side on 2 cores they would starve each other.
node --test --test-concurrency=1 --test-reporter=spec tests/e2e/*.test.mjs
