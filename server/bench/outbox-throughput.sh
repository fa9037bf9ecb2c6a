#!/usr/bin/env bash
# Outbox throughput (not a test): how many mails per second one server
# sends to an SMTP server on loopback. Builds the release binary, starts it
# on a temporary SQLite database with the SMTP sink (server/tests/
# smtp_sink.py, aiosmtpd), registers one user, then puts M password-reset
# requests for that user straight into the outbox table (as M requests
# would) and times the sink receiving them: each mail is a user lookup, a
# link minted and stored, composing from the templates, one SMTP
# conversation and marking the row sent.
#
#   server/bench/outbox-throughput.sh      (M=2000 to change the count)
#
# Needs curl, wrk (installed when missing) and python3 with aiosmtpd.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
M="${M:-2000}"
WORK="$(mktemp -d)"
# shellcheck source=lib.sh
. "$ROOT/server/bench/lib.sh"
trap 'stop_servers; rm -rf "$WORK"' EXIT
BIN="$(server_bin)"
start_sink

start_server outbox EDGEAUTH_SMTP_URL="$SMTP" EDGEAUTH_MAIL_RATE=off
register "$BASE"
python3 - "$WORK/outbox/edgeauth.db" "$M" <<'PY'
import sqlite3, sys, uuid
db = sqlite3.connect(sys.argv[1], timeout=30)
with db:
    db.executemany(
        "INSERT INTO mail_outbox (id, kind, recipient, created_at, next_attempt_at) VALUES (?, 'reset', 'bench@example.com', 0, 0)",
        [(str(uuid.uuid4()),) for _ in range(int(sys.argv[2]))],
    )
PY
for _ in $(seq 1 1200); do
  [ "$(ls "$WORK/mail" | grep -c '\.json$')" -ge "$M" ] && break
  sleep 0.1
done
python3 - "$WORK/mail" "$M" "$WORK/outbox/edgeauth.db" <<'PY'
import os, sqlite3, sys
d, m = sys.argv[1], int(sys.argv[2])
times = sorted(os.stat(os.path.join(d, f)).st_mtime for f in os.listdir(d) if f.endswith(".json"))
states = dict(sqlite3.connect(sys.argv[3]).execute("SELECT state, count(*) FROM mail_outbox GROUP BY state").fetchall())
if len(times) != m:
    sys.exit(f"the sink received {len(times)} of {m} mails; outbox states {states}")
span = times[-1] - times[0]
print(f"outbox -> local SMTP sink (aiosmtpd), SQLite, {m} reset mails (link minted, rendered, sent, marked)")
print(f"first to last mail: {span:.2f} s, {(m - 1) / span:.0f} mails/s; outbox states {states}")
PY
