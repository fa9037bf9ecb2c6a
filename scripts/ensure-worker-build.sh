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
tools_ensure worker-build "$version" --locked worker-build --version "$version"
