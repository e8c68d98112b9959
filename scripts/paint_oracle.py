"""How much a warp generator could gain at best: the landmark warp with the real frame's own pixels pasted
where the painter may paint (an oracle painter), scored as ``warp_rounds_psnr.py`` scores a generator.

    python scripts/paint_oracle.py --data cache/all

Rows: the landmark warp; the oracle in the gated paint region (the target's inner mouth and eyes, weighted
by how much wider they open than in the source); the same with the stretch gate (1.5-3); the oracle in the
whole open-mouth box; and a painter with no network: the stretch-gated region filled with one colour, the
mean real colour inside that region over the training people's clips. Every row: PSNR over frames 1-39 of
the fixed test people's clips (frame 0 the source) and the open-mouth box PSNR (253 frames). The gap
between the warp and an oracle row is the most that painting that region can gain, whatever the network.
"""
import argparse

import numpy as np
import torch
from warp_rounds_psnr import mouth_box, open_frames  # this folder's script: the same frames and boxes

from motiongan.convention import to_image
from motiongan.data import Cache, EvalClips
from motiongan.evaluation.metrics import psnr
from motiongan.inference import MotionGAN
from motiongan.networks.warp_generator import paint_region

STRETCHED = "oracle, gated region with the stretch gate 1.5-3"


def regions(lms: torch.Tensor, opened: np.ndarray) -> dict[str, torch.Tensor]:
    """Each oracle's paint weights (T, 1, 128, 128) for a clip's landmarks (T, 68, 2), frame 0 the source."""
    src = lms[:1].expand(len(lms), -1, -1)
    box = torch.zeros(len(lms), 1, 128, 128)
    for t in opened:
        box[t, 0][mouth_box(lms[t].numpy())] = 1
    return {"oracle, gated region": paint_region(src, lms, 128),
            STRETCHED: paint_region(src, lms, 128, (1.5, 3.0)),
            "oracle, whole open-mouth box": box}


def mean_interior(cache: Cache) -> torch.Tensor:
    """The mean real colour (3, 1, 1) in the stretch-gated paint region over the training people's clips."""
    total, weight = torch.zeros(3), torch.tensor(0.0)
    clips = EvalClips(cache, "train", max_frames=40)
    for i in range(len(clips)):
        c = clips[i]
        r = paint_region(c["landmarks"][:1].expand(len(c["landmarks"]), -1, -1), c["landmarks"], 128, (1.5, 3.0))
        total += (c["frames"] * r).sum((0, 2, 3))
        weight += r.sum()
    return (total / weight.clamp_min(1)).view(3, 1, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    clips, warp = EvalClips(Cache(args.data), "test", max_frames=40), MotionGAN.landmark_warp()
    fill = mean_interior(Cache(args.data))
    print("mean interior colour of the training people (RGB 0-255):", to_image(fill.expand(3, 1, 1))[0, 0])
    res: dict[str, dict[str, list]] = {}
    for i in range(len(clips)):
        c = clips[i]
        f, lms = c["frames"], c["landmarks"]
        warped = torch.stack(list(warp.generate(f[0], lms[0].numpy(), lms.numpy())))
        opened = open_frames(lms.numpy())
        paint = regions(lms, opened)
        rows = {"landmark warp": warped} | {name: warped * (1 - r) + f * r for name, r in paint.items()}
        r = paint[STRETCHED]
        rows["one colour in the stretch-gated region"] = warped * (1 - r) + fill * r
        real = [to_image(x) for x in f]
        for name, frames in rows.items():
            gen = [to_image(x) for x in frames]
            scores = res.setdefault(name, {"all": [], "open": []})
            scores["all"] += [psnr(g, x) for g, x in zip(gen[1:], real[1:])]
            scores["open"] += [psnr(gen[t][mouth_box(lms[t].numpy())], real[t][mouth_box(lms[t].numpy())])
                               for t in opened]
    for name, r in res.items():
        print(f"{name}: PSNR {np.mean(r['all']):.3f}, open-mouth box PSNR {np.mean(r['open']):.3f} "
              f"({len(r['open'])} frames)")


if __name__ == "__main__":
    main()
