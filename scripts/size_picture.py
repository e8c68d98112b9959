"""The README's picture of output sizes: the astronaut (scikit-image) moved by the shipped demo track, the
default model's 128 px output (shown enlarged, bicubic) beside ``--size 512`` of the same frame.

    python scripts/size_picture.py [--checkpoint default] [--frame N] [--out docs/size_128_vs_512.jpg]

The frame defaults to the track's widest-open mouth.
"""
import argparse

import cv2
import numpy as np
import skimage.data
from PIL import Image

from motiongan.assets import asset
from motiongan.inference.animate import Animator, Driving, target_track
from motiongan.landmarks import INNER_MOUTH, opening
from motiongan.models import load_generator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--frame", type=int, default=None)
    ap.add_argument("--out", default="docs/size_128_vs_512.jpg")
    args = ap.parse_args()
    animator = Animator(load_generator(args.checkpoint, "cpu"))
    photo = skimage.data.astronaut()
    track = np.load(asset("demo_track.npy"))
    i = int(np.argmax(opening(track, INNER_MOUTH))) if args.frame is None else args.frame
    shown = []
    for size in (str(animator.model.size), "512"):  # the model's own size (not the default output's)
        source = animator.source(photo, size=size)
        targets = target_track(source, Driving(track, 25.0), animator.model.size)[: i + 1]
        *_, last = animator.frames(source, targets)  # the recurrent state runs through the frames before
        shown.append(cv2.resize(last, (512, 512), interpolation=cv2.INTER_CUBIC))
    gap = np.full((512, 8, 3), 255, np.uint8)
    Image.fromarray(np.concatenate([shown[0], gap, shown[1]], 1)).save(args.out, quality=90)
    print(f"{args.out}: frame {i}, {animator.model.size} px (enlarged) | 512 px")


if __name__ == "__main__":
    main()
