"""Produced docs/MODEL_CARD.md's "Mouth frames" and "Teeth" pictures (docs/warp_cpu_mouths.png, warp_cpu_teeth.png).

Where the landmark warp has no pixels to move (a mouth opening wider than in the source) and what a warp
generator paints there, on the fixed test people.

    python experiments/mouth_frames.py GENERATOR [GENERATOR ...] --data cache/all [--out docs/warp_cpu_mouths.png]
    python experiments/mouth_frames.py GENERATOR [GENERATOR ...] --demo [--out docs/warp_cpu_teeth.png]

Rows: the ``--rows`` test clips whose mouth opens widest over the source (frame 0) within the first 40
frames, one frame each (the widest). Columns: the real frame, the landmark warp, then each generator; each
cell is a square around the mouth (points 48-67's box grown by a half, a picture's crop, not the evaluation's
mouth box) enlarged 3x, with that cell's PSNR against the real frame. It also
prints, per row, how far the warp stretches the source's mouth: the inner-lip polygon's area, target over
source.

``--demo``: no real frames, the ``motiongan demo`` case instead (the astronaut, smiling with her teeth showing,
moved by the shipped track): one row per generator, the landmark warp first, the mouth of the demo strip's
frames 2-6.
"""
import argparse

import cv2
import numpy as np
import torch
from PIL import Image

from motiongan.assets import asset
from motiongan.convention import to_image
from motiongan.data import Cache, EvalClips
from motiongan.evaluation.metrics import psnr
from motiongan.inference import MotionGAN
from motiongan.inference.animate import Animator, Driving, target_track
from motiongan.landmarks import INNER_MOUTH, MOUTH, stretch_ratio, widening

CELL = 120


def stretch(source: np.ndarray, target: np.ndarray) -> float:
    """How far the warp stretches the source's mouth: inner-lip area, target over source (as the warp G's
    ``stretch`` gate measures it)."""
    return float(stretch_ratio(torch.as_tensor(source[None]), torch.as_tensor(target[None]))[0])


def picture_box(points: np.ndarray, size: int) -> tuple[slice, slice]:
    """The square a cell shows: points 48-67's box, its longer side doubled, about its centre."""
    lo, hi = points[list(MOUTH)].min(0), points[list(MOUTH)].max(0)
    c, side = (lo + hi) / 2, (hi - lo).max() * 2.0
    x0, y0 = np.clip(np.round(c - side / 2), 0, size - 1).astype(int)
    x1, y1 = np.clip(np.round(c + side / 2), 1, size).astype(int)
    return slice(y0, y1), slice(x0, x1)


def cell(image: np.ndarray, box, label: str) -> np.ndarray:
    out = cv2.resize(image[box], (CELL, CELL), interpolation=cv2.INTER_CUBIC)
    cv2.putText(out, label, (3, CELL - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def demo_rows(models: list[MotionGAN]) -> list[np.ndarray]:
    """Per model, the mouths of the demo strip's frames 2-6 (``motiongan demo``'s picks of 75 frames)."""
    import skimage.data

    track = np.load(asset("demo_track.npy"))
    picks = np.linspace(0, len(track) - 1, 7).round().astype(int)[1:6]
    rows = []
    for m in models:
        animator = Animator(m)
        source = animator.source(skimage.data.astronaut(), size=str(m.size))  # the model's size, as the targets
        targets = target_track(source, Driving(track, 25.0), m.size)
        frames = list(animator.frames(source, targets))
        rows.append(np.concatenate([cell(frames[i], picture_box(targets[i], m.size), m.name) for i in picks], 1))
    print("inner-mouth area, target over source (how far the warp stretches the source's mouth):",
          ", ".join(f"{stretch(source.landmarks, targets[i]):.2f}" for i in picks))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("generators", nargs="+")
    ap.add_argument("--data", default=None)
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--rows", type=int, default=6)
    ap.add_argument("--out", default="docs/warp_cpu_mouths.png")
    args = ap.parse_args()
    models = [MotionGAN.landmark_warp()] + [MotionGAN.from_checkpoint(g) for g in args.generators]
    if args.demo:
        Image.fromarray(np.concatenate(demo_rows(models), 0)).save(args.out)
        print(f"{args.out}: rows " + ", ".join(m.name for m in models))
        return
    clips = EvalClips(Cache(args.data), "test", max_frames=40)
    widest = []
    for i in range(len(clips)):
        lms = clips[i]["landmarks"]
        wider = widening(lms, lms[:1], INNER_MOUTH).numpy()
        widest.append((float(wider[1:].max()), i, int(wider[1:].argmax()) + 1))
    rows = []
    for _, i, t in sorted(widest, reverse=True)[: args.rows]:
        c = clips[i]
        real, lms = to_image(c["frames"][t]), c["landmarks"].numpy()
        box = picture_box(lms[t], real.shape[0])
        cells = [cell(real, box, "real")]
        for m, name in zip(models, ["warp"] + [f"G{k + 1}" for k in range(len(args.generators))]):
            *_, frame = m.generate(c["frames"][0], lms[0], lms[: t + 1])  # recurrent state through frames 0..t
            gen = to_image(frame)
            cells.append(cell(gen, box, f"{name} {psnr(gen[box], real[box]):.1f} dB"))
        rows.append(np.concatenate(cells, 1))
        print(f"{c['clip_id']} frame {t}: inner-mouth area, target over source, {stretch(lms[0], lms[t]):.2f}")
    Image.fromarray(np.concatenate(rows, 0)).save(args.out)
    print(f"{args.out}: {len(rows)} clips; columns real, warp, " + ", ".join(
        f"G{k + 1} = {g}" for k, g in enumerate(args.generators)))


if __name__ == "__main__":
    main()
