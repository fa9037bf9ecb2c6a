#!/usr/bin/env bash
# Login timing by account existence (not a test): does POST /auth/token
# take as long for an unknown email as for a known one with a wrong
# password? Builds the release binary, starts it with the default (OWASP)
# argon2 costs on a temporary SQLite database, then sends N failed logins
# of each kind, interleaved one by one, and prints both medians side by
# side with their ratio (target: within 1.1x).
#
#   server/bench/login-timing.sh          (N=41 to change the count)
#
# Needs curl; only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
N="${N:-41}"
WORK="$(mktemp -d)"
# shellcheck source=lib.sh
. "$ROOT/server/bench/lib.sh"
trap 'stop_servers; rm -rf "$WORK"' EXIT
BIN="$(server_bin)"

start_server timing
register "$BASE"
attempt() {
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"not the password at all\"}" "$BASE/auth/token"
}
for _ in $(seq 1 "$N"); do
  echo "known $(attempt bench@example.com)"
  echo "unknown $(attempt "nobody-$RANDOM@example.com")"
done > "$WORK/times"
python3 - "$WORK/times" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
bad = [r for r in rows if r[1] != "401"]
if bad:
    sys.exit(f"expected 401 for every attempt, got {bad[:3]}")
med = {k: statistics.median(float(r[2]) * 1000 for r in rows if r[0] == k) for k in ("known", "unknown")}
hi, lo = max(med.values()), min(med.values())
print(f"POST /auth/token, {len(rows) // 2} failed logins each, argon2id m=19456 KiB t=2 p=1")
print(f"median known email, wrong password: {med['known']:.1f} ms")
print(f"median unknown email:               {med['unknown']:.1f} ms")
print(f"ratio (slower / faster): {hi / lo:.3f}x (target <= 1.1x)")
PY
