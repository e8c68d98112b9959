"""A driving video followed frame by frame, as its frames come: a file, a stream or a camera.

Per frame: the face is tracked from the previous frame's landmarks (the detector runs only now and then,
:meth:`FaceLandmarker.follow`), the landmarks pass a causal One Euro filter (:mod:`motiongan.filtering`),
and the motion is retargeted onto the source face (:func:`motiongan.landmarks.retarget`, relative to the
first frame where the face was found). Nothing looks ahead, so the same path serves a file and a live
camera, and memory stays flat however long the driver runs.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..crop import box_to_affine, crop_box
from ..face.landmarker import FaceLandmarker, NoFaceError
from ..filtering import OneEuroFilter
from ..landmarks import apply_affine, interocular, retarget
from ..media import MediaError


@dataclass
class Driven:
    """One driving frame: the frame (RGB), its filtered landmarks (None until the face is first found)
    and the target landmarks in the source crop."""

    frame: np.ndarray
    landmarks: np.ndarray | None
    target: np.ndarray


def follow_driver(frames: Iterable[np.ndarray], source_landmarks: np.ndarray, landmarker: FaceLandmarker,
                  crop_size: int, filter_motion: bool = True, retarget_motion: bool = True,
                  redetect_every: int = 10, name: str | None = None) -> Iterator[Driven]:
    """Targets for a source face (landmarks in its ``crop_size`` crop) from a driver's frames, causally.

    Until the face is first found the target is the source's own landmarks (the face holds still); where it
    is lost later, the last target holds. ``retarget_motion=False`` maps the driver's own landmarks into a
    crop the way training data is cropped (the paper's setting, for a driver who is the source person).
    With ``name`` (a file's), a driver in which no frame has a face ends in a NoFaceError naming it, after
    its last frame, so a writer of the frames can drop what it wrote.
    """
    smooth, neutral, last = None, None, np.asarray(source_landmarks, np.float32)
    n = 0
    for rgb, pts in landmarker.follow(frames, redetect_every):
        n += 1
        if pts is not None:
            if smooth is None:
                smooth = OneEuroFilter(scale=float(interocular(pts))) if filter_motion else (lambda p: p)
                neutral = pts
            pts = smooth(pts)
            if retarget_motion:
                last = retarget(source_landmarks, pts[None], neutral)[0]
            else:
                last = apply_affine(pts, box_to_affine(crop_box(pts), crop_size)).astype(np.float32)
        yield Driven(rgb, pts, last)
    if name is not None and neutral is None:
        raise NoFaceError(f"no face was found in any of its {n} frames", path=name)


def is_live(spec) -> bool:
    """Whether a driver names a camera (an index such as ``0``) or a network stream (``scheme://...``)."""
    text = str(spec)
    return text.isdigit() or "://" in text


@contextmanager
def until_interrupted():
    """Within the block, Ctrl-C sets the returned event instead of raising, so a live loop can stop
    between frames and the video written so far is closed properly (main thread only)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


class Capture:
    """Frames from an OpenCV capture (a camera index, a stream URL or a file) as they arrive, RGB uint8;
    ``max_frames`` and the ``stop`` event end it early."""

    def __init__(self, spec, max_frames: int | None = None, stop: threading.Event | None = None):
        self.spec, self.max_frames, self.stop = str(spec), max_frames, stop or threading.Event()
        self.cap = cv2.VideoCapture(int(self.spec) if self.spec.isdigit() else self.spec)
        if not self.cap.isOpened():
            what = "camera" if self.spec.isdigit() else "stream"
            raise MediaError(f"the {what} cannot be opened", path=self.spec)
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS)) or 25.0
        if not 1.0 <= self.fps <= 240.0:  # cameras report 0 or nonsense
            self.fps = 25.0

    def __iter__(self) -> Iterator[np.ndarray]:
        n = 0
        try:
            while not self.stop.is_set() and (self.max_frames is None or n < self.max_frames):
                ok, frame = self.cap.read()
                if not ok:
                    break
                n += 1
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        finally:
            self.cap.release()
        if n == 0:
            raise MediaError("no frame could be read", path=self.spec)
