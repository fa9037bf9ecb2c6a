#!/usr/bin/env bash
# The revocation feed under load (not a test): builds the release binary,
# starts it on a temporary SQLite database, marks 1,000 and then 10,000
# sessions revoked (rows written with sqlite3, as logouts would leave them:
# argon2 sign-ins by the thousand would take minutes), and for each size
# prints the feed's size (raw and gzip -9, as a CDN or the gate's fetch
# would carry it compressed) and GET /.well-known/revocations requests/s
# with wrk. Loopback only, bounded in time.
#
#   server/bench/revocations.sh            (DURATION=10s to change)
#
# Needs wrk (installed when missing), curl, gzip and sqlite3.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
DURATION="${DURATION:-10s}"
WORK="$(mktemp -d)"
# shellcheck source=lib.sh
. "$ROOT/server/bench/lib.sh"
trap 'stop_servers; rm -rf "$WORK"' EXIT
BIN="$(server_bin)"

start_server feed
echo "server: $BASE (SQLite; EDGEAUTH_REVOCATIONS_MAX_AGE 5 s: each instance signs the feed once per 5 s)"
register "$BASE"
DB="$WORK/feed/edgeauth.db"
USER_ID="$(sqlite3 "$DB" "SELECT id FROM users LIMIT 1")"

# revoke N: N more sessions of the bench user, revoked now, with random
# UUIDs as ids (the server's session id form).
revoke() {
  sqlite3 "$DB" "PRAGMA busy_timeout = 5000;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
    INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, absolute_expires_at, revoked_at)
    SELECT lower(printf('%s-%s-4%s-%s-%s', hex(randomblob(4)), hex(randomblob(2)), substr(hex(randomblob(2)), 2),
                        hex(randomblob(2)), hex(randomblob(6)))),
           '$USER_ID', unixepoch(), unixepoch(), unixepoch() + 3600, unixepoch() + 3600, unixepoch()
    FROM n;"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
total=0
for target in 1000 10000; do
  revoke $(( target - total ))
  total=$target
  # Wait for the instance's signed feed to list them all (at most max-age).
  for _ in $(seq 1 100); do
    curl -fsS "$BASE/.well-known/revocations" > "$WORK/feed.jwt"
    listed=$(cut -d. -f2 "$WORK/feed.jwt" | tr '_-' '/+' | base64 -d 2>/dev/null | grep -o '"[0-9a-f-]\{36\}"' | wc -l || true)
    [ "$listed" -ge "$target" ] && break
    sleep 0.2
  done
  echo
  echo "== $target revoked sessions: feed $(stat -c %s "$WORK/feed.jwt") bytes raw, $(gzip -9c "$WORK/feed.jwt" | wc -c) bytes gzip -9 ($listed session ids listed)"
  echo "== GET /.well-known/revocations, 64 connections, $DURATION"
  measure "$PID" wrk -t2 -c64 -d"$DURATION" --latency "$BASE/.well-known/revocations"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
