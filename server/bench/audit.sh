#!/usr/bin/env bash
# The audit log's cost on login: correct-password logins per second of the
# current server (every login writes its `login.succeeded` event in the
# session's transaction) against the same server one revision earlier,
# without the audit log (BASE_REV, default the commit before the admin
# API), side by side in alternating rounds, on SQLite. Not a test;
# loopback only, bounded in time.
#
#   server/bench/audit.sh        (DURATION=8s ROUNDS=4 BASE_REV=ca5397d ARGON2=cheap|default)
#
# ARGON2=cheap (the default here) runs both servers with test-mode argon2
# costs (64 KiB, 1 pass), so a login is mostly its database writes and
# the event's share shows; ARGON2=default measures with the production
# parameters, where argon2 dominates. The ratio is current / base.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
DURATION="${DURATION:-8s}"
ROUNDS="${ROUNDS:-4}"
BASE_REV="${BASE_REV:-ca5397d}"
WORK="$(mktemp -d)"
# shellcheck source=lib.sh
. "$ROOT/server/bench/lib.sh"
trap 'stop_servers; rm -rf "$WORK"' EXIT

# The base revision's binary: its tree exported (no git worktree), built
# in the same target directory, and copied out before the current build.
mkdir -p "$WORK/base-src"
git archive "$BASE_REV" | tar -x -C "$WORK/base-src"
(cd "$WORK/base-src" && cargo build -q --release -p edgeauth-server)
cp "$(cd "${CARGO_TARGET_DIR:-$WORK/base-src/target}" && pwd)/release/edgeauth" "$WORK/edgeauth-base"
CURRENT="$(server_bin)"

COSTS=()
if [ "${ARGON2:-cheap}" = cheap ]; then
  COSTS=(EDGEAUTH_MODE=test EDGEAUTH_ARGON2_MEMORY_KIB=64 EDGEAUTH_ARGON2_ITERATIONS=1)
fi
BIN="$WORK/edgeauth-base"; start_server base "${COSTS[@]}"; BASE_URL=$BASE; BASE_PID=$PID
BIN="$CURRENT"; start_server current "${COSTS[@]}"; CUR_URL=$BASE; CUR_PID=$PID
register "$BASE_URL"
register "$CUR_URL"

rps() { awk '/^Requests\/sec:/ { print $2 }'; }
flood() { wrk -t2 -c16 -d"$DURATION" --timeout 5s --latency -s "$ROOT/server/bench/login.lua" "$1/auth/token"; }

echo "login throughput, $ROUNDS alternating rounds of $DURATION, 16 connections, argon2 ${ARGON2:-cheap}"
base_all=(); cur_all=()
for round in $(seq 1 "$ROUNDS"); do
  # Only the measured server runs: the other is stopped, so it takes no CPU.
  kill -STOP "$CUR_PID"; b=$(flood "$BASE_URL" | rps); kill -CONT "$CUR_PID"
  kill -STOP "$BASE_PID"; c=$(flood "$CUR_URL" | rps); kill -CONT "$BASE_PID"
  echo "round $round: base $b/s, with audit $c/s"
  base_all+=("$b"); cur_all+=("$c")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mb=$(median "${base_all[@]}"); mc=$(median "${cur_all[@]}")
echo "median: base $mb/s, with audit $mc/s, ratio $(awk -v b="$mb" -v c="$mc" 'BEGIN { printf "%.3f", c / b }')"
