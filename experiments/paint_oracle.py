"""Produced docs/MODEL_CARD.md's oracle and one-colour-fill figures (CPU rounds: "What failed", the curve's line).

How much a warp generator could gain at best: the landmark warp with the real frame's own pixels pasted where
the painter may paint (an oracle painter), scored as ``experiments/warp_rounds_psnr.py`` scores a generator
(the package's series, mouth box and open-mouth rule; that docstring says how the open-mouth figures moved
from the model card's).

    python experiments/paint_oracle.py --data cache/all

Rows: the landmark warp; the oracle in the gated paint region (the target's inner mouth and eyes, weighted
by how much wider they open than in the source); the same with the stretch gate (1.5-3); the oracle in the
whole open-mouth box; and a painter with no network: the stretch-gated region filled with one colour, the
mean real colour inside that region over the training people's clips. Every row: PSNR over frames 1-39 of
the fixed test people's clips (frame 0 the source) and the open-mouth PSNR (the registry's figures). The gap
between the warp and an oracle row is the most that painting that region can gain, whatever the network.
The whole-box oracle pastes the very pixels the open-mouth PSNR compares, so that figure is infinite and
shown as "—" (the registry leaves infinite PSNRs out).
"""
import argparse

import numpy as np
import torch

from motiongan.convention import to_image
from motiongan.data import Cache, EvalClips
from motiongan.evaluation.registry import OPEN_MOUTH_PSNR, PSNR, count
from motiongan.evaluation.scoring import pixel_series
from motiongan.inference import MotionGAN
from motiongan.landmarks import mouth_box, open_mouth
from motiongan.networks.warp_generator import paint_region

STRETCHED = "oracle, gated region with the stretch gate 1.5-3"


def regions(lms: torch.Tensor, opened: np.ndarray) -> dict[str, torch.Tensor]:
    """Each oracle's paint weights (T, 1, 128, 128) for a clip's landmarks (T, 68, 2), frame 0 the source."""
    src = lms[:1].expand(len(lms), -1, -1)
    box = torch.zeros(len(lms), 1, 128, 128)
    for t in opened:
        box[t, 0][mouth_box(lms[t].numpy(), (128, 128))] = 1
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


def show(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    clips, warp = EvalClips(Cache(args.data), "test", max_frames=40), MotionGAN.landmark_warp()
    fill = mean_interior(Cache(args.data))
    print("mean interior colour of the training people (RGB 0-255):", to_image(fill.expand(3, 1, 1))[0, 0])
    res: dict[str, list[dict]] = {}
    for i in range(len(clips)):
        c = clips[i]
        f, lms = c["frames"], c["landmarks"]
        warped = torch.stack(list(warp.generate(f[0], lms[0].numpy(), lms.numpy())))
        opened = np.flatnonzero(open_mouth(lms.numpy(), lms[0].numpy()))
        paint = regions(lms, opened)
        rows = {"landmark warp": warped} | {name: warped * (1 - r) + f * r for name, r in paint.items()}
        r = paint[STRETCHED]
        rows["one colour in the stretch-gated region"] = warped * (1 - r) + fill * r
        real = np.stack([to_image(x) for x in f])
        for name, frames in rows.items():
            res.setdefault(name, []).append(pixel_series(np.stack([to_image(x) for x in frames]), real, lms.numpy()))
    for name, per in res.items():
        (p, _), (o, _) = PSNR(per), OPEN_MOUTH_PSNR(per)
        print(f"{name}: PSNR {show(p)}, open-mouth PSNR {show(o)} ({count(per, 'open_mouth')} frames)")


if __name__ == "__main__":
    main()
