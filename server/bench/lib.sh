# Shared by the server's load benchmarks (bench.sh, compare.sh); sourced,
# not run. Loopback only. Needs wrk and curl; installs wrk when missing.
# Expects ROOT (the repository) and WORK (a scratch directory) to be set.

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

PIDS=()
# One throwaway master key for every instance of a run (they share keys).
MASTER_KEY="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
stop_servers() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }

# The release binary, built if need be.
server_bin() {
  (cd "$ROOT" && cargo build -q --release -p edgeauth-server)
  echo "$(cd "${CARGO_TARGET_DIR:-$ROOT/target}" && pwd)/release/edgeauth"
}

# start_server NAME [VAR=VALUE...]: starts `edgeauth serve` on a free port
# in $WORK/NAME with the given extra environment, waits for its "listening
# on" line, and sets BASE and PID. wrk loads from one address far beyond
# any client, so the per-address limits and the rotation cap are set out of
# reach, yet kept on, so their cost is in the figures.
start_server() {
  local name="$1" dir="$WORK/$1"
  shift
  mkdir -p "$dir"
  (cd "$dir" && exec env EDGEAUTH_BIND=127.0.0.1:0 EDGEAUTH_COOKIE_SECURE=false \
    EDGEAUTH_LOG=warn EDGEAUTH_MAX_SESSIONS=1000 EDGEAUTH_LOGIN_MAX_FAILURES=100000 \
    EDGEAUTH_LOGIN_ADDRESS_MAX_FAILURES=1000000 EDGEAUTH_REGISTER_RATE=1000000/1s \
    EDGEAUTH_TOKEN_RATE=1000000/1s EDGEAUTH_REFRESH_RATE=1000000/1s \
    EDGEAUTH_REFRESH_MAX_PER_MINUTE=1000000 \
    EDGEAUTH_MASTER_KEY="$MASTER_KEY" \
    "$@" "$BIN" serve > "$dir/out" 2> "$dir/err") &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 400); do
    grep -q "listening on" "$dir/out" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$dir/err" >&2; exit 1; }
    sleep 0.05
  done
  BASE="$(sed -n 's/^edgeauth listening on //p' "$dir/out")"
  [ -n "$BASE" ] || { echo "$name did not start" >&2; cat "$dir/err" >&2; exit 1; }
}

# start_sink: the email tests' SMTP sink (server/tests/smtp_sink.py, on
# aiosmtpd) on a free loopback port, writing each mail it accepts into
# $WORK/mail; sets SMTP to its smtp:// URL.
start_sink() {
  python3 "$ROOT/server/tests/smtp_sink.py" --dir "$WORK/mail" > "$WORK/sink.out" &
  PIDS+=("$!")
  for _ in $(seq 1 200); do grep -q "smtp sink on" "$WORK/sink.out" 2>/dev/null && break; sleep 0.05; done
  SMTP="smtp://$(sed -n 's/^smtp sink on //p' "$WORK/sink.out")"
  [ "$SMTP" != "smtp://" ] || { echo "the SMTP sink did not start (python3 -m pip install --user aiosmtpd)" >&2; exit 1; }
}

# medians FILE STATUS TITLE KNOWN_LABEL UNKNOWN_LABEL: FILE holds lines
# `known|unknown HTTP_STATUS SECONDS` (curl's -w); every status must be
# STATUS. Prints TITLE, both medians side by side and their ratio.
medians() {
  python3 - "$@" <<'PY'
import statistics, sys
path, status, title, *labels = sys.argv[1:]
rows = [line.split() for line in open(path)]
bad = [r for r in rows if r[1] != status]
if bad:
    sys.exit(f"expected {status} for every request, got {bad[:3]}")
med = {k: statistics.median(float(r[2]) * 1000 for r in rows if r[0] == k) for k in ("known", "unknown")}
width = max(map(len, labels))
print(title.format(n=len(rows) // 2))
for kind, label in zip(("known", "unknown"), labels):
    value = med[kind]
    print(f"median {label + ':':<{width + 1}} {value:.1f} ms" if value >= 10 else f"median {label + ':':<{width + 1}} {value:.3f} ms")
hi, lo = max(med.values()), min(med.values())
print(f"ratio (slower / faster): {hi / lo:.3f}x (target <= 1.1x)")
PY
}

BENCH_USER='{"email":"bench@example.com","password":"correct horse battery staple"}'

register() {
  curl -fsS -o /dev/null -H 'content-type: application/json' -d "$BENCH_USER" "$1/auth/register"
}

login() { curl -fsS -H 'content-type: application/json' -d "$BENCH_USER" "$1/auth/token"; }

access_token() { login "$1" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'; }

# sign_in BASE N FILE: N sessions' refresh tokens into FILE, one a line.
sign_in() {
  for _ in $(seq 1 "$2"); do
    login "$1" | sed -n 's/.*"refresh_token":"\([^"]*\)".*/\1/p'
    echo
  done | grep . > "$3"
  [ "$(wc -l < "$3")" = "$2" ] || { echo "could not sign in $2 sessions" >&2; exit 1; }
}

# The CPU time (user + system) of processes, in clock ticks (Linux /proc).
cpu_ticks() { local t=0 pid; for pid in "$@"; do t=$(( t + $(awk '{print $14 + $15}' "/proc/$pid/stat") )); done; echo "$t"; }

# measure "PID..." COMMAND...: runs COMMAND (a wrk run), prints its output
# and the given processes' CPU time per request.
measure() {
  local pids="$1" before after out n
  shift
  # shellcheck disable=SC2086
  before=$(cpu_ticks $pids)
  out="$("$@")"
  # shellcheck disable=SC2086
  after=$(cpu_ticks $pids)
  echo "$out"
  n=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' | awk '{s += $1} END {print s + 0}')
  echo "server CPU per request: $(( (after - before) * 1000000 / $(getconf CLK_TCK) / (n > 0 ? n : 1) )) us"
}

# wrk_me BASE CONNECTIONS DURATION TOKEN: GET /auth/me with a bearer token.
wrk_me() {
  wrk -t2 -c"$2" -d"$3" --latency -H "Authorization: Bearer $4" "$1/auth/me"
}

# wrk_refresh BASE CONNECTIONS DURATION TOKENS_FILE: each connection
# rotates its own chain, from two wrk threads (refresh.lua); TOKENS_FILE
# holds CONNECTIONS + 2 tokens (refresh_tokens_for).
# With a fifth argument, each connection waits that many milliseconds
# between its requests.
refresh_tokens_for() { echo $(( $1 + 2 )); }
wrk_refresh() {
  EDGEAUTH_BENCH_TOKENS="$4" EDGEAUTH_BENCH_PER_THREAD=$(( $2 / 2 )) EDGEAUTH_BENCH_DELAY_MS="${5:-}" \
    wrk -t2 -c"$2" -d"$3" --latency -s "$ROOT/server/bench/refresh.lua" "$1"
}
