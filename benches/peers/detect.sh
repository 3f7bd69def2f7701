#!/usr/bin/env bash
# Detection against deface's own code path, side by side in one run on one 1920x1080 frame:
#   obscura (criterion, benches/detect.rs): fused preprocessing + ONNX Runtime + decode + NMS
#   deface 1.5.0's CenterFace class (Python onnxruntime 1.31.1, its default session options)
#   the same person model from Python (OpenCV resize, numpy decode and NMS)
# Python's onnxruntime lets idle threads spin by default; obscura does not (--spin turns it on):
# both are shown.
# Prints milliseconds per frame and ratios. The Python venv is made once under
# ${OBSCURA_CACHE:-/var/cache/obscura}. Usage: benches/peers/detect.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
scripts/setup >/dev/null

. benches/peers/venv.sh
venv=$(peer_venv peers-detect benches/peers/requirements-detect.txt deface==1.5.0)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The same frame benches/detect.rs decodes: the sample film at 20 s, scaled to 1080p.
ffmpeg -v error -y -ss 20 -i sample_media/street.mp4 -frames:v 1 -vf scale=1920:1080:flags=bicubic "$work/frame.png"

cargo bench --locked -q --bench detect -- --noplot >"$work/criterion.txt" 2>&1 || { cat "$work/criterion.txt"; exit 1; }
ms_of() { # criterion's mean for detect_1080p/$1, in ms
  python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["mean"]["point_estimate"] / 1e6))' \
    "$CARGO_TARGET_DIR/criterion/detect_1080p/$1/new/estimates.json"
}
"$venv/bin/python" benches/peers/detect.py "$work/frame.png" models >"$work/python.txt" 2>/dev/null
py() { awk -v k="$1" '$1 == k { print $2 }' "$work/python.txt"; }

echo "1920x1080 frame; machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '%-52s %9s\n' "case" "ms/frame"
row() { printf '%-52s %9s\n' "$1" "$2"; }
row "obscura faces, 640 long side (default)" "$(ms_of faces_640)"
row "obscura faces, full resolution" "$(ms_of faces_1920)"
row "deface CenterFace, 640x360 (--scale 640x360)" "$(py deface_faces_640)"
row "deface CenterFace, full resolution (its default)" "$(py deface_faces_1920)"
row "obscura persons, automatic tiles (3 x 300x300)" "$(ms_of persons_auto)"
row "Python onnxruntime, same person model and tiles" "$(py python_persons_auto)"
row "obscura heads (faces + persons + masks)" "$(ms_of heads)"
row "obscura faces, 640, idle threads spinning (--spin)" "$(ms_of faces_640_spin)"
row "obscura persons, idle threads spinning (--spin)" "$(ms_of persons_auto_spin)"
row "obscura faces, 640, 1 inference thread" "$(ms_of faces_640_1thread)"
row "obscura persons, 1 inference thread" "$(ms_of persons_auto_1thread)"
row "  of which preprocessing, face input 640x360" "$(ms_of preprocess_face_640)"
row "  of which preprocessing, 3 person tiles" "$(ms_of preprocess_person_tiles)"
ratio() { python3 -c "import sys; print('%.2fx' % (float(sys.argv[2]) / float(sys.argv[1])))" "$1" "$2"; }
echo "speed-up over deface, same input size (640):        $(ratio "$(ms_of faces_640)" "$(py deface_faces_640)")"
echo "speed-up over deface, full resolution:              $(ratio "$(ms_of faces_1920)" "$(py deface_faces_1920)")"
echo "speed-up over deface's default (full res) at ours:  $(ratio "$(ms_of faces_640)" "$(py deface_faces_1920)")"
echo "speed-up over Python, person model:                 $(ratio "$(ms_of persons_auto)" "$(py python_persons_auto)")"
echo "the same, both spinning (Python's default):         $(ratio "$(ms_of persons_auto_spin)" "$(py python_persons_auto)")"
echo "speed-up over deface (640), both spinning:          $(ratio "$(ms_of faces_640_spin)" "$(py deface_faces_640)")"
