"""Animate a face image from a driving video, a ``.npy`` landmark track or a folder of ``.pts`` files.

The source image is detected, landmarked and cropped as in training. The driving motion is retargeted
onto the source face (relative motion: the driver's displacements from its first frame, with its scale,
position and roll removed), so another person's face drives the source without lending it its shape;
with ``retarget=False`` the driver's landmarks are used as given, mapped into a crop the way training
data is prepared (the paper's setting, for a driver who is the source person).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..convention import to_image, to_tensor
from ..crop import box_to_affine, crop_box, crop_face, paste_back
from ..draw import draw_landmarks
from ..face.landmarker import FaceLandmarker, fill_gaps
from ..landmarks import LandmarkFileError, apply_affine, check_points, read_pts, retarget, smooth
from ..media import MediaError, VideoWriter, iter_video, read_image, video_info
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

    def tensor(self) -> torch.Tensor:
        return to_tensor(self.crop)


@dataclass
class Driving:
    """A driving landmark track (T, 68, 2) in its own image coordinates, with what came with it."""

    track: np.ndarray
    fps: float
    video: Path | None = None  # frames and audio, when the driver is a video
    size: tuple[int, int] | None = None


def load_source(image, size: int, landmarker: FaceLandmarker, name: str = "source") -> Source:
    """Detect, landmark and crop a source face (a path or an RGB uint8 array)."""
    if isinstance(image, (str, Path)):
        name, image = str(image), read_image(image)
    pts = landmarker(image, name)
    crop, lms, m = crop_face(image, pts, size)
    return Source(image, crop, lms, m)


def load_driving(path, landmarker: FaceLandmarker | None = None, fps: float | None = None,
                 smooth_sigma: float = 1.0, progress: bool = False) -> Driving:
    """A driving track from a video (landmarks tracked, with a progress bar if ``progress``), a ``.npy``
    (T x 68 x 2) or a folder of ``.pts``."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.pts"))
        if not files:
            raise LandmarkFileError(f"{path}: no .pts files in this folder")
        return Driving(np.stack([read_pts(f) for f in files]), fps or 25.0)
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise LandmarkFileError(f"{path}: not a readable .npy array ({e})") from None
        if arr.ndim != 3 or arr.shape[1:] != (68, 2) or len(arr) == 0:
            raise LandmarkFileError(f"{path}: expected a landmark track of shape (N, 68, 2), got {arr.shape}")
        return Driving(check_points(arr, str(path)), fps or 25.0)
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    info = video_info(path)
    frames = tqdm(iter_video(path), total=info["frames"] or None, unit="frame", desc="track driver",
                  disable=not progress)
    track = (landmarker or FaceLandmarker()).track(frames, name=str(path))
    return Driving(smooth(fill_gaps(track), smooth_sigma), fps or info["fps"], path,
                   (info["width"], info["height"]))


def target_track(source: Source, driving: Driving, size: int, retarget_motion: bool = True) -> np.ndarray:
    """Target landmarks (T, 68, 2) in the source crop."""
    if retarget_motion:
        return retarget(source.landmarks, driving.track)
    boxes = smooth(crop_box(driving.track), 3.0)
    return np.stack([apply_affine(p, box_to_affine(b, size)) for p, b in zip(driving.track, boxes)])


class Animator:
    """Generate frames for a source face from a driving track, one at a time."""

    def __init__(self, model: MotionGAN, landmarker: FaceLandmarker | None = None, compile: bool = False):
        self.model, self.landmarker, self.compile = model, landmarker or FaceLandmarker(), compile

    def frames(self, source: Source, targets: np.ndarray) -> Iterator[np.ndarray]:
        """RGB uint8 crops, one per target landmark set (crop coordinates)."""
        for f in self.model.generate(source.tensor(), source.landmarks, targets, compile=self.compile):
            yield to_image(f)

    def animate(self, source_path, driving_path, out, options: AnimateOptions | None = None,
                progress: bool = False) -> dict:
        """Write an MP4 (frames written as they come; the driver's audio copied in). Returns a summary."""
        o, size = options or AnimateOptions(), self.model.size
        source = load_source(source_path, size, self.landmarker)
        driving = load_driving(driving_path, self.landmarker, o.fps, progress=progress)
        targets = target_track(source, driving, size, o.retarget)
        drv_frames = iter_video(driving.video) if (o.side_by_side and driving.video) else None

        n = 0
        with VideoWriter(out, driving.fps, audio_from=driving.video) as vw:
            for frame, t in tqdm(zip(self.frames(source, targets), targets), total=len(targets), unit="frame",
                                 desc="animate", disable=not progress):
                shown = draw_landmarks(frame, t, radius=1) if o.overlay else frame
                if o.paste:
                    shown = paste_back(source.image, shown, source.matrix)
                if o.side_by_side:
                    shown = np.concatenate([self._panel(source.crop if not o.paste else source.image, shown),
                                            self._driver_panel(drv_frames, driving, n, shown.shape[0]),
                                            shown], 1)
                vw.write(shown)
                n += 1
        return {"frames": n, "fps": driving.fps, "audio": vw.audio_from is not None, "out": str(out)}

    @staticmethod
    def _panel(img: np.ndarray, like: np.ndarray) -> np.ndarray:
        h = like.shape[0]
        return cv2.resize(img, (round(img.shape[1] * h / img.shape[0]), h), interpolation=cv2.INTER_AREA)

    def _driver_panel(self, frames, driving: Driving, i: int, h: int) -> np.ndarray:
        pts = driving.track[i]
        if frames is not None:
            img = next(frames)
        else:  # a landmark file: draw the landmarks alone, framed like a crop
            img = np.zeros((h, h, 3), np.uint8)
            m = box_to_affine(crop_box(driving.track[0]), h)
            return draw_landmarks(img, apply_affine(pts, m), radius=1)
        crop, lms, _ = crop_face(img, pts, h)
        return draw_landmarks(crop, lms, radius=1)
