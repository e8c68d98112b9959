"""Animate a face image from a driving video, a ``.npy`` landmark track or a folder of ``.pts`` files.

The source image is detected, landmarked and cropped as in training. The driving motion is retargeted
onto the source face (relative motion: the driver's displacements from its first frame, with its scale,
position and roll removed), so another person's face drives the source without lending it its shape;
with ``retarget=False`` the driver's landmarks are used as given, mapped into a crop the way training
data is prepared (the paper's setting, for a driver who is the source person).
"""
from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..convention import to_image, to_tensor
from ..crop import PasteBack, box_to_affine, crop_box, crop_face
from ..draw import draw_landmarks
from ..face.landmarker import FaceLandmarker, fill_gaps
from ..filtering import filter_track
from ..landmarks import LandmarkFileError, apply_affine, invert_affine, read_pts, retarget, smooth
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
from ..options import FPS, option
from .donors import MouthOptions, check_mouths, filler, load_bank, resolve
from .driver import Capture, Driven, follow_driver, is_live, until_interrupted
from .mesh_driver import MOTIONS, MeshFollower, check_motion
from .model import MotionGAN
from .output import OutputOptions, check_size, output_size


@dataclass
class AnimateOptions(OutputOptions, MouthOptions):
    """How ``animate`` turns a driver into a video (the CLI's flags are made from these fields; ``--size`` and
    ``--paste``: :class:`~.output.OutputOptions`, shared with edit and speak)."""

    retarget: bool = option(True, "move the source face by the driver's motion, not its shape (relative motion)",
                            negative="use the driving landmarks as given (the paper's setting, for a driver who "
                                     "is the source person)")
    side_by_side: bool = option(False, "source | driving with landmarks | result")
    overlay: bool = option(False, "draw the target landmarks on the result")
    fps: float | None = option(None, "frames per second (default: the driver's; 25 for landmark files)",
                               range=FPS)
    filter: bool = option(True, "One Euro filter on a video driver's landmarks (causal: steady, little lag)",
                          negative="use a video driver's landmarks as detected, frame by frame")
    max_frames: int | None = option(None, "stop after this many driving frames (a camera: else at Ctrl-C)",
                                    range=(1, None))
    motion: str = option("tps", "how a video driver moves the photo: tps (the 68 points' thin-plate spline) or "
                                "mesh (the driver's 468-point face mesh, drawn in depth order; the landmark "
                                "warp only; needs the mesh extra)", choices=list(MOTIONS))


@dataclass
class Source:
    """A source face: the full image, its crop at the model's size, landmarks in both, the crop matrix, and
    (for an output of another size) the same crop at the output size with its matrix."""

    image: np.ndarray
    crop: np.ndarray
    landmarks: np.ndarray  # in the crop
    matrix: np.ndarray  # image -> crop
    detail: np.ndarray | None = None  # the crop at the output size, when not the model's
    detail_matrix: np.ndarray | None = None  # image -> detail
    _paste: PasteBack | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_points(cls, image: np.ndarray, points: np.ndarray, size: int, out_size: int | None = None) -> "Source":
        """The face with landmarks ``points`` (image pixels) cropped at ``size`` as training data is, and at
        ``out_size`` too when that is another (a warp generator renders at any size)."""
        crop, lms, m = crop_face(image, points, size)
        if out_size is None or out_size == size:
            return cls(image, crop, lms, m)
        detail, _, dm = crop_face(image, points, out_size)
        return cls(image, crop, lms, m, detail, dm)

    @property
    def out_matrix(self) -> np.ndarray:
        """Image -> output crop."""
        return self.matrix if self.detail is None else self.detail_matrix

    def to_output(self, points: np.ndarray) -> np.ndarray:
        """Landmarks in the model's crop -> the output crop."""
        if self.detail is None:
            return points
        return apply_affine(apply_affine(points, invert_affine(self.matrix)), self.detail_matrix)

    def paste(self, face: np.ndarray) -> np.ndarray:
        """An output crop blended back into the full image (the blend mask made once per source)."""
        if self._paste is None or self._paste.size != face.shape[0]:
            self._paste = PasteBack(self.image, self.out_matrix, face.shape[0])
        return self._paste(face)

    def tensor(self) -> torch.Tensor:
        return to_tensor(self.crop)

    def detail_tensor(self) -> torch.Tensor | None:
        return None if self.detail is None else to_tensor(self.detail)


