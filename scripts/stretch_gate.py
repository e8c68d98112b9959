"""Experiment: gate a warp generator's mouth paint by how far the warp stretches the source's mouth, with the
weights it was trained with (no retraining), and score it with ``warp_rounds_psnr.py``'s ``score``.

    python scripts/stretch_gate.py [GENERATOR] --data cache/all [--low 1.5] [--high 3.0]

The shipped region paints the target's inner mouth whenever it opens wider than the source's. Here its
weight is also multiplied by a smoothstep of the inner-lip area ratio (target over source) from ``--low`` to
``--high``: a mouth the warp stretches little (a smiling source whose teeth already show) keeps the warp.
Prints PSNR and open-mouth box PSNR on the fixed test people (frames 1-39 of each clip, frame 0 the source)
for the landmark warp, the generator and the stretch-gated generator, and the mean absolute difference from
the warp in the mouth box on the demo's astronaut frames (0: her teeth are left as the warp shows them).
"""
import argparse

import numpy as np
import skimage.data
import torch
from warp_rounds_psnr import score  # this folder's script: the same frames and boxes

from motiongan.assets import asset
from motiongan.data import Cache, EvalClips
from motiongan.inference import MotionGAN
from motiongan.inference.animate import Animator, Driving, target_track
from motiongan.landmarks import INNER_MOUTH
from motiongan.networks import warp_generator

SHIPPED = warp_generator.paint_region


def area(points: torch.Tensor) -> torch.Tensor:
    """Inner-lip polygon areas (B,) of landmarks (B, 68, 2)."""
    p = points[:, list(INNER_MOUTH)]
    x, y = p[..., 0], p[..., 1]
    return 0.5 * (x * y.roll(1, -1) - y * x.roll(1, -1)).sum(-1).abs()


def stretch_gated(low: float, high: float):
    def region(source_lms, target_lms, size):
        r = (area(target_lms) / area(source_lms).clamp_min(1.0) - low) / (high - low)
        r = r.clamp(0, 1)
        return SHIPPED(source_lms, target_lms, size) * (r * r * (3 - 2 * r)).view(-1, 1, 1, 1)
    return region


def teeth_change(model: MotionGAN, warp: MotionGAN) -> float:
    """Mean absolute difference (0-255) from the warp in the mouth box over the demo's astronaut frames."""
    outs = []
    for m in (model, warp):
        animator = Animator(m)
        source = animator.source(skimage.data.astronaut())
        targets = target_track(source, Driving(np.load(asset("demo_track.npy")), 25.0), m.size)
        outs.append((list(animator.frames(source, targets)), targets))
    diffs = []
    for g, w, t in zip(outs[0][0], outs[1][0], outs[0][1]):
        lo, hi = t[60:68].min(0).astype(int), t[60:68].max(0).astype(int) + 1
        diffs.append(np.abs(g[lo[1]:hi[1], lo[0]:hi[0]].astype(float) - w[lo[1]:hi[1], lo[0]:hi[0]]).mean())
    return float(np.mean(diffs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("generator", nargs="?", default="motiongan/assets/warp_cpu")
    ap.add_argument("--data", required=True)
    ap.add_argument("--low", type=float, default=1.5)
    ap.add_argument("--high", type=float, default=3.0)
    args = ap.parse_args()
    clips = EvalClips(Cache(args.data), "test", max_frames=40)
    warp, model = MotionGAN.landmark_warp(), MotionGAN.from_checkpoint(args.generator)
    for name, region in (("landmark warp", None), ("generator", SHIPPED),
                         (f"generator, stretch-gated {args.low:g}-{args.high:g}", stretch_gated(args.low, args.high))):
        if region is not None:
            warp_generator.paint_region = region
        m = warp if region is None else model
        res = score(m, clips)
        p, o = np.mean(res["all"]), np.mean(res["open"])
        teeth = "" if region is None else \
            f"; astronaut's inner mouth differs from the warp by {teeth_change(m, warp):.1f}"
        print(f"{name}: PSNR {p:.3f}, open-mouth box PSNR {o:.3f}{teeth}")


if __name__ == "__main__":
    main()
