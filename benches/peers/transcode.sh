#!/usr/bin/env bash
# The spine against the peers, side by side in one run on one machine: frames per second of
#   obscura redact --target frame --method blur      (decode → whole-frame blur → x264 → MP4)
#   gst-launch-1.0 decodebin ! x264enc ! mp4mux      (plain decode + encode, no redaction)
#   ffmpeg -i … -c:v libx264                         (plain decode + encode, no redaction)
# on a 1080p clip made from the bundled sample, all with the same x264 settings (veryfast,
# constant quality 23, no B-frames, threads automatic), video only. Prints fps and ratios.
# Usage: benches/peers/transcode.sh [SECONDS_OF_CLIP] (default 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
seconds=${1:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --locked -q
obscura="$CARGO_TARGET_DIR/release/obscura"
clip="$work/street-1080p.mp4"
# Upscaled 1080p25 clip of real footage (H.264 High, like a camera's main stream).
ffmpeg -v error -y -t "$seconds" -i sample_media/street.mp4 -an \
  -vf "scale=1920:1080:flags=bicubic,fps=25" -c:v libx264 -preset fast -crf 20 -pix_fmt yuv420p "$clip"
frames=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$clip")

time_of() { # prints seconds taken by the command
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

t_obscura=$(time_of "$obscura" redact "$clip" -o "$work/obscura.mp4" --target frame --method blur --preset veryfast --crf 23)
t_gst=$(time_of gst-launch-1.0 -q filesrc location="$clip" ! decodebin ! videoconvert ! video/x-raw,format=I420 ! \
  x264enc speed-preset=veryfast pass=qual quantizer=23 bframes=0 ! mp4mux ! filesink location="$work/gst.mp4")
t_ffmpeg=$(time_of ffmpeg -v error -y -i "$clip" -an -c:v libx264 -preset veryfast -crf 23 -bf 0 "$work/ffmpeg.mp4")

fps() { echo "scale=1; $frames / $1" | bc -l; }
ratio() { echo "scale=2; $2 / $1" | bc -l; }
echo "clip: 1920x1080, $frames frames; machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '%-44s %8s fps\n' "obscura redact --target frame --method blur" "$(fps "$t_obscura")"
printf '%-44s %8s fps\n' "gst-launch-1.0 decode + x264enc (no redaction)" "$(fps "$t_gst")"
printf '%-44s %8s fps\n' "ffmpeg decode + libx264 (no redaction)" "$(fps "$t_ffmpeg")"
echo "obscura / gst-launch speed ratio: $(ratio "$t_obscura" "$t_gst")"
echo "obscura / ffmpeg speed ratio:     $(ratio "$t_obscura" "$t_ffmpeg")"
