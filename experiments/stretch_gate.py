"""Produced docs/MODEL_CARD.md's CPU-rounds row "3 with the stretch gate, no retraining" and its teeth figures.

A warp generator's mouth paint gated by how far the warp stretches the source's mouth, with the weights it was
trained with (no retraining).

    python experiments/stretch_gate.py [GENERATOR] --data cache/all [--low 1.5] [--high 3.0]

The region a generator was trained with paints the inner mouth whenever it opens wider than the source's. Here its
weight is also multiplied by a smoothstep of the inner-lip area ratio (target over source) from ``--low`` to
``--high``: a mouth the warp stretches little (a smiling source whose teeth already show) keeps the warp.
Prints PSNR and open-mouth PSNR on the fixed test people (frames 1-39 of each clip, frame 0 the source; the
package's series, mouth box and open-mouth rule, as ``experiments/warp_rounds_psnr.py`` scores, whose
docstring says how its open-mouth figures moved from the model card's) for the landmark warp, the generator
and the stretch-gated generator, and the mean absolute difference from the warp in the inner mouth's box on
the demo's astronaut frames (0: her teeth are left as the warp shows them).
"""
import argparse

import numpy as np
import skimage.data

from motiongan.assets import asset
from motiongan.convention import to_image
from motiongan.data import Cache, EvalClips
from motiongan.evaluation.registry import OPEN_MOUTH_PSNR, PSNR
from motiongan.evaluation.scoring import pixel_series
from motiongan.inference import MotionGAN
from motiongan.inference.animate import Animator, Driving, target_track
from motiongan.landmarks import INNER_MOUTH


def score(model: MotionGAN, clips: EvalClips) -> tuple[float, float]:
    """The registry's PSNR and open-mouth PSNR over frames 1.. of every clip, frame 0 the source."""
    per_clip = []
    for i in range(len(clips)):
        c = clips[i]
        f, lms = c["frames"], c["landmarks"].numpy()
        real = np.stack([to_image(x) for x in f])
        per_clip.append(pixel_series(np.stack([to_image(x) for x in model.generate(f[0], lms[0], lms)]), real, lms))
    return PSNR(per_clip)[0], OPEN_MOUTH_PSNR(per_clip)[0]


def teeth_change(model: MotionGAN, warp: MotionGAN) -> float:
    """Mean absolute difference (0-255) from the warp in the mouth box over the demo's astronaut frames."""
    outs = []
    for m in (model, warp):
        animator = Animator(m)
        source = animator.source(skimage.data.astronaut(), size=str(m.size))  # the model's size, as the targets
        targets = target_track(source, Driving(np.load(asset("demo_track.npy")), 25.0), m.size)
        outs.append((list(animator.frames(source, targets)), targets))
    diffs = []
    for g, w, t in zip(outs[0][0], outs[1][0], outs[0][1]):
        mouth = t[list(INNER_MOUTH)]
        lo, hi = mouth.min(0).astype(int), mouth.max(0).astype(int) + 1
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
    trained_with = model.G.stretch
    for name, stretch in (("landmark warp", None), ("generator, no stretch gate", None),
                          (f"generator, stretch-gated {args.low:g}-{args.high:g}", (args.low, args.high))):
        m = warp if name == "landmark warp" else model
        if m is model:
            model.G.stretch = stretch
        p, o = score(m, clips)
        teeth = "" if m is warp else \
            f"; astronaut's inner mouth differs from the warp by {teeth_change(m, warp):.1f}"
        print(f"{name}: PSNR {p:.3f}, open-mouth PSNR {o:.3f}{teeth}")
    print(f"(the generator was trained with stretch {trained_with})")


if __name__ == "__main__":
    main()
