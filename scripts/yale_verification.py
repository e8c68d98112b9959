"""Same-person vs different-person accuracy of V (SFace) and of the dlib judge on the Yale faces.

Pairs come from the file names (``PP_expression.png``: same PP = same person). Each network's threshold
is its usual one (SFace cosine 0.363, OpenCV's; dlib distance 0.6); the script prints the accuracy of
each on all same pairs and an equal number of different pairs.

    python scripts/yale_verification.py [--data ../shared/data/expressions/yale]
"""
import argparse
import itertools
from pathlib import Path

import numpy as np
import torch

from motiongan.face import FaceJudge, FaceLandmarker, NoFaceError, Verification
from motiongan.media import read_image

SFACE_COSINE = 0.363


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared/data/expressions/yale")
    args = ap.parse_args()
    lm, v, judge = FaceLandmarker(upsample=1), Verification(), FaceJudge()
    names, sface, dlib_desc, skipped = [], [], [], []
    for f in sorted(args.data.glob("*.png")):
        rgb = read_image(f)
        try:
            pts = lm(rgb, str(f))
        except NoFaceError:
            skipped.append(f.name)
            continue
        img = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
        sface.append(v.embed(img, torch.from_numpy(pts)[None])[0].numpy())
        dlib_desc.append(judge.descriptor(rgb, pts))
        names.append(f.stem.split("_")[0])
    pairs = list(itertools.combinations(range(len(names)), 2))
    same = [p for p in pairs if names[p[0]] == names[p[1]]]
    rng = np.random.default_rng(0)
    diff_all = [p for p in pairs if names[p[0]] != names[p[1]]]
    diff = [diff_all[i] for i in rng.choice(len(diff_all), len(same), replace=False)]
    for label, ok in (
        ("V (SFace, cosine > 0.363)", lambda i, j: float(sface[i] @ sface[j]) > SFACE_COSINE),
        ("dlib judge (distance < 0.6)", lambda i, j: judge.same_person(dlib_desc[i], dlib_desc[j])),
    ):
        tp = np.mean([ok(i, j) for i, j in same])
        tn = np.mean([not ok(i, j) for i, j in diff])
        print(f"{label:30s} accuracy {(tp + tn) / 2:.3f}  (same pairs {tp:.3f}, different pairs {tn:.3f})")
    print(f"{len(names)} faces of {len(set(names))} people, {len(same)} same + {len(diff)} different pairs;"
          f" no face found in {len(skipped)}: {', '.join(skipped) or '-'}")


if __name__ == "__main__":
    main()
