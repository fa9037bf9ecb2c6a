#!/usr/bin/env bash
# Load benchmark of the issuing server on loopback (not a test): builds the
# release binary, starts it on a temporary SQLite database with the default
# (OWASP) argon2 parameters, and runs wrk against it, bounded in time:
#
#   1. GET  /auth/me with a bearer token      64 connections, 10 s
#   2. POST /auth/refresh, 64 token chains     64 connections, 10 s
#      (one chain per connection, from two wrk threads: refresh.lua)
#   2b. the same, paced to about 3,000/s (18 ms between a connection's
#      requests): latency at the target rate rather than at saturation
#   3. POST /auth/token login flood            64 connections, 15 s
#
#   server/bench/bench.sh            (DURATION=10s FLOOD=15s to change)
#
# Needs wrk (installed when missing) and curl. Only 127.0.0.1 is contacted.
# server/bench/compare.sh sets SQLite beside two PostgreSQL instances.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
DURATION="${DURATION:-10s}"
FLOOD="${FLOOD:-15s}"
WORK="$(mktemp -d)"
# shellcheck source=lib.sh
. "$ROOT/server/bench/lib.sh"
trap 'stop_servers; rm -rf "$WORK"' EXIT
BIN="$(server_bin)"

start_server sqlite
echo "server: $BASE (argon2id m=19456 KiB t=2 p=1, SQLite WAL synchronous=normal)"
register "$BASE"
ACCESS="$(access_token "$BASE")"
started=$(date +%s%N)
logins="$(refresh_tokens_for 64)"
sign_in "$BASE" "$logins" "$WORK/tokens.txt"
per_login=$(( ($(date +%s%N) - started) / (logins * 1000000) ))
echo "one login at a time (argon2id hash + request): ${per_login} ms;" \
  "expected flood throughput ~ $(nproc) cores / ${per_login} ms = $(( $(nproc) * 1000 / (per_login > 0 ? per_login : 1) ))/s"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

echo; echo "== GET /auth/me (bearer), 64 connections, $DURATION"
measure "$PID" wrk_me "$BASE" 64 "$DURATION" "$ACCESS"

echo; echo "== POST /auth/refresh (64 independent rotation chains), $DURATION"
measure "$PID" wrk_refresh "$BASE" 64 "$DURATION" "$WORK/tokens.txt"
# Fresh chains for the paced run (the ones above have moved on).
sign_in "$BASE" "$logins" "$WORK/current.txt"

# The target rate, paced: how fast a rotation is when the server is not
# saturated by the closed loop above (the 64 chains are rotated on).
echo; echo "== POST /auth/refresh paced: 64 connections, each waiting 18 ms between requests (about 3,000/s), $DURATION"
measure "$PID" wrk_refresh "$BASE" 64 "$DURATION" "$WORK/current.txt" 18

echo; echo "== POST /auth/token login flood, 64 connections, $FLOOD (timeout 5 s)"
measure "$PID" wrk -t2 -c64 -d"$FLOOD" --timeout 5s --latency -s "$ROOT/server/bench/login.lua" "$BASE/auth/token"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
