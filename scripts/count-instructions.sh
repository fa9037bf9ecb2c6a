#!/usr/bin/env bash
# Counts CPU instructions (valgrind callgrind) of 1000 whole-token
# verifications against 1000 bare ed25519-dalek verify_strict calls of the
# same signing input, and prints the ratio. Instruction counts do not depend
# on what else the machine is doing, so this complements the timed criterion
# benchmark on a shared, noisy machine.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
bin=$(scripts/core-bench-bin.sh)
count() {
  EDGEAUTH_BENCH_ONLY=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
none=$(count none); full=$(count full); bare=$(count bare)
python3 - "$none" "$full" "$bare" <<'PY'
import sys
none, full, bare = map(int, sys.argv[1:])
f, b = (full - none) / 1000, (bare - none) / 1000
print(f"instructions per call: edgeauth verify {f:,.0f}, bare verify_strict {b:,.0f}, overhead {f - b:,.0f}, ratio {f / b:.4f}x")
PY
