#!/usr/bin/env bash
# Live cameras at once on this box: N RTSP cameras of real footage at 1080p25 (the bundled film
# scaled up by ffmpeg, served by scripts/rtsp-test-server, one session per camera), each redacting
# faces with the default detection cadence (every 0.12 s: every 3rd frame of these 25 fps
# streams) and counting people on one line, for SECONDS seconds.
# Reports per camera: frames decoded, frames redacted (kept: a full live queue drops new frames
# whole when detection falls behind), detection passes, frames dropped and fail-closed, and the
# process's CPU and peak RSS; real time means decoded ≈ redacted ≈ 25 fps and no drop.
#
#   benches/live.sh [CAMERAS=4] [SECONDS=60] [WIDTHxHEIGHT=1920x1080]
#
# LIVE_DETECTOR='KEY = VALUE' adds lines to the [detector] table (e.g. 'threads = 1').
# LIVE_SOURCE=FILE serves FILE (looped, scaled, 25 fps) instead of the bundled film, which was
# shot from a moving cable car: every pixel changes every frame, unlike a fixed camera's view.
# LIVE_CLIPS=EVENT also records event clips of redacted frames on every camera ([camera.clips]
# on = ["EVENT"], e.g. `people` or `line`, default pre- and post-roll) and reports how many.
# LIVE_FILES=1 makes the cameras files instead (the same SECONDS-long clip, one file camera each,
# no RTSP server): `obscura run` reads every file to its end without dropping a frame, and the
# bench reports each camera's frames per second of wall time; real time is 25 fps each.
#
# Uses the release build ($OBSCURA_BIN to run another). A benchmark, not a test: run it on a quiet
# machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
cameras=${1:-4}
seconds=${2:-60}
size=${3:-1920x1080}
dir=${LIVE_BENCH_DIR:-/tmp/obscura-live-bench}
rm -rf "$dir" && mkdir -p "$dir"
./scripts/setup >/dev/null
if [ -n "${OBSCURA_BIN:-}" ]; then
  bin=$OBSCURA_BIN
else
  cargo build --release --locked --quiet
  bin="$CARGO_TARGET_DIR/release/obscura"
fi

clip="$dir/clip-$size.mp4"
# LIVE_SOURCE: another clip instead of the film (a fixed camera's view, say), played in a loop.
source=${LIVE_SOURCE:-sample_media/street.mp4}
# Live cameras stream past the measured window (warm-up, teardown); files are read whole.
length=$((seconds + 30))
if [ -n "${LIVE_FILES:-}" ]; then
  length=$seconds
fi
ffmpeg -v error -y -stream_loop -1 -i "$source" -an -t "$length" \
  -vf "scale=${size/x/:}:flags=bicubic,fps=25" -c:v libx264 -preset veryfast -crf 20 -g 50 -bf 0 "$clip"

camera_config() { # NAME SOURCE
  printf '[[camera]]\nname = "%s"\nsource = "%s"\n' "$1" "$2"
  printf '[camera.redact]\ntarget = "faces"\n'
  printf '[[camera.line]]\nname = "middle"\nfrom = [0.5, 0.0]\nto = [0.5, 1.0]\n\n'
  if [ -n "${LIVE_CLIPS:-}" ]; then
    printf '[camera.clips]\non = ["%s"]\n\n' "$LIVE_CLIPS"
  fi
}

write_config() { # SOURCE [HEAD]: every camera reads SOURCE; HEAD (printf %b escapes) goes first
  {
    printf '%b[counts]\nbucket = "1m"\nsqlite = "counts.sqlite"\n\n' "${2:-}"
    if [ -n "${LIVE_DETECTOR:-}" ]; then
      printf '[detector]\n%s\n\n' "$LIVE_DETECTOR"
    fi
    for i in $(seq "$cameras"); do
      camera_config "cam$i" "$1"
    done
  } >"$dir/obscura.toml"
}

if [ -n "${LIVE_FILES:-}" ]; then
  write_config "$clip"
  # GNU time's wall clock, CPU seconds and peak RSS of the whole run; each camera's summary line.
  /usr/bin/time -f 'TIME %e %U %S %M' "$bin" run --config "$dir/obscura.toml" >"$dir/run.out" 2>"$dir/obscura.log"
  python3 - "$dir" "$size" "$cameras" <<'EOF'
