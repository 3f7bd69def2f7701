# Sourced by the scripts: one shared cargo target directory outside the clone (a build cache that
# survives fresh clones on the same machine). Override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/obscura-target}"
