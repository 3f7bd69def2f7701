# Sourced by the scripts: one shared cargo target directory outside the clone (a build cache that
# survives fresh clones on the same machine). Override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/obscura-target}"
# The models of this checkout. A binary finds them by the path of the checkout it was compiled
# in, and cargo does not rebuild for a checkout that moved: with the shared target directory, a
# build made in another clone would look in that clone's `models/`.
OBSCURA_MODELS="${OBSCURA_MODELS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/models}"
export OBSCURA_MODELS
