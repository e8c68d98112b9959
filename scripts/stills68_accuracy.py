"""Landmark accuracy of the 68-point landmarker against the hand annotations of ../shared/data/stills68.

Prints the normalised error (mean point error / inter-ocular distance) per image and on average, and
saves a PNG with the annotations (green) and predictions (red) drawn on every image.

    python scripts/stills68_accuracy.py [--data ../shared/data/stills68] [--out stills68.png]

The detector box is the detection that best overlaps the annotated face; where none does (Einstein's
tilted face is missed by the HOG detector), the box comes from the annotation's extent, as in the
300-W protocol that hands out face boxes.
"""
import argparse
from pathlib import Path

import numpy as np

from motiongan.draw import draw_landmarks, fit, grid
from motiongan.face import FaceLandmarker
from motiongan.landmarks import normalised_error, read_pts
from motiongan.media import read_image, write_image


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def evaluate(folder: Path, landmarker: FaceLandmarker):
    rows = []
    for pts_file in sorted(folder.glob("*.pts")):
        image_file = next(p for p in folder.glob(pts_file.stem + ".*") if p.suffix != ".pts")
        rgb, gt = read_image(image_file), read_pts(pts_file)
        gt_box = (*gt.min(0), *gt.max(0))
        boxes = landmarker.detect(rgb)
        best = max(boxes, key=lambda b: iou(b, gt_box), default=None)
        from_annotation = best is None or iou(best, gt_box) < 0.3
        pred = landmarker.fit(rgb, gt_box if from_annotation else best)
        rows.append((image_file.name, float(normalised_error(pred, gt)), from_annotation, rgb, gt, pred))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/stills68")
    ap.add_argument("--out", type=Path, default=Path("stills68.png"))
    args = ap.parse_args()
    rows = evaluate(args.data, FaceLandmarker(upsample=1))
    tiles = []
    for name, err, from_ann, rgb, gt, pred in rows:
        print(f"{name:20s} error {err:.4f}{'  (box from annotation)' if from_ann else ''}")
        pad = 0.3 * np.ptp(gt, axis=0).max()
        lo = np.maximum(gt.min(0) - pad, 0).astype(int)
        hi = np.minimum(gt.max(0) + pad, rgb.shape[1::-1]).astype(int)
        r = max(1, round(np.ptp(gt, axis=0).max() / 80))
        face = draw_landmarks(rgb, gt, (0, 255, 0), radius=r)
        face = draw_landmarks(face, pred, (255, 0, 0), radius=r, lines=False)[lo[1]:hi[1], lo[0]:hi[0]]
        tiles.append(fit(face, 256))
    print(f"{'mean':20s} error {np.mean([r[1] for r in rows]):.4f} over {len(rows)} images")
    write_image(args.out, grid(tiles, 5))
    print(f"wrote {args.out} (green: annotation, red: prediction)")


if __name__ == "__main__":
    main()
