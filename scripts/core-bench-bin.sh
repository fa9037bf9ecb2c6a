#!/usr/bin/env bash
# Builds the core's `verify` benchmark (release) and prints the path of its
# executable. Used by scripts/bench-core.sh and scripts/count-instructions.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q -p edgeauth-core --bench verify --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "verify" and m.get("executable"):
        print(m["executable"])'
