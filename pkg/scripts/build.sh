#!/usr/bin/env bash
# Builds @edgeauth/verify from the Rust sources: `npm run build` in pkg/.
#
#   1. wasm-bindgen CLI at the Cargo.lock version (scripts/ensure-wasm-bindgen.sh;
#      installs it when missing, which takes minutes once);
#   2. crates/edgeauth-wasm for wasm32-unknown-unknown with the root
#      Cargo.toml's `wasm-release` profile (settings chosen by measurement,
#      see docs/measurements.md, npm package);
#   3. scripts/no-multivalue.mjs: keeps wasm-bindgen's exports to one result
#      each (V8 11 compiles a TurboFan wrapper for every other signature at
#      start-up);
#   4. wasm-bindgen --target web (ESM; the Node entry instantiates it
#      synchronously, browsers and bundlers call init());
#   5. wasm-opt from the npm `binaryen` devDependency (never Debian's
#      /usr/bin/wasm-opt, which miscompiles wasm-bindgen output);
#   6. the results into pkg/dist/ (git-ignored build output);
#   7. dist/node.js, the Node entry: src/node.js, src/api.js and the
#      wasm-bindgen glue in one ES module (esbuild, not minified), which
#      saves Node about 1 ms of module loading at every start (docs/measurements.md,
#      npm package, "Build settings, chosen by measurement").
#
# Honours CARGO_TARGET_DIR (default <repo>/target). Needs `npm install` first.
set -euo pipefail
pkg="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$pkg/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
wasm_opt="$pkg/node_modules/.bin/wasm-opt"
esbuild="$pkg/node_modules/.bin/esbuild"
# wasm-opt passes, chosen by measurement (docs/measurements.md, npm
# package, "Build settings, chosen by measurement"). -O3, but no inlining
# of a function merely because it has one caller: that glued the whole signature check (decompression, the
# double-base scalar multiplication and its loop) into one 16 KB function,
# which V8 then recompiled with TurboFan during the first verification, and
# Node waits for that compilation at exit (about 10 ms of the start-up).
# The producers and target_features custom sections are for tools, never
# read when the module loads: stripped (about 200 bytes gzipped).
WASM_OPT_FLAGS=(-O3 --one-caller-inline-max-function-size 0 --strip-producers --strip-target-features)

for tool in "$wasm_opt" "$esbuild"; do
  if [ ! -x "$tool" ]; then
    echo "build: $tool is missing; run 'npm install' in pkg/ first" >&2
    exit 1
  fi
done

wasm_bindgen="$("$root/scripts/ensure-wasm-bindgen.sh")"

echo "build: cargo build -p edgeauth-wasm (wasm-release)" >&2
(cd "$root" && cargo build -q -p edgeauth-wasm --target wasm32-unknown-unknown --profile wasm-release)
wasm="$target_dir/wasm32-unknown-unknown/wasm-release/edgeauth_wasm.wasm"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "build: no-multivalue, wasm-bindgen --target web" >&2
node "$pkg/scripts/no-multivalue.mjs" "$wasm" "$work/linked.wasm"
"$wasm_bindgen" --target web --no-typescript --out-dir "$work" --out-name edgeauth_wasm "$work/linked.wasm"
echo "build: wasm-opt ${WASM_OPT_FLAGS[*]}" >&2
# The features rustc enables by default for wasm32-unknown-unknown, but
# multivalue (see step 3).
"$wasm_opt" "${WASM_OPT_FLAGS[@]}" \
  --enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-reference-types \
  "$work/edgeauth_wasm_bg.wasm" -o "$work/edgeauth_wasm_bg.wasm"

rm -rf "$pkg/dist"
mkdir -p "$pkg/dist"
cp "$work/edgeauth_wasm.js" "$work/edgeauth_wasm_bg.wasm" "$pkg/dist/"
echo "build: esbuild src/node.js -> dist/node.js" >&2
# The wasm is found at run time through new URL('../dist/...', import.meta.url),
# which means the same file from src/ and from dist/.
"$esbuild" "$pkg/src/node.js" --bundle --format=esm --platform=node --target=node20 \
  --outfile="$pkg/dist/node.js" --log-level=warning \
  --banner:js="// @edgeauth/verify for Node, built by scripts/build.sh from src/node.js, src/api.js and the wasm-bindgen glue: edit those."
size="$(wc -c < "$pkg/dist/edgeauth_wasm_bg.wasm")"
gz="$(gzip -9c "$pkg/dist/edgeauth_wasm_bg.wasm" | wc -c)"
echo "build: dist/edgeauth_wasm_bg.wasm: $size bytes, $gz gzipped" >&2
