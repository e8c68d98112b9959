"""Driven across identities: a photo moved by another person's video, for each generator and each source of
real mouths (``--mouths``): does the face stay itself, does its mouth follow the driver's, and how sharp is it?

    python scripts/cross_identity.py [--generators warp] [--mouths none driver BANK ...] \
        [--sources PHOTO ...] [--drivers VIDEO ...] [--size 256] [--motion tps|mesh] [--pictures out.png]

Defaults: the astronaut (scikit-image) and a stills68 photo, each driven by a GRID test speaker and a
talking-head clip, at 256 px, with mouths none and driver. Per row (pooled over every source x driver):
the dlib descriptor distance of each generated frame to the source photo's crop (mean; the same person
below 0.6), the Pearson correlation of the generated face's inner-lip opening (dlib landmarks detected on
the generated frames, fitted in the box of the target landmarks) with the driver's, and the mouth box's
Laplacian variance over the first ``--mouths`` row's on the frames whose mouth, as detected on the
generated frames, opens wider than its median over that clip (``mouth sharpness``: 1 as that row; the warp
stretches, so above 1 is real detail). That selection is this script's own: a photo driven by another
person has no real frames, and evaluate's open-mouth rule (:func:`motiongan.landmarks.open_mouth`)
is not applied here (its mouth box is: :func:`~motiongan.landmarks.mouth_box`). ``--pictures`` writes
the widest-open mouth of each source x driver, one column per row.
"""
import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from motiongan.evaluation import metrics as M
from motiongan.face import FaceJudge
from motiongan.inference.animate import AnimateOptions, Animator
from motiongan.landmarks import INNER_MOUTH, mouth_box, opening
from motiongan.media import iter_video, read_image, write_image
from motiongan.models import load_generator

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def run(animator, photo, driver, mouths, size, tmp, motion="tps"):
    """The generated crops (T, S, S, 3), their target landmarks there and the driver's tracked landmarks."""
    out = Path(tmp) / "o.mp4"
    animator.animate(photo, driver, out, AnimateOptions(mouths=mouths, size=str(size), motion=motion))
    frames = np.stack(list(iter_video(out)))
    source = animator.source(photo, size=str(size))
    track = [p for _, p in animator.landmarker.follow(iter_video(driver))]
    return frames, source, track


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generators", nargs="+", default=["warp"])
    ap.add_argument("--mouths", nargs="+", default=["none", "driver"])
    ap.add_argument("--sources", nargs="+", default=["astronaut", str(DATA / "stills68" / "image_0001.png")])
    ap.add_argument("--drivers", nargs="+", default=[str(DATA / "grid" / "pwij3p.mpg"),
                                                      str(DATA / "talking" / "d6.mp4")])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--motion", default="tps", choices=["tps", "mesh"], help="animate --motion")
    ap.add_argument("--pictures", default=None)
    args = ap.parse_args()
    judge = FaceJudge()
    photos = {s: skimage.data.astronaut() if s == "astronaut" else read_image(s) for s in args.sources}
    cells = {}
    for name in args.generators:
        animator = Animator(load_generator(name, "cpu"))
        stats = {m: {"dist": [], "corr": [], "sharp": []} for m in args.mouths}
        plain = {}
        for (sname, photo), driver in ((p, d) for p in photos.items() for d in args.drivers):
            for mouths in args.mouths:
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / "source.png"
                    write_image(path, photo)
                    frames, source, track = run(animator, path, driver, mouths, args.size, tmp, args.motion)
                face = source.crop if source.detail is None else source.detail
                ref = judge.descriptor(face, source.to_output(source.landmarks))
                gaps, dist, boxes = [], [], []
                for f in frames:
                    found = animator.landmarker.detect(f)
                    p = animator.landmarker(f, "frame") if found else None
                    if p is not None:
                        dist.append(judge.distance(judge.descriptor(f, p), ref))
                    gaps.append(np.nan if p is None else float(opening(p, INNER_MOUTH)))
                    boxes.append(None if p is None else mouth_box(p, f.shape))
                drv = np.array([np.nan if p is None else opening(p, INNER_MOUTH) for p in track])[:len(gaps)]
                ok = np.isfinite(gaps) & np.isfinite(drv)
                stats[mouths]["corr"].append(float(np.corrcoef(np.array(gaps)[ok], drv[ok])[0, 1]))
                stats[mouths]["dist"] += dist
                wide = int(np.nanargmax(gaps))
                key = (sname, driver)
                if mouths == args.mouths[0]:
                    plain[key] = (frames, boxes)
                pf, pb = plain[key]
                open_ = [t for t in range(len(frames)) if pb[t] is not None and gaps[t] > np.nanmedian(gaps)]
                stats[mouths]["sharp"] += [M.sharpness(frames[t][pb[t]], pf[t][pb[t]]) for t in open_]
                b = pb[wide] if pb[wide] is not None else (slice(None), slice(None))
                cells.setdefault(key, {})[f"{name} {mouths}"] = cv2.resize(frames[wide][b], (160, 112))
        for m, s in stats.items():
            d = np.array(s["dist"])
            print(f"{name} --motion {args.motion} --mouths {m}: identity distance {d.mean():.3f} (same person "
                  f"{np.mean(d < 0.6) * 100:.0f} %), mouth-opening correlation {np.mean(s['corr']):.3f}, mouth "
                  f"sharpness over the first row's {np.nanmedian(s['sharp']):.2f} ({len(s['corr'])} source x driver "
                  "pairs)")
    if args.pictures:
        write_image(args.pictures, np.concatenate([np.concatenate(list(c.values()), 1) for c in cells.values()]))


if __name__ == "__main__":
    main()
