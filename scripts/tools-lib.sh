# Shared by scripts/ensure-*.sh; sourced, not run.
#
# The CLI tools the tests need (wasm-bindgen-cli, worker-build) are built
# by `cargo install` in a target directory of their own
# ($EDGEAUTH_TOOLS_TARGET_DIR, default ~/.cache/edgeauth/tools-target):
# they share their dependencies with each other, and never wait for (or
# hold) the workspace's build lock, so scripts/test.sh can build them in the
# background while it builds and tests the workspace. One lock file
# serializes the installs, so a foreground call that needs a tool waits for
# a background install of it instead of starting a second one.

TOOLS_DIR="${EDGEAUTH_TOOLS_DIR:-$HOME/.cache/edgeauth}"
mkdir -p "$TOOLS_DIR"

# Takes the install lock for the rest of the calling script.
tools_lock() {
  exec 9>"$TOOLS_DIR/tools.lock"
  flock 9
}

# cargo install ARGS... into the tools' target directory.
tools_install() {
  CARGO_TARGET_DIR="${EDGEAUTH_TOOLS_TARGET_DIR:-$TOOLS_DIR/tools-target}" \
    cargo install -q "$@" >&2
}
