#!/usr/bin/env bash
# The one test command: sets up what a fresh machine lacks, then runs every
# check and test of the project. `.ci/run` calls exactly this.
#
#   scripts/test.sh
#
# Build output goes to a target directory outside the clone
# ($EDGEAUTH_TARGET_DIR, default ~/.cache/edgeauth/target) so that later runs
# on the same machine, CI's fresh clones included, reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${EDGEAUTH_TARGET_DIR:-$HOME/.cache/edgeauth/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"

step() { printf '\n==> %s\n' "$*"; }

# Everything printed is also logged, to total the test counts at the end.
log="$(mktemp)"
exec > >(tee "$log") 2>&1

step "toolchain: rustup targets and components"
rustup target add wasm32-unknown-unknown thumbv7em-none-eabihf >/dev/null
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# The CLI tools of the later suites (wasm-bindgen-cli, worker-build) take
# most of a cold run's CPU. They build in the background, at a lower
# priority and in their own target directory, while the workspace is linted,
# built and tested; the suites that need them wait on their lock.
step "tools: wasm-bindgen-cli and worker-build in the background (when missing)"
tools_log="$(mktemp)"
( nice -n 10 scripts/ensure-wasm-bindgen.sh && nice -n 10 scripts/ensure-worker-build.sh ) >"$tools_log" 2>&1 &
tools_pid=$!

step "format"
cargo fmt --all --check

step "clippy, per package and feature set"
scripts/clippy.sh

step "no_std builds of the verifier core"
cargo build -q -p edgeauth-core --target thumbv7em-none-eabihf
cargo build -q -p edgeauth-core --target thumbv7em-none-eabihf --features fast
cargo build -q -p edgeauth-core --target wasm32-unknown-unknown
if [ -n "$(cargo tree -q -p edgeauth-core --target wasm32-unknown-unknown -e normal --prefix none | grep '^getrandom ' || true)" ]; then
  echo "error: the verifier pulls in getrandom on wasm32" >&2
  exit 1
fi

step "shared vectors are up to date"
cargo run -q -p edgeauth-core --features sign --example gen-vectors -- --check

step "core tests (the benchmark runs once as a smoke test)"
cargo test -q -p edgeauth-core --all-targets
cargo test -q -p edgeauth-core --doc

# The other packages, then the cross-component tests that use what they built.
for extra in server pkg worker e2e client; do
  if [ "$extra" = pkg ]; then
    step "tools: waiting for the background installs"
    if ! wait "$tools_pid"; then
      cat "$tools_log" >&2
      echo "error: installing the CLI tools failed" >&2
      exit 1
    fi
    cat "$tools_log"
  fi
  step "scripts/test-$extra.sh"
  "scripts/test-$extra.sh"
done

step "all tests passed"
# The totals of every runner above (cargo test's and node --test's summaries).
python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
passed = failed = 0
for p, f in re.findall(r"test result: \w+\. (\d+) passed; (\d+) failed", text):
    passed, failed = passed + int(p), failed + int(f)
passed += sum(int(n) for n in re.findall(r"^(?:#|ℹ) pass (\d+)$", text, re.M))
failed += sum(int(n) for n in re.findall(r"^(?:#|ℹ) fail (\d+)$", text, re.M))
print(f"tests: {passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
PY
