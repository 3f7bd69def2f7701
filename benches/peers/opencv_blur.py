#!/usr/bin/env python3
"""obscura's redaction kernels against OpenCV, side by side in one run on one machine.

Runs `cargo bench --bench redact` (criterion) and reads its estimates, then times OpenCV on the same
frame sizes (1920x1080 and 3840x2160) and prints obscura's speed relative to each:

  cv2.GaussianBlur  sigma = min(w, h) / 6 (obscura's rule; ksize 0: OpenCV picks it from sigma)
  cv2.blur          one box pass of radius r = ceil(min(w, h) / 6), obscura's box radius
  cv2 decimated     the trick obscura uses, done with OpenCV: INTER_AREA down by k = r // 4,
                    GaussianBlur there, INTER_LINEAR back up
  10 faces          per face: GaussianBlur of the face's box (sigma = min side / 6), copied back
                    through an ellipse mask (what redaction tools built on OpenCV do)

Each OpenCV operation runs on a BGR frame (what OpenCV users hold; 3 bytes a pixel, twice the bytes of
I420) and on the planes of an I420 frame (Y, U, V one after another, the chroma with half the sigma):
obscura works on I420, so the I420 column is the like-for-like one. OpenCV uses all cores
(cv2.getNumThreads()), as obscura does.

OpenCV comes from a virtual environment made on first use (pinned versions below) under
/var/cache/obscura/peers-venv (override with OBSCURA_PEERS_VENV).

cv2.GaussianBlur with the full sigma takes seconds a frame (its kernel is ~8 sigma wide): it runs at
1080p only unless --slow is given (2160p adds about three minutes).

Usage: benches/peers/opencv_blur.py [--skip-cargo] [--slow]
  --skip-cargo  reuse the last criterion results instead of running the bench
  --slow        also time cv2.GaussianBlur at 2160p
"""

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

VENV = Path(os.environ.get("OBSCURA_PEERS_VENV", "/var/cache/obscura/peers-venv"))
PINNED = ["numpy==2.2.6", "opencv-python-headless==4.12.0.88"]
REPO = Path(__file__).resolve().parents[2]
SIZES = [("1080p", 1920, 1080), ("2160p", 3840, 2160)]


def ensure_venv():
    """Re-executes this script with the venv's Python, creating the venv first if needed."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not python.exists():
        print(f"creating {VENV} with {' '.join(PINNED)}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINNED], check=True)
    os.execv(str(python), [str(python), *sys.argv])


def target_dir():
    env = os.environ.get("CARGO_TARGET_DIR")
    if env:
        return Path(env)
    # scripts/env.sh's default, the one the other scripts share.
    return Path("/var/tmp/obscura-target")


def run_cargo_bench():
    env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir()))
    subprocess.run(["cargo", "bench", "--bench", "redact"], cwd=REPO, env=env, check=True)


def criterion_seconds(group, bench):
    """Mean time of one criterion benchmark, in seconds."""
    path = target_dir() / "criterion" / group / bench / "new" / "estimates.json"
    with open(path) as f:
        return json.load(f)["mean"]["point_estimate"] / 1e9


def seconds(op, slow=False, min_total=1.0, max_runs=20):
    """Mean time of `op` after one warm-up call, repeated until `min_total` seconds or `max_runs`; an op
    that takes seconds (`slow`) runs once, without warm-up."""
    if slow:
        start = time.perf_counter()
        op()
        return time.perf_counter() - start
    op()
    runs, start = 0, time.perf_counter()
    while True:
        op()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_total or runs >= max_runs:
            return elapsed / runs


def textured(shape, np):
    """The bench's texture: ((i * 7919) % 251) over the bytes."""
    n = math.prod(shape)
    return ((np.arange(n, dtype=np.uint64) * 7919) % 251).astype(np.uint8).reshape(shape)


def faces(width):
    """The bench's ten faces: 80x100 ellipses at 1080p, scaled with the frame."""
    s = width / 1920
    out = []
    for i in range(10):
        x, y = s * (100 + 170 * i), s * (200 + 60 * (i % 4))
        out.append((x, y, x + 80 * s, y + 100 * s))
    return out


