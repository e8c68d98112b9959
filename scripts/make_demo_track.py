"""Make the demo's driving landmark track (motiongan/assets/demo_track.npy) from a GRID clip.

GRID corpus, CC BY 4.0 (Cooke et al., JASA 2006): sentence ``bbaf2n`` ("bin blue at f two now"),
75 frames at 25 fps. The 68 landmarks are tracked with dlib and lightly smoothed over time.

    python scripts/make_demo_track.py [--clip ../shared/data/grid/bbaf2n.mpg]
"""
import argparse
import io
from pathlib import Path

import numpy as np

from motiongan.face import FaceLandmarker, jitter
from motiongan.face.landmarker import fill_gaps
from motiongan.landmarks import smooth
from motiongan.media import atomic_write_bytes, iter_video

OUT = Path(__file__).resolve().parents[1] / "motiongan" / "assets" / "demo_track.npy"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/grid/bbaf2n.mpg")
    args = ap.parse_args()
    raw = fill_gaps(FaceLandmarker().track(iter_video(args.clip), name=str(args.clip)))
    track = smooth(raw, 1.0).round(2).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, track)
    atomic_write_bytes(OUT, buf.getvalue())
    print(f"{OUT}: {track.shape}, jitter raw {jitter(raw):.4f} -> smoothed {jitter(track):.4f}")


if __name__ == "__main__":
    main()
