#!/usr/bin/env bash
# Forgot-password timing by account existence (not a test): does POST
# /auth/password/forgot answer as fast for an unknown address as for a
# known one? Builds the release binary, starts it on a temporary SQLite
# database with a real SMTP sink on loopback (server/tests/smtp_sink.py,
# aiosmtpd), so mail to the known address is really sent meanwhile; then
# sends N requests of each kind, interleaved one by one, and prints both
# medians side by side with their ratio (target: within 1.1x).
#
#   server/bench/forgot-timing.sh          (N=401 to change the count)
#
# Needs curl, wrk (installed when missing) and python3 with aiosmtpd;
# only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
N="${N:-401}"
WORK="$(mktemp -d)"
# shellcheck source=lib.sh
. "$ROOT/server/bench/lib.sh"
trap 'stop_servers; rm -rf "$WORK"' EXIT
BIN="$(server_bin)"
start_sink

start_server timing EDGEAUTH_SMTP_URL="$SMTP" EDGEAUTH_MAIL_RATE=off
register "$BASE"
forgot() {
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H 'content-type: application/json' \
    -d "{\"email\":\"$1\"}" "$BASE/auth/password/forgot"
}
for _ in $(seq 1 "$N"); do
  echo "known $(forgot bench@example.com)"
  echo "unknown $(forgot "nobody-$RANDOM@example.com")"
done > "$WORK/times"
for _ in $(seq 1 100); do
  [ "$(ls "$WORK/mail" 2>/dev/null | grep -c '\.json$')" -ge "$N" ] && break
  sleep 0.1
done
medians "$WORK/times" 202 \
  "POST /auth/password/forgot, {n} requests each, SQLite, mail sent to a local SMTP sink" \
  "known email" "unknown email"
echo "mails the sink received: $(ls "$WORK/mail" | grep -c '\.json$') (one per known request)"
