#!/usr/bin/env bash
# Builds the edge gate with worker-build (the root wrangler.toml's build
# command). Output: worker/build/ (index.js, the shim; index_bg.wasm).
#
#   worker/build.sh            # release build
#
# worker-build is pinned to the `worker` crate's version and installed with
# cargo when missing (scripts/ensure-worker-build.sh). worker-build downloads wasm-bindgen, wasm-opt and
# esbuild unless told where they are: when worker/node_modules has binaryen
# and esbuild (`npm install` in worker/) and a wasm-bindgen CLI matching
# Cargo.lock is at hand (scripts/ensure-wasm-bindgen.sh), those are used,
# so the build works offline.
set -euo pipefail
cd "$(dirname "$0")"

WORKER_BUILD="$(../scripts/ensure-worker-build.sh)"

if [ -z "${WASM_OPT_BIN:-}" ] && [ -x node_modules/.bin/wasm-opt ]; then
  export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
fi
if [ -z "${ESBUILD_BIN:-}" ] && [ -x node_modules/@esbuild/linux-x64/bin/esbuild ]; then
  export ESBUILD_BIN="$PWD/node_modules/@esbuild/linux-x64/bin/esbuild"
fi
if [ -z "${WASM_BINDGEN_BIN:-}" ] && [ -x ../scripts/ensure-wasm-bindgen.sh ]; then
  WASM_BINDGEN_BIN="$(../scripts/ensure-wasm-bindgen.sh)"
  export WASM_BINDGEN_BIN
fi

# Release settings chosen by measurement (docs/measurements.md, edge gate): speed
# first, the upload stays well under its 256 KiB gzip budget.
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${CARGO_PROFILE_RELEASE_OPT_LEVEL:-3}"
export CARGO_PROFILE_RELEASE_LTO="${CARGO_PROFILE_RELEASE_LTO:-fat}"
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS="${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-1}"
export CARGO_PROFILE_RELEASE_STRIP="${CARGO_PROFILE_RELEASE_STRIP:-debuginfo}"

exec "$WORKER_BUILD" --release "$@"
