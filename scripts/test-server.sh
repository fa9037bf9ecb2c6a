#!/usr/bin/env bash
# The issuing server (server/, crate edgeauth-server): lint and test.
# Called by scripts/test.sh with CARGO_TARGET_DIR exported; runs alone too.
#
#   scripts/test-server.sh
#
# SQLite is compiled in (libsqlite3-sys "bundled"), so the only system need
# is a C compiler.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cc >/dev/null 2>&1; then
  echo "test-server: installing a C compiler (for the bundled SQLite)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
fi
rustup component add clippy >/dev/null 2>&1 || true

echo "clippy -p edgeauth-server --all-targets"
cargo clippy -q -p edgeauth-server --all-targets -- -D warnings

echo "test -p edgeauth-server"
cargo test -q -p edgeauth-server
