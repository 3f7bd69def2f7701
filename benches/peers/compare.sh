#!/usr/bin/env bash
# The race: obscura against deface 1.5.0 and the decode → encode floor, on the same clips, in one
# run, and face recall of both tools on ../shared/eval/faces-stills in the same table, so speed is
# never bought with misses. Prints a Markdown table (for docs/performance.md) and ratios.
#
#   benches/peers/compare.sh [SECONDS]     (clip length, default 10)
#
# Clips: the bundled 1906 street film as shipped (640x360) and scaled to 1920x1080 (bicubic), the
# first SECONDS of each. Every run is timed with GNU time (wall, user+system CPU, peak RSS).
#   obscura redact --target faces | heads | frame   (release build, defaults, blur, x264 veryfast)
#   obscura redact --target faces --face-input 960: faces at a fixed 960 px input, the setting to
#     set beside deface --scale 640x360 (each tool's speed setting), with its own recall below
#   deface 1.5.0 at its defaults, and with --scale 640x360 (its documented speed-up); deface's
#     backend is ONNX Runtime 1.31.1 (what its README recommends on CPU; without it deface falls
#     back to OpenCV's DNN, slower), in a venv made once from benches/peers/requirements-deface.txt
#   the floor: gst-launch-1.0 decodebin ! x264enc (veryfast, quantizer 23, no B-frames) ! mp4mux,
#     what obscura's own encoder does, with no detection and no redaction
# Face recall: both tools fill the faces of the stills solid black (obscura --method fill, deface
#   --replacewith solid), and each ground-truth face box counts as found when at least 90% of its
#   pixels turned black (the same share `obscura eval faces` uses); on the photos as they are and
#   on each placed at its own size in a 1920x1080 frame (a 1080p camera's view of the same faces).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
scripts/setup >/dev/null
seconds=${1:-10}

. benches/peers/venv.sh
venv=$(peer_venv peers-deface benches/peers/requirements-deface.txt)
deface="$venv/bin/deface"
stills=${OBSCURA_FACES:-../shared/eval/faces-stills}

cargo build --release --locked -q
obscura="$CARGO_TARGET_DIR/release/obscura"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
frames=$((seconds * 25))
ffmpeg -v error -y -i sample_media/street.mp4 -frames:v "$frames" -an -c:v libx264 -preset veryfast -crf 18 \
  "$work/clip360.mp4"
ffmpeg -v error -y -i sample_media/street.mp4 -frames:v "$frames" -an -vf scale=1920:1080:flags=bicubic \
  -c:v libx264 -preset veryfast -crf 18 "$work/clip1080.mp4"

results="$work/results.tsv"
: >"$results"
# run LABEL CLIP -- COMMAND...: times COMMAND, appends "label clip wall cpu rss_mb" to the results.
run() {
  local label=$1 clip=$2
  shift 3
  local t="$work/time.txt"
  if ! /usr/bin/time -f '%e %U %S %M' -o "$t" "$@" >"$work/out.log" 2>&1; then
    echo "failed: $label on $clip:" >&2
    tail -5 "$work/out.log" >&2
    return 1
  fi
  read -r wall user sys rss <"$t"
  printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$clip" "$wall" "$(echo "$user + $sys" | bc)" "$((rss / 1024))" >>"$results"
  echo "  $label on $clip: ${wall} s" >&2
}

for clip in clip1080 clip360; do
  in="$work/$clip.mp4"
  echo "$clip:" >&2
  run floor "$clip" -- gst-launch-1.0 -q filesrc location="$in" ! decodebin ! videoconvert ! \
    x264enc speed-preset=veryfast pass=qual quantizer=23 bframes=0 ! mp4mux ! filesink location="$work/floor.mp4"
  run "obscura frame" "$clip" -- "$obscura" redact "$in" -o "$work/o-frame.mp4" --target frame
  run "obscura faces" "$clip" -- "$obscura" redact "$in" -o "$work/o-faces.mp4" --target faces
  run "obscura faces 960" "$clip" -- "$obscura" redact "$in" -o "$work/o-faces960.mp4" --target faces \
    --face-input 960
  run "obscura heads" "$clip" -- "$obscura" redact "$in" -o "$work/o-heads.mp4" --target heads
  run "deface" "$clip" -- "$deface" "$in" -o "$work/d-default.mp4"
  run "deface --scale 640x360" "$clip" -- "$deface" "$in" -o "$work/d-scale.mp4" --scale 640x360
done

# Face recall on the stills: both tools fill faces black; the truth's boxes are measured. Twice:
# the photos as they are (faces 37-91 px filling a 500 px picture), and each photo at its own size
# in a 1920x1080 grey frame (the same faces, a 1080p camera's view of them). Each tool at its
# defaults and at the speed setting raced above.
recall="$work/recall.tsv"
if [ -f "$stills/training.xml" ]; then
  mkdir -p "$work/stills" "$work/stills1080"
  "$venv/bin/python" - "$stills" "$work" <<'EOF2'
