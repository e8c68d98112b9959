"""Which mesh vertex is each iBUG point? The mesh vertex nearest each of the 68 points on average, over hand-made
68-point annotations (stills68) and dlib's landmarks on frames of the training people; prints the mapping
(``motiongan.face.mesh.IBUG_FROM_MESH``) and how far the mapped vertices lie from the 68 points.

    python scripts/mesh_ibug_map.py --data cache/all [--frames 400]
"""
import argparse
from pathlib import Path

import numpy as np

from motiongan.data import Cache
from motiongan.data.dataset import clip_indices
from motiongan.data.split import SplitOptions
from motiongan.face.mesh import MeshLandmarker
from motiongan.landmarks import EYES, JAW, LEFT_BROW, MOUTH, NOSE, RIGHT_BROW, interocular, read_pts
from motiongan.media import IMAGE_SUFFIXES, read_image

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def faces(data: str, frames: int):
    """(image, 68 points) pairs: the stills68 photos with their hand-made points, then cache frames of the
    training people with dlib's."""
    for pts in sorted((DATA / "stills68").glob("*.pts")):
        img = [p for p in pts.parent.glob(pts.stem + ".*") if p.suffix.lower() in IMAGE_SUFFIXES][0]
        yield read_image(img), read_pts(pts)
    cache = Cache(data)
    ids = clip_indices(cache, "train", SplitOptions())
    rng = np.random.default_rng(0)
    for i in rng.choice(ids, size=frames):
        clip = cache.clip(int(i))
        t = int(rng.integers(len(clip)))
        yield clip.frame(t), clip.landmarks[t]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--frames", type=int, default=400)
    args = ap.parse_args()
    mesh = MeshLandmarker()
    total, n = np.zeros((68, 468)), 0
    for rgb, pts in faces(args.data, args.frames):
        m = mesh(rgb, pts)[:, :2]
        total += np.linalg.norm(m[None] - pts[:, None], axis=-1) / interocular(pts)
        n += 1
    mapping = total.argmin(1)
    err = total[np.arange(68), mapping] / n
    print(f"{n} faces; IBUG_FROM_MESH = {mapping.tolist()}")
    for name, sl in (("jaw", list(JAW)), ("brows", list(RIGHT_BROW + LEFT_BROW)), ("nose", list(NOSE)),
                     ("eyes", list(EYES)), ("mouth", list(MOUTH)), ("all", slice(0, 68))):
        print(f"{name}: mean distance of the mapped vertex / inter-ocular {err[sl].mean():.4f} "
              f"(worst {err[sl].max():.4f})")


if __name__ == "__main__":
    main()