def opencv_ops(cv2, np, width, height):
    """name -> (BGR op, I420 op) for one frame size; each op redacts its frame in place."""
    bgr = textured((height, width, 3), np)
    planes = [textured((height, width), np), textured((height // 2, width // 2), np),
              textured((height // 2, width // 2), np)]
    radius = math.ceil(min(width, height) / 6)
    sigma = min(width, height) / 6
    scales = [1, 2, 2]  # luma, chroma: samples per pixel

    def on_planes(f):
        def op():
            for plane, s in zip(planes, scales):
                f(plane, s)
        return op

    def gaussian(img, s=1):
        img[...] = cv2.GaussianBlur(img, (0, 0), sigma / s)

    def box(img, s=1):
        r = math.ceil(radius / s)
        img[...] = cv2.blur(img, (2 * r + 1, 2 * r + 1))

    def decimated(img, s=1):
        k = max(1, math.ceil(radius / s) // 4)
        h, w = img.shape[:2]
        small = cv2.resize(img, (math.ceil(w / k), math.ceil(h / k)), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), sigma / s / k)
        img[...] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)

    boxes = faces(width)

    def face_blur(img, s=1):
        for x0, y0, x1, y1 in boxes:
            x0, y0 = int(x0 / s), int(y0 / s)
            x1, y1 = math.ceil(x1 / s), math.ceil(y1 / s)
            roi = img[y0:y1, x0:x1]
            blurred = cv2.GaussianBlur(roi, (0, 0), min(x1 - x0, y1 - y0) / 6)
            mask = np.zeros(roi.shape[:2], np.uint8)
            half = ((x1 - x0) // 2, (y1 - y0) // 2)
            cv2.ellipse(mask, half, half, 0, 0, 360, 255, -1)
            np.copyto(roi, blurred, where=(mask > 0)[..., None] if roi.ndim == 3 else mask > 0)

    return {
        "cv2.GaussianBlur": (lambda: gaussian(bgr), on_planes(gaussian)),
        "cv2.blur (1 box pass)": (lambda: box(bgr), on_planes(box)),
        "cv2 decimated Gaussian": (lambda: decimated(bgr), on_planes(decimated)),
        "10 faces, cv2.GaussianBlur": (lambda: face_blur(bgr), on_planes(face_blur)),
    }


def main():
    ensure_venv()
    import cv2
    import numpy as np

    if "--skip-cargo" not in sys.argv:
        run_cargo_bench()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line), "?")
    print(f"\nmachine: {os.cpu_count()} cores, {cpu}; OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads")
    for label, width, height in SIZES:
        group = f"redact_{label}_i420"
        ours = {
            "memcpy": criterion_seconds(group, "memcpy"),
            "whole": criterion_seconds(group, "blur/whole_frame"),
            "faces": criterion_seconds(group, "blur/10_faces"),
        }
        print(f"\n{label} ({width}x{height}), obscura blur on I420 (criterion means):")
        print(f"  memcpy of the I420 frame   {ours['memcpy'] * 1e3:9.3f} ms")
        print(f"  blur, whole frame          {ours['whole'] * 1e3:9.3f} ms   {ours['whole'] / ours['memcpy']:5.1f}x memcpy")
        print(f"  blur, 10 faces             {ours['faces'] * 1e3:9.3f} ms")
        print(f"  {'OpenCV':28} {'BGR ms':>10} {'I420 ms':>10}   obscura faster by (BGR / I420)")
        for name, (on_bgr, on_i420) in opencv_ops(cv2, np, width, height).items():
            mine = ours["faces"] if name.startswith("10 faces") else ours["whole"]
            slow = name == "cv2.GaussianBlur"
            if slow and width > 1920 and "--slow" not in sys.argv:
                print(f"  {name:28} {'(skipped: takes minutes; --slow runs it)':>40}")
                continue
            t_bgr, t_i420 = seconds(on_bgr, slow), seconds(on_i420, slow)
            print(f"  {name:28} {t_bgr * 1e3:10.2f} {t_i420 * 1e3:10.2f}   {t_bgr / mine:8.1f}x / {t_i420 / mine:.1f}x")


if __name__ == "__main__":
    main()
