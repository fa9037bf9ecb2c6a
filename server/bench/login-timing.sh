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
medians "$WORK/times" 401 "POST /auth/token, {n} failed logins each, argon2id m=19456 KiB t=2 p=1" \
  "known email, wrong password" "unknown email"