def check_options(options: AnimateOptions, video_driver: bool | None = None) -> None:
    """The options' values, checked before anything is written (``video_driver``: whether the driver is a
    video, camera or stream; None: not known yet; ``--size``: checked when the options are made, and
    against the model by :meth:`Animator.source`)."""
    check_mouths(options.mouths, True if video_driver is None else video_driver)
    check_motion(options.motion, None, True if video_driver is None else video_driver)


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
    # real pixels for each generated crop, from it and its target landmarks in the output crop
    # (motiongan.inference.donors.filler)
    fill: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    # a motion that makes each crop in place of the model, from its target landmarks in the output crop
    # (motiongan.inference.mesh_driver.MeshFollower)
    motion: Callable[[np.ndarray], np.ndarray] | None = None


def load_source(image, size: int, landmarker: FaceLandmarker, name: str = "source",
                out_size: str | int | None = None, default: int | None = None) -> Source:
    """Detect, landmark and crop a source face (a path or an RGB uint8 array; ``name``: how messages call
    an array) at the model's ``size`` and at ``out_size`` (:func:`output_size`, ``default`` for None)."""
    if isinstance(image, (str, Path)):
        name, image = str(image), read_image(image)
    points = landmarker(image, name)
    return Source.from_points(image, points, size, output_size(out_size, points, size, default))


def load_driving(path, landmarker: FaceLandmarker | None = None, fps: float | None = None,
                 filter_motion: bool = True, progress: bool = False, name: str | None = None) -> Driving:
    """A whole driving track from a video (landmarks tracked, gaps filled from the nearest found frame,
    One Euro filtered unless ``filter_motion`` is False; a progress bar if ``progress``), a ``.npy``
    (T x 68 x 2) or a folder of ``.pts``; ``name`` (default: the path) is how errors call the file.
    (:meth:`Animator.animate` follows a video driver frame by frame instead: :mod:`.driver`.)"""
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
    track = fill_gaps((landmarker or FaceLandmarker()).track(frames, name=name))
    return Driving(filter_track(track) if filter_motion else track, fps or info["fps"], path,
                   (info["width"], info["height"]))


def check_inputs(source, driving, output, options: AnimateOptions) -> None:
    """Every input error of ``animate`` before any model loads: the source image readable, the driver a
    readable video, track or folder (a camera or stream is opened later), the output a writable ``.mp4``,
    the options valid."""
    for p in (source,) if is_live(driving) else (source, driving):
        if not Path(p).exists():
            raise MediaError("no such file or folder", path=p)
    check_output(output, {".mp4"})
    check_options(options, is_live(driving) or _is_video(driving))
    read_image(source)
    if is_live(driving):
        return
    driving = Path(driving)
    if driving.is_dir() or driving.suffix.lower() == TRACK_SUFFIX:
        load_driving(driving)
    else:
        video_info(driving)


def _read_track(path: Path, name: str) -> np.ndarray:
    """A landmark track (N, 68, 2) from a ``.npy`` file, checked."""
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic != b"\x93NUMPY":
        raise LandmarkFileError("not a NumPy landmark file (an .npy array of shape N x 68 x 2 saved by numpy.save)"
                                if magic else "empty file, not a landmark track", path=name)
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        reason = "holds Python objects, not numbers" if "allow_pickle" in str(e) else f"damaged ({e})"
        raise LandmarkFileError(f"not a readable .npy landmark track: {reason}", path=name) from None
    if arr.ndim != 3 or arr.shape[1:] != (68, 2) or len(arr) == 0:
        raise LandmarkFileError(f"expected a landmark track of shape (N, 68, 2), got {arr.shape}", path=name)
    if not np.isfinite(arr).all():
        raise LandmarkFileError("landmarks contain NaN or infinite values", path=name)
    spread = np.ptp(arr, axis=1).max(-1)  # (N,): each frame's extent
    if (spread < 1e-3).any():
        raise LandmarkFileError(f"degenerate landmarks: all 68 points of frame {int(np.argmax(spread < 1e-3))} "
                                "coincide", path=name)
    return arr.astype(np.float32)


def target_track(source: Source, driving: Driving, size: int, retarget_motion: bool = True) -> np.ndarray:
    """Target landmarks (T, 68, 2) in the source crop."""
    if retarget_motion:
        return retarget(source.landmarks, driving.track)
    boxes = smooth(crop_box(driving.track), 3.0)
    return np.stack([apply_affine(p, box_to_affine(b, size)) for p, b in zip(driving.track, boxes)])


