#!/usr/bin/env bash
# One SQLite instance against two instances sharing one PostgreSQL
# database, side by side in one run (not a test): GET /auth/me with a
# bearer token and POST /auth/refresh (64 independent rotation chains), at
# 64 connections in all, in alternating rounds. On PostgreSQL the load is
# split over the two instances (32 connections each, two wrk processes at
# once); its requests/s is their sum and its p99 the larger of the two
# (the p99 of the whole is at most that). Loopback only, bounded in time.
#
#   server/bench/compare.sh          (DURATION=8s ROUNDS=3 to change)
#
# Runs itself under scripts/with-postgres.sh (a throwaway PostgreSQL with
# its durable defaults: fsync and synchronous commit on). Each instance runs
# with its defaults: SQLite trusts a live session for 30 s
# (EDGEAUTH_SESSION_CACHE), PostgreSQL instances check it on every request,
# so another instance's logout counts at once.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${EDGEAUTH_TEST_POSTGRES_URL:-}" ]; then
  EDGEAUTH_PG_DURABLE=1 exec scripts/with-postgres.sh "$0" "$@"
fi
ROOT="$(pwd)"
DURATION="${DURATION:-8s}"
ROUNDS="${ROUNDS:-3}"
WORK="$(mktemp -d)"
# shellcheck source=lib.sh
. "$ROOT/server/bench/lib.sh"
trap 'stop_servers; rm -rf "$WORK"' EXIT
BIN="$(server_bin)"
PG="EDGEAUTH_DATABASE_URL=$EDGEAUTH_TEST_POSTGRES_URL"

start_server sqlite; SQLITE=$BASE; SQLITE_PID=$PID
start_server pg-a "$PG"; PG_A=$BASE; PG_A_PID=$PID
start_server pg-b "$PG"; PG_B=$BASE; PG_B_PID=$PID
register "$SQLITE"
register "$PG_A"
SQLITE_ACCESS="$(access_token "$SQLITE")"
PG_ACCESS="$(access_token "$PG_A")" # verified by both instances

# One wrk run's requests/s, p99 (ms) and failed rotations, from its output.
summarize() {
  awk '
    /^Requests\/sec:/ { rps = $2 }
    /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } p99 = v }
    /^failed rotations:/ { failed = $3 }
    END { printf "%.0f %.2f %d\n", rps, p99, failed }'
}

# run_sqlite KIND / run_pg KIND: one measurement; prints "rps p99 failed".
run_sqlite() {
  case "$1" in
    me) wrk_me "$SQLITE" 64 "$DURATION" "$SQLITE_ACCESS" ;;
    refresh) wrk_refresh "$SQLITE" 64 "$DURATION" "$WORK/sqlite.txt" ;;
  esac > "$WORK/out-sqlite"
  summarize < "$WORK/out-sqlite"
}
run_pg() {
  local first
  case "$1" in
    me)
      wrk_me "$PG_A" 32 "$DURATION" "$PG_ACCESS" > "$WORK/out-a" & first=$!
      wrk_me "$PG_B" 32 "$DURATION" "$PG_ACCESS" > "$WORK/out-b" ;;
    refresh)
      wrk_refresh "$PG_A" 32 "$DURATION" "$WORK/pg-a.txt" > "$WORK/out-a" & first=$!
      wrk_refresh "$PG_B" 32 "$DURATION" "$WORK/pg-b.txt" > "$WORK/out-b" ;;
  esac
  wait "$first"
  paste <(summarize < "$WORK/out-a") <(summarize < "$WORK/out-b") |
    awk '{ printf "%d %.2f %d\n", $1 + $4, ($2 > $5 ? $2 : $5), $3 + $6 }'
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
: > "$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
  # Fresh chains each round (a round leaves the previous ones rotated on).
  sign_in "$SQLITE" "$(refresh_tokens_for 64)" "$WORK/sqlite.txt"
  sign_in "$PG_A" "$(refresh_tokens_for 32)" "$WORK/pg-a.txt"
  sign_in "$PG_B" "$(refresh_tokens_for 32)" "$WORK/pg-b.txt"
  for kind in me refresh; do
    # Alternate which setup goes first.
    if [ $(( round % 2 )) = 1 ]; then order="sqlite pg"; else order="pg sqlite"; fi
    for setup in $order; do
      read -r rps p99 failed < <("run_$setup" "$kind")
      echo "round $round  $kind  $setup: $rps req/s, p99 $p99 ms, failed $failed"
      echo "$kind $setup $rps $p99 $failed" >> "$WORK/results"
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "medians over $ROUNDS rounds ($DURATION each, 64 connections in all):"
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
def med(kind, setup, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == kind and r[1] == setup)
print("| run | SQLite, 1 instance | PostgreSQL, 2 instances | PostgreSQL / SQLite |")
print("|---|---|---|---|")
for kind, name in (("me", "GET /auth/me"), ("refresh", "POST /auth/refresh")):
    s, p = med(kind, "sqlite", 2), med(kind, "pg", 2)
    sp, pp = med(kind, "sqlite", 3), med(kind, "pg", 3)
    failed = sum(int(r[4]) for r in rows if r[0] == kind)
    print(f"| `{name}` | {s:,.0f} req/s, p99 {sp:.1f} ms | {p:,.0f} req/s, p99 {pp:.1f} ms | {p / s:.2f}x |"
          + (f" ({failed} failed)" if failed else ""))
PY
