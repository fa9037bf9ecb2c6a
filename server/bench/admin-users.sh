#!/usr/bin/env bash
# GET /admin/v1/users pages of 100 on a database of 100,000 users: every
# page of a full walk by cursor (1,000 requests, one at a time), its
# latency p50 and p99, on SQLite. The users come in by `edgeauth users
# import` (one transaction; a PBKDF2 hash each, so the import does no
# argon2). Not a test; loopback only.
#
#   server/bench/admin-users.sh      (USERS=100000 to change)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
USERS="${USERS:-100000}"
WORK="$(mktemp -d)"
# shellcheck source=lib.sh
. "$ROOT/server/bench/lib.sh"
trap 'stop_servers; rm -rf "$WORK"' EXIT
BIN="$(server_bin)"
mkdir -p "$WORK/admin"
export EDGEAUTH_MASTER_KEY="$MASTER_KEY"
HASH='$pbkdf2-sha256$i=1000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$Q0JMgmt2n5nbmQcHAi8zOGqFHU/uOEJAt2TsdDzX9Bc'
python3 - "$USERS" "$HASH" > "$WORK/users.jsonl" <<'PY'
import json, sys
n, h = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    print(json.dumps({"email": f"user{i}@example.com", "name": f"User {i}", "password_hash": h}))
PY
cd "$WORK/admin"
start=$(date +%s.%N)
"$BIN" users import "$WORK/users.jsonl" 2>/dev/null | tail -1
echo "import of $USERS users: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
"$BIN" roles define ops --perm 'admin.*' >/dev/null
echo "correct horse battery staple" | "$BIN" users create --email bench@example.com --role ops >/dev/null 2>&1
cd "$ROOT"
start_server admin
TOKEN="$(access_token "$BASE")"
python3 - "$BASE" "$TOKEN" <<'PY'
import json, sys, time, urllib.request
base, token = sys.argv[1], sys.argv[2]
times, cursor, seen = [], None, 0
while True:
    url = f"{base}/admin/v1/users?limit=100" + (f"&cursor={cursor}" if cursor else "")
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    t = time.perf_counter()
    body = json.load(urllib.request.urlopen(req))
    times.append((time.perf_counter() - t) * 1000)
    seen += len(body["users"])
    cursor = body["next_cursor"]
    if not cursor:
        break
times.sort()
pct = lambda p: times[min(len(times) - 1, int(p * len(times)))]
print(f"{len(times)} pages, {seen} users: p50 {pct(0.50):.2f} ms, p99 {pct(0.99):.2f} ms, max {times[-1]:.2f} ms")
PY
