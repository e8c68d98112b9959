"""Where real mouths and eyes come from, by what the user has (``--mouths``; :mod:`motiongan.mouths` does
the filling):

- ``own``: a video or an image folder of the source person (``--mouths clip.mp4``), tracked once into a
  bank; when the source itself is a video (``speak VIDEO AUDIO``), its own frames;
- ``driver``: the driving video's own part at each frame, colour-matched to the source (a video file,
  camera or stream driver);
- ``bank``: a bank file written by ``motiongan mouths build`` (``--mouths bank.safetensors``);
- ``none``: the plain warp.

``auto`` (the default) is ``driver`` for a video driver, ``own`` for a dubbed video, and ``none`` otherwise
(a landmark track, a photo edit, speech from a photo): the choice measured in the README's "Real mouths"
section.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from tqdm import tqdm

from ..errors import ConfigError
from ..face.landmarker import FaceLandmarker
from ..media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, iter_video, read_image, video_info
from ..mouths import MouthBank, MouthBankError, RealMouths
from ..options import Checked, option

WORDS = ("auto", "none", "driver", "own")
MAX_TRACKED = 3000  # frames of a donor video tracked at most
# progress bars of tracking donors show on a terminal only (tqdm's disable=None), so that an error found
# after tracking stays the one line of a command's output


@dataclass
class MouthOptions(Checked):
    """Where the opened mouth's and closing eyes' real pixels come from (shared by animate, edit, speak and
    the web page)."""

    mouths: str = option("auto", "real pixels for the opened mouth and closing eyes: none (the warp alone), "
                                 "driver (the driving video's own, colour-matched), a video or image folder "
                                 "of the source person (their own mouths), or a bank file from 'motiongan "
                                 "mouths build'; auto: driver for a video driver, own for a dubbed video "
                                 "(speak VIDEO), else none",
                         metavar="auto|none|driver|PATH")


def check_mouths(spec: str, video_driver: bool | None, source_video: bool = False) -> None:
    """``--mouths`` checked before anything is read: a word that fits the driver (``video_driver``: None
    when there is no driver, as in edit and speak), or an existing bank file, video or image folder."""
    spec = str(spec)
    if spec in ("auto", "none"):
        return
    if spec == "driver":
        if not video_driver:
            raise ConfigError("driver mouths come from a driving video (a file, camera or stream); this "
                              "driver has no frames", path="--mouths")
        return
    if spec == "own":
        if not source_video:
            raise ConfigError("own mouths need frames of the source person: give a video or image folder of "
                              "them (--mouths clip.mp4)", path="--mouths")
        return
    path = Path(spec)
    if not path.exists():
        raise MouthBankError("no such file or folder (--mouths takes auto, none, driver, own, a bank "
                             ".safetensors, a video or an image folder)", path=path)
    if path.is_dir():
        if not any(p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES for p in path.iterdir()):
            raise MouthBankError("no images or videos in this folder to take mouths from", path=path)
    elif path.suffix.lower() == ".safetensors":
        MouthBank.load(path)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        video_info(path)
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        read_image(path)
    else:
        raise MouthBankError(f"not a mouth bank (.safetensors), a video ({', '.join(sorted(VIDEO_SUFFIXES))}), "
                             f"an image or an image folder", path=path)


def resolve(spec: str, video_driver: bool) -> str:
    """``auto`` made concrete: ``driver`` for a video driver, else ``none``."""
    return ("driver" if video_driver else "none") if spec == "auto" else spec


def load_bank(spec: str, landmarker: FaceLandmarker | None = None, progress: bool = False) -> MouthBank | None:
    """The bank a ``--mouths`` path names (a bank file, a video or image folder tracked now); None for a
    word (``auto``, ``none``, ``driver``)."""
    if spec in WORDS:
        return None
    path = Path(spec)
    if path.suffix.lower() == ".safetensors":
        return MouthBank.load(path)
    bank = bank_from_media(path, landmarker or FaceLandmarker(), progress)
    bank.own = True
    return bank


def bank_from_media(path: Path, landmarker: FaceLandmarker, progress: bool = False, max_frames: int = MAX_TRACKED
                    ) -> MouthBank:
    """A bank from a video (tracked frame by frame), an image, a folder of images (each landmarked) or a folder of
    videos (each tracked; ``max_frames`` in all), at the frames' own resolution; refused, naming the file,
    when no frame has a face or none opens its mouth."""
    path = Path(path)
    bank = MouthBank.build(_pairs(path, landmarker, progress, max_frames), source=str(path))
    mouth = bank.parts["mouth"]
    if mouth.openings.max() < 0.05:
        raise MouthBankError("no frame opens its mouth (inner lips at most "
                             f"{mouth.openings.max():.2f} inter-ocular distances apart): nothing to fill an "
                             "opened mouth with", path=path)
    return bank


def _pairs(path: Path, landmarker: FaceLandmarker, progress: bool, max_frames: int):
    """(frame, landmarks or None) of a video, an image folder or a folder of videos."""
    if path.suffix.lower() in IMAGE_SUFFIXES and not path.is_dir():
        yield from _images([path], landmarker, progress)
        return
    if not path.is_dir():
        videos = [path]
    else:
        files = sorted(path.iterdir())
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        if images:
            yield from _images(images, landmarker, progress)
            return
        videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
    bar = tqdm(desc="track mouths", unit="frame", total=max_frames if len(videos) > 1 else None,
               disable=None if progress else True)  # None: only on a terminal
    left = max_frames
    for v in videos:
        for pair in landmarker.follow(iter_video(v, left)):
            bar.update()
            yield pair
        left = max_frames - bar.n
        if left <= 0:
            break
    bar.close()


def _images(files: list[Path], landmarker: FaceLandmarker, progress: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(image, landmarks) of each image file with a face (the others are passed over)."""
    for f in tqdm(files, desc="landmark mouths", unit="image", disable=None if progress else True):
        rgb = read_image(f)
        boxes = landmarker.detect(rgb)
        if boxes:
            yield rgb, landmarker(rgb, str(f))


def filler(spec: str, source, bank: MouthBank | None, driving_frame: Callable[[], tuple] | None = None):
    """``RenderOptions.fill`` for a source face (:class:`~motiongan.inference.animate.Source`): None for
    ``none``; a bank's donors; or the driver's part of the frame ``driving_frame()`` returns ((frame,
    landmarks), landmarks None until the face is found)."""
    if spec == "none" or (bank is None and spec != "driver"):
        return None
    face = source.crop if source.detail is None else source.detail
    own = bank is not None and bank.own  # a video or folder of the source person, not a bank file
    real = RealMouths(face, source.to_output(source.landmarks), bank, own=own)
    if bank is not None:
        return lambda frame, target: real(frame, target)
    return lambda frame, target: real(frame, target, driving_frame())
