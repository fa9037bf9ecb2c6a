#!/usr/bin/env bash
# Makes sure worker-build matches the pinned `worker` crate (0.8.7),
# installing it when it does not, and prints its path.
#
#   WORKER_BUILD="$(scripts/ensure-worker-build.sh)"
#
# Like scripts/ensure-wasm-bindgen.sh: idempotent, serialized with the other
# tool installs by one lock (scripts/tools-lib.sh), built in the tools'
# own target directory. About 11 minutes of CPU the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tools-lib.sh

version=0.8.7
matches() { [ -x "$1" ] && [ "$("$1" --version 2>/dev/null)" = "$version" ]; }
found() {
  local candidate
  for candidate in "$(command -v worker-build || true)" "${CARGO_HOME:-$HOME/.cargo}/bin/worker-build"; do
    if [ -n "$candidate" ] && matches "$candidate"; then echo "$candidate"; return 0; fi
  done
  return 1
}

found && exit 0
tools_lock
found && exit 0
echo "ensure-worker-build: installing worker-build $version (several minutes)" >&2
tools_install --locked worker-build --version "$version"
installed="${CARGO_HOME:-$HOME/.cargo}/bin/worker-build"
matches "$installed" || { echo "ensure-worker-build: $installed is not worker-build $version" >&2; exit 1; }
echo "$installed"
