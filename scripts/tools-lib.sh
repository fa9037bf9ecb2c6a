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

# tools_ensure NAME VERSION_LINE CARGO_INSTALL_ARGS...: prints the path of
# NAME (on PATH or in cargo's bin) whose `--version` prints VERSION_LINE,
# installing it with `cargo install CARGO_INSTALL_ARGS...` when there is
# none. A concurrent install of it is waited for, not repeated.
tools_ensure() {
  local name="$1" want="$2"
  shift 2
  tools_found "$name" "$want" && return 0
  tools_lock
  tools_found "$name" "$want" && return 0
  echo "installing $name ($want; several minutes)" >&2
  tools_install "$@"
  tools_found "$name" "$want" || { echo "$name: the installed one is not $want" >&2; return 1; }
}

tools_found() {
  local candidate
  for candidate in "$(command -v "$1" || true)" "${CARGO_HOME:-$HOME/.cargo}/bin/$1"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && [ "$("$candidate" --version 2>/dev/null)" = "$2" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}
