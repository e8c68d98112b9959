"""Driven across identities: the astronaut (scikit-image) moved by a GRID speaker, for each generator: does
she stay herself, and does her mouth follow the driver's?

    python scripts/cross_identity.py [GENERATOR ...] [--driver ../shared/data/grid/pwij3p.mpg] [--size 128]

Per generator (default: warp and the shipped default): the dlib descriptor distance of each generated frame
to the source photo's crop (mean; the same person below 0.6), and the Pearson correlation of the generated
face's inner-lip opening (dlib landmarks detected on the generated frames, fitted in the box of the target
landmarks) with the driver's (its tracked landmarks).
"""
import argparse
from pathlib import Path

import numpy as np
import skimage.data

from motiongan.assets import load_generator
from motiongan.face import FaceJudge
from motiongan.inference.animate import Animator, load_driving, target_track
from motiongan.landmarks import INNER_MOUTH, opening

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("generators", nargs="*", default=["warp", "default"])
    ap.add_argument("--driver", default=str(DATA / "grid" / "pwij3p.mpg"), help="a test person of GRID")
    args = ap.parse_args()
    judge = FaceJudge()
    photo = skimage.data.astronaut()
    for name in args.generators:
        animator = Animator(load_generator(name, "cpu"))
        source = animator.source(photo)
        driving = load_driving(args.driver, animator.landmarker)
        targets = target_track(source, driving, animator.model.size)
        frames = list(animator.frames(source, targets))
        ref = judge.descriptor(source.crop, source.landmarks)
        dist, gap = [], []
        for f, t in zip(frames, targets):
            pts = animator.landmarker.fit(f, (*t.min(0), *t.max(0)))
            dist.append(judge.distance(judge.descriptor(f, pts), ref))
            gap.append(float(opening(pts, INNER_MOUTH)))
        corr = float(np.corrcoef(gap, opening(driving.track, INNER_MOUTH))[0, 1])
        print(f"{name}: {len(frames)} frames; identity distance to the photo {np.mean(dist):.3f} "
              f"(same person {np.mean(np.array(dist) < 0.6) * 100:.0f} %); mouth-opening correlation with the "
              f"driver {corr:.2f}")


if __name__ == "__main__":
    main()