def compose(source: Source, frame: np.ndarray, target: np.ndarray, index: int, options: RenderOptions) -> np.ndarray:
    """A generated crop as it is shown: its target landmarks (model crop coordinates) drawn, pasted back
    into the source image, with the panels beside it, as ``options`` say."""
    shown = draw_landmarks(frame, source.to_output(target), radius=1) if options.overlay else frame
    if options.paste:
        shown = source.paste(shown)
    if options.panels is not None:
        shown = np.concatenate([*options.panels(index, shown), shown], 1)
    return shown


class Animator:
    """Generate frames for a source face from target landmarks, one at a time, and write them
    (:meth:`render`: the one path from a face and targets to a video or an image)."""

    def __init__(self, model: MotionGAN, landmarker: FaceLandmarker | None = None, compile: bool = False):
        self.model, self.landmarker, self.compile = model, landmarker or FaceLandmarker(), compile

    def source(self, image, name: str = "source", size: str | int | None = None) -> Source:
        """The source face: an image (path or RGB array) detected, landmarked and cropped at the model's
        size and at the output ``size`` (:func:`output_size`; checked against the model before the image is
        read: :func:`check_size`), or a :class:`Source` as it is."""
        if isinstance(image, Source):
            return image
        size = check_size(size, self.model)
        return load_source(image, self.model.size, self.landmarker, name, size, self.model.default_output)

    def frames(self, source: Source, targets: Iterable[np.ndarray],
               fill: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
               motion: Callable[[np.ndarray], np.ndarray] | None = None) -> Iterator[np.ndarray]:
        """RGB uint8 crops at the source's output size, one per target landmark set (model crop
        coordinates), generated as the targets come (by ``motion``, ``RenderOptions.motion``, in place of
        the model when given); ``fill`` (``RenderOptions.fill``) puts real pixels into each."""
        current = []
        if motion is not None:
            made = (motion(source.to_output(t)) for t in _remembering(targets, current))
        else:
            made = (to_image(f) for f in self.model.generate(source.tensor(), source.landmarks,
                                                             _remembering(targets, current),
                                                             compile=self.compile, detail=source.detail_tensor()))
        for f in made:
            yield f if fill is None else fill(f, source.to_output(current[0]))

    def render(self, source, targets: Iterable[np.ndarray], out, options: RenderOptions | None = None,
               progress: bool = False, desc: str = "render", total: int | None = None) -> dict:
        """Crop the source (an image, or a :class:`Source`), generate a frame per target landmark set
        (68, 2, model crop coordinates; an array or targets as they come), compose each (:func:`compose`)
        and write them: ``out`` is an MP4 (written as the frames come, with ``options.audio``'s sound) or an
        image (the first frame). Returns a summary."""
        o = options or RenderOptions()
        source = self.source(source)
        current = []  # the target of the frame being composed
        frames = self.frames(source, _remembering(targets, current), o.fill, o.motion)
        shown = (compose(source, f, current[0], i, o) for i, f in enumerate(frames))
        if Path(out).suffix.lower() in IMAGE_SUFFIXES:
            write_image(out, next(shown))
            return {"frames": 1, "out": str(out)}
        total = len(targets) if total is None and hasattr(targets, "__len__") else total
        return write_video(shown, out, o.fps, o.audio, o.require_audio, total, progress, desc)

    def animate(self, source, driving, out, options: AnimateOptions | None = None, progress: bool = False) -> dict:
        """Write an MP4 of ``source`` (an image, or a :class:`Source`) moved by ``driving``: a video file, a
        camera index or stream URL (each followed frame by frame, :meth:`follow`), a track file or folder, or
        a :class:`Driving`. Frames are written as they come, a video driver's audio copied in. Returns a
        summary."""
        o = options or AnimateOptions()
        followed = not isinstance(driving, Driving) and (is_live(driving) or _is_video(driving))
        check_options(o, followed)
        check_motion(o.motion, self.model, followed)
        source = self.source(source, size=o.size)
        bank = load_bank(o.mouths, self.landmarker, progress)
        if followed:
            return self.follow(source, driving, out, o, progress, bank)
        if not isinstance(driving, Driving):
            driving = load_driving(driving, self.landmarker, o.fps, o.filter, progress=progress)
        targets = target_track(source, driving, self.model.size, o.retarget)[:o.max_frames]
        panels = side_panels(source, driving, o.paste) if o.side_by_side else None
        how = RenderOptions(driving.fps, o.paste, o.overlay, panels, driving.video,
                            fill=filler(resolve(o.mouths, False), source, bank))
        return self.render(source, targets, out, how, progress, "animate")

    def follow(self, source: Source, driving, out, options: AnimateOptions, progress: bool = False,
               bank=None) -> dict:
        """:meth:`animate` from a video file, a camera or a stream, one driving frame at a time
        (:func:`~.driver.follow_driver`); a camera runs until ``max_frames`` or Ctrl-C, and the video
        written so far is kept. ``bank``: the donors a ``--mouths`` path named (loaded once)."""
        o = options
        live = is_live(driving)
        # a camera stops at Ctrl-C and keeps its video; a file is interrupted and leaves nothing half-written
        with until_interrupted() if live else nullcontext() as stop:
            if live:
                capture = Capture(driving, o.max_frames, stop)
                frames, fps, total, audio = iter(capture), capture.fps, o.max_frames, None
            else:
                info = video_info(driving)
                frames, fps, audio = iter_video(driving, o.max_frames), info["fps"], driving
                total = min(info["frames"], o.max_frames or info["frames"]) or None
            driven = follow_driver(frames, source.landmarks, self.landmarker, self.model.size, o.filter,
                                   o.retarget, name=None if live else str(driving))
            now = []  # the driving frame being rendered, for the side panel

            def targets():
                for d in driven:
                    now[:] = [d]
                    yield d.target

            panels = None
            if o.side_by_side:
                def panels(i, shown):
                    return [_still(source, o.paste, shown.shape[0]), _live_panel(now[0], shown.shape[0])]
            fill = filler(resolve(o.mouths, True), source, bank, lambda: (now[0].frame, now[0].landmarks))
            motion = None
            if o.motion == "mesh":
                follower = MeshFollower(source)
                motion = lambda target: follower(now[0], target)  # noqa: E731
            how = RenderOptions(o.fps or fps, o.paste, o.overlay, panels, audio, fill=fill, motion=motion)
            return self.render(source, targets(), out, how, progress, "live" if live else "animate", total)


