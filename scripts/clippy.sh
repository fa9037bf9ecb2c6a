#!/usr/bin/env bash
# Clippy per package and per feature set, so that one package's std features
# cannot hide a no_std break in another.
set -euo pipefail
cd "$(dirname "$0")/.."

run() { echo "clippy $*"; cargo clippy -q "$@" -- -D warnings; }

run -p edgeauth-core --lib
run -p edgeauth-core --lib --features fast
run -p edgeauth-core --lib --target wasm32-unknown-unknown
run -p edgeauth-core --all-targets --features sign
for pkg in $(cargo metadata -q --no-deps --format-version 1 | python3 -c 'import json,sys; print(" ".join(p["name"] for p in json.load(sys.stdin)["packages"] if p["name"] != "edgeauth-core"))'); do
  run -p "$pkg" --all-targets
done
