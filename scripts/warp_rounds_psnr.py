"""PSNR of a warp generator against the landmark warp, without the dlib scoring (seconds, not minutes): the
model card's CPU-rounds table.

    python scripts/warp_rounds_psnr.py GENERATOR --data cache/all [--random-split] [--no-eyes]

Every clip of the fixed test people (the list evaluate and compare use), first 40 frames, frame 0 as the
source: PSNR over frames 1-39, and in the mouth box (points 48-67 grown by a quarter) on frames whose
inner-lip gap exceeds the source's by more than 0.05 inter-ocular distance; then the per-clip PSNR
differences, and (for a warp G) on how many frames its network has something to paint. ``--no-eyes``:
the generator paints the mouth alone (``eyes=False``). ``--random-split``: a random 30 % of the cache's
people instead (seed 0), as the model card's rounds 1 and 2 were first measured; that split holds people
the rounds trained on.
"""
import argparse

import numpy as np

from motiongan.convention import to_image
from motiongan.data import Cache, EvalClips, SplitOptions
from motiongan.evaluation.metrics import psnr
from motiongan.inference import MotionGAN
from motiongan.landmarks import INNER_MOUTH, opening
from motiongan.networks import WarpGenerator
from motiongan.networks.warp_generator import paint_region


def open_frames(lms: np.ndarray) -> np.ndarray:
    """Frames 1.. whose inner-lip gap exceeds the source's (frame 0) by more than 0.05 inter-ocular distance."""
    wider = opening(lms, INNER_MOUTH) - opening(lms[:1], INNER_MOUTH)
    return np.nonzero(np.asarray(wider[1:]) > 0.05)[0] + 1


def mouth_box(points: np.ndarray) -> tuple[slice, slice]:
    """The box of points 48-67 grown by a quarter, in a 128 px crop."""
    lo, hi = points[48:68].min(0), points[48:68].max(0)
    pad = (hi - lo) / 4
    x0, y0 = np.clip(lo - pad, 0, 127).astype(int)
    x1, y1 = np.clip(hi + pad + 1, 0, 128).astype(int)
    return slice(y0, y1), slice(x0, x1)


def score(model: MotionGAN, clips: EvalClips) -> dict[str, list[float]]:
    """PSNR of every frame 1-39 (``all``), per clip (``clip``), and in the mouth box on the frames whose mouth
    opens wider than the source's (``open``)."""
    res = {"all": [], "open": [], "clip": []}
    for i in range(len(clips)):
        c = clips[i]
        f, lms = c["frames"], c["landmarks"].numpy()
        real = [to_image(x) for x in f]
        gen = [to_image(x) for x in model.generate(f[0], lms[0], lms)]
        ps = [psnr(g, r) for g, r in zip(gen[1:], real[1:])]
        res["all"] += ps
        res["clip"].append(np.mean(ps))
        res["open"] += [psnr(gen[t][mouth_box(lms[t])], real[t][mouth_box(lms[t])]) for t in open_frames(lms)]
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("generator")
    ap.add_argument("--data", required=True)
    ap.add_argument("--random-split", action="store_true")
    ap.add_argument("--no-eyes", action="store_true")
    args = ap.parse_args()
    people = SplitOptions(test_list=None) if args.random_split else SplitOptions()
    clips = EvalClips(Cache(args.data), "test", max_frames=40, people=people)
    model = MotionGAN.from_checkpoint(args.generator)
    gated = isinstance(model.G, WarpGenerator) and model.G.paint == "gated"
    if args.no_eyes and not gated:
        ap.error(f"--no-eyes: {args.generator} is not a warp generator with a gated paint region")
    if args.no_eyes:
        model.G.eyes = False
    res = {"warp": score(MotionGAN.landmark_warp(), clips), "G": score(model, clips)}
    for k, r in res.items():
        print(k, f"PSNR {np.mean(r['all']):.3f}  open-mouth box PSNR {np.mean(r['open']):.3f} "
                 f"({len(r['open'])} frames)")
    d = np.array(res["G"]["clip"]) - np.array(res["warp"]["clip"])
    print(f"{len(d)} clips; per-clip PSNR difference G - warp:", np.round(d, 3))
    if gated:
        lms = [clips[i]["landmarks"] for i in range(len(clips))]
        runs = sum(int((paint_region(m[:1].expand(len(m), -1, -1), m, 128, model.G.stretch, model.G.eyes)
                        .flatten(1).amax(1) > 0)[1:].sum()) for m in lms)
        where = " (where the network runs)" if model.G.skip else ""
        print(f"frames 1-39 with something to paint{where}: {runs} of {sum(len(m) - 1 for m in lms)}")


if __name__ == "__main__":
    main()
