"""Real mouths and eyes against the plain landmark warp, over WHOLE clips of the fixed test people, pixels only
(no dlib: minutes, not the evaluation's tens of minutes).

    python benchmarks/real_pixels.py --data cache/all [--colours channels gain reinhard] [--pictures DIR]

Every frame of every test clip is a target, frame 0 the source. Own donors come from the OTHER half of the
clip (frames of the first half are filled from a bank of the second half's, and the other way round), so no
frame is filled from itself; a clip shorter than 2 x 20 frames is left out. Blinks are rare in the first 40
frames that ``evaluate --max-frames 40`` scores, so this is where closing-eye PSNR is counted.

Columns: PSNR (whole crop), mouth PSNR, open-mouth PSNR (the mouth box on frames that open wider than the
source by 0.05 inter-ocular distances), open-mouth sharpness (Laplacian variance over the real's, median),
mouth flicker (frame-to-frame change of the mouth box over the real video's, mean over clips), and
closing-eye PSNR (both eye boxes on frames where an eye opens less than 0.6 of the source's), each with
the scoring of :mod:`motiongan.evaluation.scoring`. ``--pictures`` writes the widest mouths and the most
closed eyes as PNG. ``--bank``: a row (and a picture column) with another person's mouths from that bank.
"""
import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from motiongan.convention import to_image, to_tensor
from motiongan.data import Cache, EvalClips
from motiongan.evaluation.scoring import image_scores
from motiongan.inference import MotionGAN
from motiongan.landmarks import (
    EYES,
    INNER_MOUTH,
    LEFT_EYE,
    MOUTH,
    RIGHT_EYE,
    closing_eye,
    grown_box,
    open_mouth,
    opening,
)
from motiongan.media import write_image
from motiongan.mouths import MouthBank, RealMouths

HALF = 20  # frames a half-clip needs


def clip_rows(frames, lms, warp, colours, bank=None) -> dict:
    """Each row's frames of one clip: the warp, the warp with own mouths (one per colour transfer), with the
    driver's mouths (the driver here is the real video itself: the ceiling of a perfect donor, colour-matched
    and gated as another person's) and with a bank's (another person's) mouths."""
    src = to_tensor(frames[0])
    gen = np.stack([to_image(f) for f in warp.generate(src, lms[0], lms)])
    rows = {"landmark warp": gen}
    mid = len(frames) // 2
    halves = [(range(0, mid), range(mid, len(frames))), (range(mid, len(frames)), range(0, mid))]
    banks = [MouthBank.build(((frames[i], lms[i]) for i in donors), indices=donors) for _, donors in halves]
    for colour in colours:
        out = gen.copy()
        for (scored, _), bank in zip(halves, banks):
            fill = RealMouths(frames[0], lms[0], bank, colour=colour)
            for i in scored:
                out[i] = fill(gen[i], lms[i])
        rows[f"+ own mouths ({colour})"] = out
    driver = RealMouths(frames[0], lms[0], own=False)
    rows["+ driver mouths (the real frame)"] = np.stack([driver(g, t, (f, t)) for g, t, f in zip(gen, lms, frames)])
    if bank is not None:
        other = RealMouths(frames[0], lms[0], bank, own=False)
        rows["+ bank mouths"] = np.stack([other(g, t) for g, t in zip(gen, lms)])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a prepared cache holding the test people")
    ap.add_argument("--colours", nargs="+", default=["channels"], choices=["channels", "gain", "reinhard"])
    ap.add_argument("--bank", default=None, help="a bank of other people's mouths (motiongan mouths build)")
    ap.add_argument("--pictures", default=None, help="a folder for mouths.png and eyes.png")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cache = Cache(args.data)
    clips = EvalClips(cache, "test")
    warp = MotionGAN.landmark_warp(size=cache.size)
    bank = MouthBank.load(args.bank) if args.bank else None
    scores, mouths, eyes, used = {}, [], [], 0
    for ci in range(len(clips)):
        cf = cache.clip(clips.clip_ids[ci])
        if len(cf) < 2 * HALF:
            continue
        used += 1
        frames, lms = cf.frames(range(len(cf))), cf.landmarks.astype(np.float32)
        rows = clip_rows(frames, lms, warp, args.colours, bank)
        om, ce = open_mouth(lms, lms[0]), closing_eye(lms, lms[0])
        for name, out in rows.items():
            s = image_scores(out[1:], frames[1:], lms[1:])  # frame 0 is the source itself
            r = scores.setdefault(name, {k: [] for k in ("psnr", "mouth", "open", "sharp", "flicker", "eye")})
            r["psnr"] += s["psnr"]
            r["mouth"] += s["mouth_psnr"]
            r["open"] += [v for v, o in zip(s["mouth_psnr"], om[1:]) if o]
            r["sharp"] += [v for v, o in zip(s["mouth_sharpness"], om[1:]) if o]
            r["eye"] += [v for v, c in zip(s["eye_psnr"], ce[1:]) if c]
            r["flicker"].append(s["mouth_flicker"])
        own = rows[f"+ own mouths ({args.colours[0]})"]
        t = int(np.argmax(opening(lms, INNER_MOUTH)))
        if om[t]:
            b = grown_box(lms[t][list(MOUTH)], 0.3, frames[t].shape)
            mouths.append((opening(lms[t], INNER_MOUTH), [frames[t][b], rows["landmark warp"][t][b],
                                                           rows["+ driver mouths (the real frame)"][t][b], own[t][b]]
                           + ([rows["+ bank mouths"][t][b]] if bank is not None else [])))
        ratio = np.minimum(*(opening(lms, e) / opening(lms[0], e) for e in (RIGHT_EYE, LEFT_EYE)))
        t = int(np.argmin(ratio))
        if ce[t]:
            b = grown_box(lms[t][list(EYES)], 0.35, frames[t].shape)
            eyes.append((ratio[t], [frames[t][b], rows["landmark warp"][t][b], own[t][b]]))
    print(f"{used} test clips of {len(clips)} (whole clips, frame 0 the source; own donors from the other half)")
    print(f"{'row':32} {'PSNR':>6} {'mouth':>6} {'open-mouth':>10} {'sharpness':>9} {'flicker':>7} "
          f"{'closing-eye':>11} {'open fr':>7} {'eye fr':>6}")
    mean = lambda x: float(np.mean([v for v in x if np.isfinite(v)]))  # noqa: E731
    for name, r in scores.items():
        print(f"{name:32} {mean(r['psnr']):6.2f} {mean(r['mouth']):6.2f} {mean(r['open']):10.2f} "
              f"{np.nanmedian(r['sharp']):9.3f} {mean(r['flicker']):7.3f} {mean(r['eye']):11.2f} "
              f"{len(r['open']):7d} {len(r['eye']):6d}")
    if args.pictures:
        folder = Path(args.pictures)
        folder.mkdir(parents=True, exist_ok=True)
        for name, cells, shape in (("mouths", sorted(mouths, key=lambda c: -c[0])[:8], (144, 104)),
                                   ("eyes", sorted(eyes, key=lambda c: c[0])[:8], (240, 80))):
            grid = [np.concatenate([cv2.resize(c, shape, interpolation=cv2.INTER_CUBIC) for c in row], 1)
                    for _, row in cells]
            write_image(folder / f"{name}.png", np.concatenate(grid))
        print(f"{folder}/mouths.png: real | landmark warp | driver (the real frame) | own mouths"
              + (" | bank" if bank is not None else "") + f"; {folder}/eyes.png: real | landmark warp | own")


if __name__ == "__main__":
    main()