def _remembering(targets: Iterable[np.ndarray], current: list) -> Iterator[np.ndarray]:
    """``targets`` as they come, each kept in ``current`` while its frame is made (the model takes one target
    and gives its frame before taking the next)."""
    for t in targets:
        current[:] = [t]
        yield t


def _is_video(path) -> bool:
    path = Path(path)
    return not path.is_dir() and path.suffix.lower() != TRACK_SUFFIX


def _still(source: Source, paste: bool, h: int) -> np.ndarray:
    """The source panel at height ``h``: the full image if pasted, else the crop."""
    still = source.image if paste else (source.crop if source.detail is None else source.detail)
    return cv2.resize(still, (round(still.shape[1] * h / still.shape[0]), h), interpolation=cv2.INTER_AREA)


def _live_panel(driven: Driven, h: int) -> np.ndarray:
    """A followed driving frame cropped to ``h`` x ``h`` with its landmarks (the whole frame, resized,
    until the face is found)."""
    if driven.landmarks is None:
        return cv2.resize(driven.frame, (h, h), interpolation=cv2.INTER_AREA)
    return _face_panel(driven.frame, driven.landmarks, h)


def _face_panel(frame: np.ndarray, points: np.ndarray, h: int) -> np.ndarray:
    """A driving frame's face cropped to ``h`` x ``h`` with its landmarks drawn."""
    crop, lms, _ = crop_face(frame, points, h)
    return draw_landmarks(crop, lms, radius=1)


def side_panels(source: Source, driving: Driving, paste: bool) -> Callable[[int, np.ndarray], list[np.ndarray]]:
    """``RenderOptions.panels`` for a side-by-side video: the source (the full image if pasted, else the crop)
    and the driver with its landmarks, each at the result's height."""
    frames = iter_video(driving.video) if driving.video else None

    def panels(i: int, shown: np.ndarray) -> list[np.ndarray]:
        h = shown.shape[0]
        return [_still(source, paste, h), _driver_panel(frames, driving, i, h)]

    return panels


def _driver_panel(frames, driving: Driving, i: int, h: int) -> np.ndarray:
    """The driver's frame ``i`` cropped to ``h`` x ``h`` with its landmarks (a landmark file: the landmarks
    alone, framed like a crop)."""
    pts = driving.track[i]
    if frames is None:
        m = box_to_affine(crop_box(driving.track[0]), h)
        return draw_landmarks(np.zeros((h, h, 3), np.uint8), apply_affine(pts, m), radius=1)
    return _face_panel(next(frames), pts, h)
