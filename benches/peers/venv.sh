# Sourced by the peer scripts: peer_venv NAME REQUIREMENTS [NO_DEPS_PACKAGE...] makes (once) a
# Python venv under ${OBSCURA_CACHE:-/var/cache/obscura} from the pinned REQUIREMENTS (binary
# wheels only), plus packages installed without their dependencies, and prints its path. The
# venv's name carries the requirements' hash, so a changed pin makes a new one.
peer_venv() {
  local name=$1 req=$2
  shift 2
  local cache=${OBSCURA_CACHE:-/var/cache/obscura}
  local venv="$cache/$name-$(sha256sum "$req" | cut -c1-12)"
  if [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    timeout 1200 "$venv/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: -r "$req" >&2
    if [ $# -gt 0 ]; then
      timeout 600 "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "$@" >&2
    fi
    touch "$venv/.complete"
  fi
  echo "$venv"
}
