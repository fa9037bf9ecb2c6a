#!/usr/bin/env bash
# Tests of the browser client @edgeauth/client (pkg/client/): Node unit tests
# of its logic, headless Chromium tests against live servers (`edgeauth
# serve`, and the real app on a manual clock:
# server/examples/test-clock-server.rs), and the size budget.
# scripts/test.sh runs it; it also runs alone:
#
#   scripts/test-client.sh
#
# On a fresh Debian machine it first installs what it lacks: pkg/client's
# npm dependencies (npm ci) and Debian's chromium. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n--> %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/edgeauth/target}"

step "tools: npm dependencies, chromium"
(cd pkg/client && npm ci --no-audit --no-fund --loglevel=error)
if [ ! -x /usr/bin/chromium ]; then
  as_root apt-get update -qq
  # The first dpkg run sometimes fails on a temporary file; once more then.
  as_root apt-get install -y -qq --no-install-recommends chromium ||
    as_root apt-get install -y -qq --no-install-recommends chromium
fi

step "build: the server, and the server on a manual clock"
cargo build -q -p edgeauth-server --bin edgeauth
cargo build -q -p edgeauth-server --example test-clock-server
export EDGEAUTH_SERVER_BIN="$CARGO_TARGET_DIR/debug/edgeauth"
export EDGEAUTH_CLOCK_SERVER_BIN="$CARGO_TARGET_DIR/debug/examples/test-clock-server"

step "node --test: unit tests and headless Chromium"
(cd pkg/client && EDGEAUTH_REQUIRE_BROWSER=1 node --test --test-reporter=spec test/*.test.js)

step "size budget"
(cd pkg/client && node bench/size.mjs)
