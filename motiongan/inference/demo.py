"""``motiongan demo``: the astronaut (scikit-image) animated by the shipped landmark track."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..assets import asset
from ..draw import draw_landmarks, grid
from ..media import VideoWriter, write_image
from .animate import Animator, load_driving, load_source, target_track

TRACK = asset("demo_track.npy")


def demo(animator: Animator, out: str | Path) -> int:
    """Write demo.mp4, demo_side_by_side.mp4 (source | target landmarks | generated) and demo_strip.png
    (source, then 7 generated frames) into ``out``; returns the number of frames."""
    from skimage import data as skdata

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    source = load_source(skdata.astronaut(), animator.model.size, animator.landmarker, "astronaut (scikit-image)")
    driving = load_driving(TRACK)
    targets = target_track(source, driving, animator.model.size)
    frames = []
    with VideoWriter(out / "demo.mp4", driving.fps) as plain, \
            VideoWriter(out / "demo_side_by_side.mp4", driving.fps) as sbs:
        for frame, t in zip(animator.frames(source, targets), targets):
            plain.write(frame)
            sbs.write(np.concatenate([source.crop, draw_landmarks(np.zeros_like(frame), t, radius=1), frame], 1))
            frames.append(frame)
    picks = np.linspace(0, len(frames) - 1, 7).round().astype(int)
    write_image(out / "demo_strip.png", grid([source.crop] + [frames[i] for i in picks], 8))
    return len(frames)
