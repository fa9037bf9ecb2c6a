#!/usr/bin/env bash
# The issuing server (server/, crate edgeauth-server): lint and test.
# Called by scripts/test.sh with CARGO_TARGET_DIR exported; runs alone too.
#
#   scripts/test-server.sh
#
# SQLite is compiled in (libsqlite3-sys "bundled"), so its only system need
# is a C compiler. PostgreSQL runs as a throwaway server on loopback for the
# length of the tests (scripts/with-postgres.sh, which installs it when
# missing): the whole suite runs on SQLite with the storage conformance
# suite on both backends, then the integration tests again with every
# test database on PostgreSQL, including the several-instance tests.
# No PostgreSQL test is skipped here (EDGEAUTH_TEST_REQUIRE_POSTGRES=1).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cc >/dev/null 2>&1; then
  echo "test-server: installing a C compiler (for the bundled SQLite)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
fi
rustup component add clippy >/dev/null 2>&1 || true
# The email tests send through a real SMTP server on loopback:
# server/tests/smtp_sink.py, on aiosmtpd from PyPI (Debian's
# python3-aiosmtpd when pip cannot install it).
if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "test-server: installing aiosmtpd (the SMTP sink of the email tests)"
  python3 -m pip install -q --user aiosmtpd 2>/dev/null \
    || python3 -m pip install -q --user --break-system-packages aiosmtpd 2>/dev/null \
    || { if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
         $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends python3-aiosmtpd >/dev/null
         export EDGEAUTH_TEST_PYTHON=/usr/bin/python3; }
fi

echo "clippy -p edgeauth-server --all-targets"
cargo clippy -q -p edgeauth-server --all-targets -- -D warnings

# Built first, so the PostgreSQL server is up only while tests run.
cargo test -q -p edgeauth-server --no-run

# The OpenAPI document (what GET /openapi.json serves) must be valid
# OpenAPI 3.1; the API tests check that it lists exactly the routes served.
echo "openapi-spec-validator: the server's OpenAPI document"
if ! python3 -m openapi_spec_validator --help >/dev/null 2>&1; then
  pip install --user -q openapi-spec-validator 2>/dev/null \
    || pip install --user -q --break-system-packages openapi-spec-validator
fi
openapi="$(mktemp --suffix=.json)"
cargo run -q -p edgeauth-server -- openapi >"$openapi"
python3 -m openapi_spec_validator "$openapi"
rm -f "$openapi"

export EDGEAUTH_TEST_REQUIRE_POSTGRES=1
scripts/with-postgres.sh bash -euo pipefail -c '
  echo "test -p edgeauth-server (SQLite; store conformance on both backends)"
  cargo test -q -p edgeauth-server
  echo "test -p edgeauth-server --test api (PostgreSQL; the tests above that were already on it skipped)"
  EDGEAUTH_TEST_BACKEND=postgres cargo test -q -p edgeauth-server --test api -- --skip multi:: --skip store:: --skip email::two_instances_on_postgres
'
