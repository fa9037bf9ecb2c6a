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

# Without --locked: the CLI's own lockfile pins a crate the registry mirror
# lacks.
tools_ensure wasm-bindgen "wasm-bindgen $version" wasm-bindgen-cli --version "$version"
