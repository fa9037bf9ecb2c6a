#!/usr/bin/env bash
# Load benchmark of the issuing server on loopback (not a test): builds the
# release binary, starts it on a temporary SQLite database with the default
# (OWASP) argon2 parameters, and runs wrk against it, bounded in time:
#
#   1. GET  /auth/me with a bearer token      64 connections, 10 s
#   2. POST /auth/refresh, 64 token chains     64 connections, 10 s
#   3. POST /auth/token login flood            64 connections, 15 s
#
#   server/bench/bench.sh            (DURATION=10s FLOOD=15s to change)
#
# Needs wrk (apt-get install wrk) and curl. Only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
DURATION="${DURATION:-10s}"
FLOOD="${FLOOD:-15s}"
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }

cargo build -q --release -p edgeauth-server
BIN="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/edgeauth"
WORK="$(mktemp -d)"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

cd "$WORK"
EDGEAUTH_BIND=127.0.0.1:0 EDGEAUTH_COOKIE_SECURE=false EDGEAUTH_LOG=warn \
  EDGEAUTH_MAX_SESSIONS=1000 EDGEAUTH_LOGIN_MAX_FAILURES=100000 \
  "$BIN" serve > server.out 2> server.err &
PID=$!
for _ in $(seq 1 200); do
  grep -q "listening on" server.out 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || { cat server.err; exit 1; }
  sleep 0.05
done
BASE="$(sed -n 's/^edgeauth listening on //p' server.out)"
echo "server: $BASE (argon2id m=19456 KiB t=2 p=1, SQLite WAL synchronous=normal)"

json='{"email":"bench@example.com","password":"correct horse battery staple"}'
curl -fsS -o /dev/null -H 'content-type: application/json' -d "$json" "$BASE/auth/register"
login() { curl -fsS -H 'content-type: application/json' -d "$json" "$BASE/auth/token"; }
ACCESS="$(login | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
started=$(date +%s%N)
for _ in $(seq 1 64); do
  login | sed -n 's/.*"refresh_token":"\([^"]*\)".*/\1/p'
  echo
done | grep . > tokens.txt
[ "$(wc -l < tokens.txt)" = 64 ] || { echo "could not sign in 64 sessions" >&2; exit 1; }
per_login=$(( ($(date +%s%N) - started) / 64000000 ))
echo "one login at a time (argon2id hash + request): ${per_login} ms;" \
  "expected flood throughput ~ $(nproc) cores / ${per_login} ms = $(( $(nproc) * 1000 / (per_login > 0 ? per_login : 1) ))/s"

# The server's own CPU time per request (Linux /proc), which does not
# depend on how busy the machine is with other work.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
measure() {
  local before after out n
  before=$(cpu_ticks)
  out="$("$@")"
  after=$(cpu_ticks)
  echo "$out"
  n=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
  echo "server CPU per request: $(( (after - before) * 1000000 / $(getconf CLK_TCK) / (n > 0 ? n : 1) )) us"
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

echo; echo "== GET /auth/me (bearer), 64 connections, $DURATION"
measure wrk -t2 -c64 -d"$DURATION" --latency -H "Authorization: Bearer $ACCESS" "$BASE/auth/me"

echo; echo "== POST /auth/refresh (64 independent rotation chains), $DURATION"
measure env EDGEAUTH_BENCH_TOKENS="$WORK/tokens.txt" \
  wrk -t64 -c64 -d"$DURATION" --latency -s "$ROOT/server/bench/refresh.lua" "$BASE"

echo; echo "== POST /auth/token login flood, 64 connections, $FLOOD (timeout 5 s)"
measure wrk -t2 -c64 -d"$FLOOD" --timeout 5s --latency -s "$ROOT/server/bench/login.lua" "$BASE/auth/token"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