import sys, shutil, xml.etree.ElementTree as ET
import cv2, numpy as np
stills, work = sys.argv[1], sys.argv[2]
tree = ET.parse(f"{stills}/training.xml")
dx, dy = 700, 350
for image in tree.getroot().iter("image"):
    name = image.get("file")
    shutil.copy(f"{stills}/{name}", f"{work}/stills/{name}")
    photo = cv2.imread(f"{stills}/{name}")
    canvas = np.full((1080, 1920, 3), 128, np.uint8)
    canvas[dy:dy + photo.shape[0], dx:dx + photo.shape[1]] = photo
    cv2.imwrite(f"{work}/stills1080/{name.rsplit('.', 1)[0]}.png", canvas)
    image.set("file", name.rsplit(".", 1)[0] + ".png")
    for box in image.iter("box"):
        box.set("top", str(int(box.get("top")) + dy))
        box.set("left", str(int(box.get("left")) + dx))
shutil.copy(f"{stills}/training.xml", f"{work}/stills/training.xml")
tree.write(f"{work}/stills1080/training.xml")
EOF2
  for set in stills stills1080; do
    mkdir -p "$work/$set/obscura" "$work/$set/deface" "$work/$set/obscura-960" "$work/$set/deface-640x360"
    for image in "$work/$set"/*.jpg "$work/$set"/*.png; do
      [ -f "$image" ] || continue
      name=$(basename "${image%.*}")
      "$obscura" redact "$image" -o "$work/$set/obscura/$name.png" --target faces --method fill \
        --fill-color '#000000' 2>/dev/null
      "$obscura" redact "$image" -o "$work/$set/obscura-960/$name.png" --target faces --method fill \
        --fill-color '#000000' --face-input 960 2>/dev/null
      "$deface" "$image" -o "$work/$set/deface/$name.png" --replacewith solid >/dev/null 2>&1
      "$deface" "$image" -o "$work/$set/deface-640x360/$name.png" --replacewith solid --scale 640x360 \
        >/dev/null 2>&1
    done
  done
  "$venv/bin/python" - "$work" >"$recall" <<'EOF2'
import sys, xml.etree.ElementTree as ET
import numpy as np, cv2
work = sys.argv[1]
for set, what in (("stills", "as photographed"), ("stills1080", "in a 1920x1080 frame")):
    root = ET.parse(f"{work}/{set}/training.xml").getroot()
    for tool in ("obscura", "deface", "obscura-960", "deface-640x360"):
        found = total = 0
        shares = []
        for image in root.iter("image"):
            name = image.get("file").rsplit(".", 1)[0]
            out = cv2.imread(f"{work}/{set}/{tool}/{name}.png")
            for box in image.iter("box"):
                t, l, w, h = (int(box.get(k)) for k in ("top", "left", "width", "height"))
                region = out[max(t, 0):t + h, max(l, 0):l + w]
                share = float((region.max(axis=2) <= 24).mean()) if region.size else 0.0
                shares.append(share)
                total += 1
                found += share >= 0.9
        print(f"{what}\t{tool}\t{found}\t{total}\t{np.mean(shares):.3f}")
EOF2
fi

python3 - "$results" "$recall" "$seconds" <<'EOF'
import sys
results, recall, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [line.rstrip("\n").split("\t") for line in open(results)]
by = {(r[0], r[1]): (float(r[2]), float(r[3]), int(r[4])) for r in rows}
frames = seconds * 25
print(f"| case | clip | wall s | fps | CPU s | peak RSS MiB |")
print("|---|---|---|---|---|---|")
for (label, clip), (wall, cpu, rss) in by.items():
    print(f"| {label} | {clip} | {wall:.1f} | {frames / wall:.1f} | {cpu:.1f} | {rss} |")
print()
def ratio(a, b, clip):
    if (a, clip) in by and (b, clip) in by:
        return by[(b, clip)][0] / by[(a, clip)][0]
    return float("nan")
print("| ratio (wall time) | 1080p | 640×360 |")
print("|---|---|---|")
for a, b, what in [
    ("obscura faces", "deface", "obscura faces vs deface at its defaults (× faster)"),
    ("obscura faces", "deface --scale 640x360", "obscura faces vs deface --scale 640x360 (× faster)"),
    ("obscura faces 960", "deface", "obscura faces at 960 px vs deface at its defaults (× faster)"),
    ("obscura faces 960", "deface --scale 640x360", "obscura faces at 960 px vs deface --scale 640x360 (× faster)"),
    ("obscura heads", "deface", "obscura heads vs deface at its defaults (× faster)"),
]:
    print(f"| {what} | {ratio(a, b, 'clip1080'):.1f}× | {ratio(a, b, 'clip360'):.1f}× |")
print(f"| obscura frame (whole-frame blur + encode) / floor (decode + encode), time | "
      f"{1 / ratio('obscura frame', 'floor', 'clip1080'):.2f}× | {1 / ratio('obscura frame', 'floor', 'clip360'):.2f}× |")
try:
    lines = [l.split("\t") for l in open(recall) if l.strip()]
except FileNotFoundError:
    lines = []
if lines:
    print()
    print("| face recall on faces-stills (fill, ≥ 90% of the box) | tool | found | mean share of box filled |")
    print("|---|---|---|---|")
    for what, tool, found, total, mean in lines:
        print(f"| {what} | {tool} | {found} / {total} | {float(mean):.3f} |")
EOF
