"""``motiongan demo``: the astronaut (scikit-image) animated by the shipped landmark track."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..assets import asset
from ..draw import draw_landmarks, grid
from ..media import write_image, write_video
from .animate import Animator, load_driving, target_track

TRACK = asset("demo_track.npy")


def demo(animator: Animator, out: str | Path) -> int:
    """Write demo.mp4, demo_side_by_side.mp4 (source | target landmarks | generated) and demo_strip.png
    (source, then 7 generated frames) into ``out``; returns the number of frames."""
    from skimage import data as skdata

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    source = animator.source(skdata.astronaut(), "astronaut (scikit-image)")  # at the model's default output size
    face = source.crop if source.detail is None else source.detail
    driving = load_driving(TRACK)
    targets = target_track(source, driving, animator.model.size)
    frames = list(animator.frames(source, targets))  # 75 crops: kept for the strip
    write_video(frames, out / "demo.mp4", driving.fps)
    blank = np.zeros_like(frames[0])
    write_video((np.concatenate([face, draw_landmarks(blank, source.to_output(t), radius=1), f], 1)
                 for f, t in zip(frames, targets)), out / "demo_side_by_side.mp4", driving.fps)
    picks = np.linspace(0, len(frames) - 1, 7).round().astype(int)
    write_image(out / "demo_strip.png", grid([face] + [frames[i] for i in picks], 8))
    return len(frames)
