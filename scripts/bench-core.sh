#!/usr/bin/env bash
# The core's speed target, measured robustly: whole-token verification
# against a bare ed25519-dalek verify_strict of the same signing input.
#
#   scripts/bench-core.sh [PROCESSES]   (default 15)
#
# Within one process the two sides are timed in short alternating rounds.
# Across processes the ratio moves by about +-10% with the address-space
# layout (ASLR): with ASLR off (`setarch -R`) one layout gives the same ratio
# run after run, and the bare check alone moves between layouts too. So the
# interleaved measurement runs in many fresh processes and the median of
# their ratios is the figure; scripts/count-instructions.sh gives the
# layout-independent instruction ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-15}"
bin=$(scripts/core-bench-bin.sh)
for _ in $(seq "$runs"); do
  EDGEAUTH_BENCH_INTERLEAVED_ONLY=1 "$bin" --bench
done | tee /dev/stderr | python3 -c '
import re, statistics, sys
ratios = [float(m.group(1)) for m in map(re.compile(r"median per-round ratio ([\d.]+)x").search, sys.stdin) if m]
print(f"{len(ratios)} processes: median of per-process median ratios {statistics.median(ratios):.3f}x "
      f"(min {min(ratios):.3f}x, max {max(ratios):.3f}x)")'
