"""Animate a face image from a driving video, a ``.npy`` landmark track or a folder of ``.pts`` files.

The source image is detected, landmarked and cropped as in training. The driving motion is retargeted
onto the source face (relative motion: the driver's displacements from its first frame, with its scale,
position and roll removed), so another person's face drives the source without lending it its shape;
with ``retarget=False`` the driver's landmarks are used as given, mapped into a crop the way training
data is prepared (the paper's setting, for a driver who is the source person).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..convention import to_image, to_tensor
from ..crop import box_to_affine, crop_box, crop_face, paste_back
from ..draw import draw_landmarks
from ..face.landmarker import FaceLandmarker, fill_gaps
from ..landmarks import LandmarkFileError, apply_affine, read_pts, retarget, smooth
from ..media import (
    IMAGE_SUFFIXES,
    TRACK_SUFFIX,
    MediaError,
    check_output,
    iter_video,
    read_image,
    video_info,
    write_image,
    write_video,
)
from ..options import option
from .model import MotionGAN


@dataclass
class AnimateOptions:
    """How ``animate`` turns a driver into a video (the CLI's flags are made from these fields)."""

    retarget: bool = option(True, "move the source face by the driver's motion, not its shape (relative motion)",
                            negative="use the driving landmarks as given (the paper's setting, for a driver who "
                                     "is the source person)")
    side_by_side: bool = option(False, "source | driving with landmarks | result")
    overlay: bool = option(False, "draw the target landmarks on the result")
    paste: bool = option(False, "paste the generated crop back into the source image")
    fps: float | None = option(None, "frames per second (default: the driver's; 25 for landmark files)")


@dataclass
class Source:
    """A source face: the full image, its crop at the model's size, landmarks in both, the crop matrix."""

    image: np.ndarray
    crop: np.ndarray
    landmarks: np.ndarray  # in the crop
    matrix: np.ndarray  # image -> crop

    @classmethod
    def from_points(cls, image: np.ndarray, points: np.ndarray, size: int) -> "Source":
        """The face with landmarks ``points`` (image pixels) cropped at ``size`` as training data is."""
        return cls(image, *crop_face(image, points, size))

    def tensor(self) -> torch.Tensor:
        return to_tensor(self.crop)


@dataclass
class Driving:
    """A driving landmark track (T, 68, 2) in its own image coordinates, with what came with it."""

    track: np.ndarray
    fps: float
    video: Path | None = None  # frames and audio, when the driver is a video
    size: tuple[int, int] | None = None


@dataclass
class RenderOptions:
    """What :meth:`Animator.render` puts around the generated crops and writes with them."""

    fps: float = 25.0
    paste: bool = False  # each crop pasted back into the source image
    overlay: bool = False  # the target landmarks drawn on each result
    # images shown left of each result, from its index and the result itself (side by side)
    panels: Callable[[int, np.ndarray], list[np.ndarray]] | None = None
    audio: str | os.PathLike | None = None  # a media file whose sound goes into the video
    require_audio: bool = False  # refuse an ``audio`` without sound, before any frame is written


def load_source(image, size: int, landmarker: FaceLandmarker, name: str = "source") -> Source:
    """Detect, landmark and crop a source face (a path or an RGB uint8 array; ``name``: how messages call
    an array)."""
    if isinstance(image, (str, Path)):
        name, image = str(image), read_image(image)
    return Source.from_points(image, landmarker(image, name), size)


def load_driving(path, landmarker: FaceLandmarker | None = None, fps: float | None = None,
                 smooth_sigma: float = 1.0, progress: bool = False, name: str | None = None) -> Driving:
    """A driving track from a video (landmarks tracked, with a progress bar if ``progress``), a ``.npy``
    (T x 68 x 2) or a folder of ``.pts``; ``name`` (default: the path) is how errors call the file."""
    path = Path(path)
    name = str(path) if name is None else name
    if path.is_dir():
        files = sorted(path.glob("*.pts"))
        if not files:
            raise LandmarkFileError("no .pts files in this folder", path=name)
        return Driving(np.stack([read_pts(f) for f in files]), fps or 25.0)
    if path.suffix.lower() == TRACK_SUFFIX:
        return Driving(_read_track(path, name), fps or 25.0)
    if not path.exists():
        raise MediaError("no such file", path=name)
    info = video_info(path)
    frames = tqdm(iter_video(path), total=info["frames"] or None, unit="frame", desc="track driver",
                  disable=not progress)
    track = (landmarker or FaceLandmarker()).track(frames, name=name)
    return Driving(smooth(fill_gaps(track), smooth_sigma), fps or info["fps"], path,
                   (info["width"], info["height"]))


def check_inputs(source, driving, output) -> None:
    """Every input error of ``animate`` before any model loads: the source image readable, the driver a
    readable video, track or folder, the output a writable ``.mp4``."""
    for p in (source, driving):
        if not Path(p).exists():
            raise MediaError("no such file or folder", path=p)
    check_output(output, {".mp4"})
    read_image(source)
    driving = Path(driving)
    if driving.is_dir() or driving.suffix.lower() == TRACK_SUFFIX:
        load_driving(driving)
    else:
        video_info(driving)


def _read_track(path: Path, name: str) -> np.ndarray:
    """A landmark track (N, 68, 2) from a ``.npy`` file, checked."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise LandmarkFileError(f"not a readable .npy array ({e})", path=name) from None
    if arr.ndim != 3 or arr.shape[1:] != (68, 2) or len(arr) == 0:
        raise LandmarkFileError(f"expected a landmark track of shape (N, 68, 2), got {arr.shape}", path=name)
    if not np.isfinite(arr).all():
        raise LandmarkFileError("landmarks contain NaN or infinite values", path=name)
    return arr.astype(np.float32)


def target_track(source: Source, driving: Driving, size: int, retarget_motion: bool = True) -> np.ndarray:
    """Target landmarks (T, 68, 2) in the source crop."""
    if retarget_motion:
        return retarget(source.landmarks, driving.track)
    boxes = smooth(crop_box(driving.track), 3.0)
    return np.stack([apply_affine(p, box_to_affine(b, size)) for p, b in zip(driving.track, boxes)])


def compose(source: Source, frame: np.ndarray, target: np.ndarray, index: int, options: RenderOptions) -> np.ndarray:
    """A generated crop as it is shown: its target landmarks drawn, pasted back into the source image,
    with the panels beside it, as ``options`` say."""
    shown = draw_landmarks(frame, target, radius=1) if options.overlay else frame
    if options.paste:
        shown = paste_back(source.image, shown, source.matrix)
    if options.panels is not None:
        shown = np.concatenate([*options.panels(index, shown), shown], 1)
    return shown


class Animator:
    """Generate frames for a source face from target landmarks, one at a time, and write them
    (:meth:`render`: the one path from a face and targets to a video or an image)."""

    def __init__(self, model: MotionGAN, landmarker: FaceLandmarker | None = None, compile: bool = False):
        self.model, self.landmarker, self.compile = model, landmarker or FaceLandmarker(), compile

    def source(self, image, name: str = "source") -> Source:
        """The source face at the model's size: an image (path or RGB array) detected, landmarked and
        cropped, or a :class:`Source` as it is."""
        return image if isinstance(image, Source) else load_source(image, self.model.size, self.landmarker, name)

    def frames(self, source: Source, targets: np.ndarray) -> Iterator[np.ndarray]:
        """RGB uint8 crops, one per target landmark set (crop coordinates)."""
        for f in self.model.generate(source.tensor(), source.landmarks, targets, compile=self.compile):
            yield to_image(f)

    def render(self, source, targets: np.ndarray, out, options: RenderOptions | None = None, progress: bool = False,
               desc: str = "render") -> dict:
        """Crop the source (an image, or a :class:`Source`), generate a frame per target landmark set (T, 68, 2,
        crop coordinates), compose each (:func:`compose`) and write them: ``out`` is an MP4 (written as the
        frames come, with ``options.audio``'s sound) or an image (the first frame). Returns a summary."""
        o = options or RenderOptions()
        source = self.source(source)
        shown = (compose(source, f, t, i, o) for i, (f, t) in enumerate(zip(self.frames(source, targets), targets)))
        if Path(out).suffix.lower() in IMAGE_SUFFIXES:
            write_image(out, next(shown))
            return {"frames": 1, "out": str(out)}
        return write_video(shown, out, o.fps, o.audio, o.require_audio, len(targets), progress, desc)

    def animate(self, source, driving, out, options: AnimateOptions | None = None, progress: bool = False) -> dict:
        """Write an MP4 of ``source`` (an image, or a :class:`Source`) moved by ``driving`` (a video, a track
        file or folder, or a :class:`Driving`): frames written as they come, the driver's audio copied in.
        Returns a summary."""
        o = options or AnimateOptions()
        source = self.source(source)
        if not isinstance(driving, Driving):
            driving = load_driving(driving, self.landmarker, o.fps, progress=progress)
        targets = target_track(source, driving, self.model.size, o.retarget)
        panels = side_panels(source, driving, o.paste) if o.side_by_side else None
        how = RenderOptions(driving.fps, o.paste, o.overlay, panels, driving.video)
        return self.render(source, targets, out, how, progress, "animate")


def side_panels(source: Source, driving: Driving, paste: bool) -> Callable[[int, np.ndarray], list[np.ndarray]]:
    """``RenderOptions.panels`` for a side-by-side video: the source (the full image if pasted, else the crop)
    and the driver with its landmarks, each at the result's height."""
    frames = iter_video(driving.video) if driving.video else None
    still = source.image if paste else source.crop

    def panels(i: int, shown: np.ndarray) -> list[np.ndarray]:
        h = shown.shape[0]
        img = cv2.resize(still, (round(still.shape[1] * h / still.shape[0]), h), interpolation=cv2.INTER_AREA)
        return [img, _driver_panel(frames, driving, i, h)]

    return panels


def _driver_panel(frames, driving: Driving, i: int, h: int) -> np.ndarray:
    """The driver's frame ``i`` cropped to ``h`` x ``h`` with its landmarks (a landmark file: the landmarks
    alone, framed like a crop)."""
    pts = driving.track[i]
    if frames is None:
        m = box_to_affine(crop_box(driving.track[0]), h)
        return draw_landmarks(np.zeros((h, h, 3), np.uint8), apply_affine(pts, m), radius=1)
    crop, lms, _ = crop_face(next(frames), pts, h)
    return draw_landmarks(crop, lms, radius=1)
