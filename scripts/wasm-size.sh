#!/usr/bin/env bash
# Measures the WebAssembly size of the verifier core alone: a tiny cdylib
# (tools/size-probe) exporting `verify`, built for wasm32 at several
# settings, raw and gzipped (-9). No wasm-opt, no bindings: the numbers are
# what edgeauth-core itself costs.
#
#   scripts/wasm-size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true

printf '%-34s %10s %10s\n' "build" "wasm (B)" "gzip -9 (B)"
for opt in 3 s z; do
  case $opt in [0-9]) optval=$opt ;; *) optval="'$opt'" ;; esac
  for features in "" fast; do
    dir="$target_dir"
    cargo build -q -p edgeauth-size-probe --target wasm32-unknown-unknown --release \
      ${features:+--features "$features"} --target-dir "$dir" \
      --config "profile.release.opt-level=$optval" --config 'profile.release.lto=true' \
      --config 'profile.release.codegen-units=1' --config "profile.release.panic='abort'" \
      --config "profile.release.strip=true"
    wasm="$dir/wasm32-unknown-unknown/release/edgeauth_size_probe.wasm"
    printf '%-34s %10s %10s\n' "opt-level=$opt ${features:-(lean)}" "$(stat -c %s "$wasm")" "$(gzip -9c "$wasm" | wc -c)"
  done
done
