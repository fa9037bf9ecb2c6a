#!/usr/bin/env bash
# Checks of the npm package @edgeauth/verify (crates/edgeauth-wasm + pkg/):
# clippy and unit tests of the bindings, the package build, `npm pack`'s file
# list and `npm test` (vectors, jose interop, JWKS fetching, headless Chromium).
# scripts/test.sh runs it; it also runs alone:
#
#   scripts/test-pkg.sh
#
# On a fresh Debian machine it first installs what it lacks: the wasm-bindgen
# CLI at the Cargo.lock version (minutes, once), pkg/'s npm dependencies
# (npm ci) and Debian's chromium. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n--> %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

step "clippy: edgeauth-wasm, native and wasm32"
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
cargo clippy -q -p edgeauth-wasm --all-targets -- -D warnings
cargo clippy -q -p edgeauth-wasm --target wasm32-unknown-unknown -- -D warnings

step "edgeauth-wasm unit tests"
cargo test -q -p edgeauth-wasm

step "tools: wasm-bindgen CLI, npm dependencies, chromium"
scripts/ensure-wasm-bindgen.sh
(cd pkg && npm ci --no-audit --no-fund --loglevel=error)
if [ ! -x /usr/bin/chromium ]; then
  as_root apt-get update -qq
  # The first dpkg run sometimes fails on a temporary file; once more then.
  as_root apt-get install -y -qq --no-install-recommends chromium ||
    as_root apt-get install -y -qq --no-install-recommends chromium
fi

step "build (npm run build)"
(cd pkg && npm run --silent build)

step "npm pack --dry-run ships the built files"
files="$(cd pkg && npm pack --dry-run --json 2>/dev/null | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () =>
    console.log(JSON.parse(s)[0].files.map((f) => f.path).sort().join("\n")));')"
echo "$files"
for f in dist/node.js dist/edgeauth_wasm.js dist/edgeauth_wasm_bg.wasm src/node.js src/web.js src/api.js types/index.d.ts README.md package.json; do
  grep -qx "$f" <<<"$files" || { echo "npm pack lacks $f" >&2; exit 1; }
done

step "npm test"
(cd pkg && EDGEAUTH_REQUIRE_BROWSER=1 npm test)

step "benchmark smoke run (numbers of a quick run are rough; README.md has the real ones)"
(cd pkg && node bench/run.mjs --quick)