import re, sys
d, size, cameras = sys.argv[1], sys.argv[2], int(sys.argv[3])
log = open(f"{d}/obscura.log").read() + open(f"{d}/run.out").read()
wall, user, system, peak = re.findall(r"^TIME (\S+) (\S+) (\S+) (\S+)$", log, re.M)[-1]
wall = float(wall)
rows = re.findall(r"camera (\S+): (\d+) frames in \S+ s \(\S+ fps\), detection on (\d+) frames, (\d+) fail-closed", log)
if len(rows) != cameras:
    sys.exit(f"live.sh: expected {cameras} camera summaries in {d}/obscura.log, found {len(rows)}")
print(f"| camera ({size} file, 25 fps) | frames | fps over the run's {wall:.1f} s | detections/s | fail-closed |")
print("|---|---|---|---|---|")
total = 0
for name, frames, passes, failed in sorted(rows):
    total += int(frames)
    print(f"| {name} | {frames} | {int(frames) / wall:.1f} | {int(passes) / wall:.1f} | {failed} |")
cpu = float(user) + float(system)
print(f"\nall cameras: {total / wall:.1f} frames/s ({total / wall / 25 / cameras:.2f}x real time); "
      f"CPU {cpu:.0f} s in {wall:.1f} s ({cpu / wall * 100:.0f} % of one core); peak RSS {int(peak) / 1024:.0f} MiB")
EOF
  exit 0
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rtsp_port=$(free_port)
http_port=$(free_port)
/usr/bin/python3 scripts/rtsp-test-server --port "$rtsp_port" --file "$clip" >"$dir/server.out" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q ready "$dir/server.out" && break; sleep 0.1; done

write_config "rtsp://127.0.0.1:$rtsp_port/cam" "[http]\nlisten = \"127.0.0.1:$http_port\"\n\n"

"$bin" run --config "$dir/obscura.toml" 2>"$dir/obscura.log" &
pid=$!
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# Warm-up: models loaded and every camera streaming.
sleep 10
cpu0=$(cpu)
curl -s "http://127.0.0.1:$http_port/api/cameras" >"$dir/start.json"
curl -s "http://127.0.0.1:$http_port/metrics" >"$dir/metrics-start.txt"
sleep "$seconds"
cpu1=$(cpu)
curl -s "http://127.0.0.1:$http_port/api/cameras" >"$dir/end.json"
curl -s "http://127.0.0.1:$http_port/metrics" >"$dir/metrics.txt"
peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
kill -TERM "$pid"
wait "$pid" || true

python3 - "$dir" "$seconds" "$cpu0" "$cpu1" "$ticks" "$peak" "$size" <<'EOF'
import json, re, sys
d, seconds, cpu0, cpu1, ticks, peak, size = sys.argv[1:]
def passes(path):
    return {m[1]: int(m[2]) for m in re.finditer(r'obscura_detection_seconds_count\{camera="([^"]+)"\} (\d+)', open(path).read())}
p0, p1 = passes(f"{d}/metrics-start.txt"), passes(f"{d}/metrics.txt")
seconds = int(seconds)
start = {c["name"]: c for c in json.load(open(f"{d}/start.json"))["cameras"]}
end = {c["name"]: c for c in json.load(open(f"{d}/end.json"))["cameras"]}
cpu = (int(cpu1) - int(cpu0)) / int(ticks)
print(f"| camera ({size}, 25 fps sent) | decoded fps | redacted fps (kept) | detections/s | dropped | fail-closed | reconnects |")
print("|---|---|---|---|---|---|---|")
for name, e in sorted(end.items()):
    s = start.get(name, {"frames": 0, "frames_dropped": 0, "frames_fail_closed": 0})
    decoded = e["frames"] - s["frames"]
    rate = (p1.get(name, 0) - p0.get(name, 0)) / seconds
    dropped = e["frames_dropped"] - s["frames_dropped"]
    kept = decoded - dropped
    share = kept / decoded * 100 if decoded else 0
    print(f"| {name} | {decoded / seconds:.1f} | {kept / seconds:.1f} ({share:.0f} %) | {rate:.1f} | {dropped} "
          f"| {e['frames_fail_closed'] - s['frames_fail_closed']} | {e['reconnects']} |")
print(f"\nCPU: {cpu:.0f} s in {seconds} s ({cpu / seconds * 100:.0f} % of one core); peak RSS {int(peak) / 1024:.0f} MiB")
clips = {name: e.get("clips", 0) - start.get(name, {}).get("clips", 0) for name, e in end.items()}
if any(clips.values()):
    print("clips written: " + ", ".join(f"{n} {c}" for n, c in sorted(clips.items())))
EOF
