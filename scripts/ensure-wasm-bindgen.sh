#!/usr/bin/env bash
# Makes sure the wasm-bindgen CLI matches the `wasm-bindgen` crate in
# Cargo.lock, installing it when it does not, and prints its path.
#
#   WASM_BINDGEN="$(scripts/ensure-wasm-bindgen.sh)"
#   "$WASM_BINDGEN" --target web --out-dir OUT target/.../crate.wasm
#
# Idempotent: when `wasm-bindgen --version` (on PATH or in ~/.cargo/bin)
# already names the locked version, nothing is built. Otherwise it runs
# `cargo install wasm-bindgen-cli --version X` (without --locked: the CLI's
# own lockfile pins a crate the registry mirror lacks), which takes 7+ minutes
# of CPU. Progress goes to stderr; stdout is only the path. The install is
# serialized with the other tool installs and built in the tools' own
# target directory (scripts/tools-lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tools-lib.sh

version="$(awk '
  $0 == "[[package]]" { name = "" }
  $1 == "name" && $3 == "\"wasm-bindgen\"" { name = "wasm-bindgen" }
  name == "wasm-bindgen" && $1 == "version" { gsub(/"/, "", $3); print $3; exit }
' Cargo.lock)"
if [ -z "$version" ]; then
  echo "ensure-wasm-bindgen: no wasm-bindgen in Cargo.lock" >&2
  exit 1
fi

matches() { [ -x "$1" ] && [ "$("$1" --version 2>/dev/null)" = "wasm-bindgen $version" ]; }

found() {
  local candidate
  for candidate in "$(command -v wasm-bindgen || true)" "${CARGO_HOME:-$HOME/.cargo}/bin/wasm-bindgen"; do
    if [ -n "$candidate" ] && matches "$candidate"; then echo "$candidate"; return 0; fi
  done
  return 1
}

found && exit 0
# Another run (scripts/test.sh's background install) may be at it: wait.
tools_lock
found && exit 0
echo "ensure-wasm-bindgen: installing wasm-bindgen-cli $version (several minutes)" >&2
tools_install wasm-bindgen-cli --version "$version"
installed="${CARGO_HOME:-$HOME/.cargo}/bin/wasm-bindgen"
if ! matches "$installed"; then
  echo "ensure-wasm-bindgen: $installed is not wasm-bindgen $version" >&2
  exit 1
fi
echo "$installed"
