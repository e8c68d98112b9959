"""``motiongan speak``: a face image and a recording -> landmarks -> video with the recording's audio.

The speech model's canonical track is put on the source face by :func:`motiongan.landmarks.retarget`
(the template is the neutral face), so only mouth and jaw move: the head keeps the source's pose and the
eyes do not blink. Frames go to the video as they are made (flat memory); the output appears only when
complete (:class:`motiongan.media.VideoWriter`); the audio is checked before anything is written.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..draw import draw_landmarks
from ..errors import ConfigError
from ..inference.donors import MouthOptions, check_mouths, filler, load_bank, resolve
from ..inference.output import SIZES, OutputOptions, check_size, output_size
from ..landmarks import retarget
from ..media import VIDEO_SUFFIXES, atomic_write_bytes, read_image, write_video
from ..models import load_speech_model
from ..options import FPS, option
from .audio import MAX_SECONDS, Speech
from .canonical import drive
from .model import SpeechModel

DRAW_SIZE = 256


@dataclass
class SpeakOptions(OutputOptions, MouthOptions):
    """How ``speak`` makes its video (the CLI's flags are made from these fields; ``--size`` and ``--paste``:
    :class:`~motiongan.inference.output.OutputOptions`, as animate's, for a photo: a dubbed video keeps its own
    frames, whole)."""

    fps: float = option(25.0, "frames per second of the video and the landmark track", range=FPS)
    draw: bool = option(False, "draw the landmarks over the face (no generator needed)")
    max_seconds: float = option(MAX_SECONDS, "refuse longer recordings", range=(0.1, None))
    loop: str = option("pingpong", "a video source shorter than the speech: play it back and forth, or repeat it",
                       choices=["pingpong", "repeat"])
    mouth_only: bool = option(False, "a video source: move only the mouth (points 48-67), not the jaw")


def check_request(out, landmarks_only, generator: bool, options: SpeakOptions) -> None:
    """Refuse a request that cannot be met, before any work: no output at all, or a video without a
    generator (``generator``: whether one is given) that is not to be drawn."""
    if out is None and landmarks_only is None:
        raise ConfigError("give -o OUT.mp4, --landmarks-only OUT.npy, or both")
    if out is not None and not generator and not options.draw:
        raise ConfigError("a video needs a generator (--checkpoint) or --draw")


def check_source(source, options: SpeakOptions, model=None) -> None:
    """The output options against the source and the ``model`` that renders it, before anything is read: a
    video is dubbed at its own resolution (``--size`` is a photo's); a photo's size is one the model renders at
    (:func:`~motiongan.inference.output.check_size`)."""
    if is_video(source):
        if options.size is not None:
            raise ConfigError("a video is dubbed at its own frames' resolution: the output size is for a photo "
                              "(leave it out)", path="--size")
        return
    if model is not None and not options.draw:
        check_size(options.size, model)


def speech_track(speech_model: SpeechModel, speech: Speech, fps: float) -> np.ndarray:
    """Canonical driving track (T, 68, 2), one landmark set per 1/fps of speech."""
    if not fps > 0:
        raise ConfigError(f"must be positive, got {fps:g}", path="--fps")
    return drive(speech_model.template, speech_model.displacements(speech, fps))


def speak(source, audio, out=None, landmarks_only=None, options: SpeakOptions | None = None, model=None,
          speech_model: SpeechModel | None = None, landmarker=None, progress: bool = False) -> dict:
    """Write ``out`` (MP4 with ``audio``'s sound) and/or ``landmarks_only`` (.npy, source image pixels).

    ``model``: a :class:`motiongan.inference.MotionGAN`; without one, ``options.draw`` must be set (a video
    of the landmarks drawn over the source crop) or only landmarks are written. Every problem with the
    request, the recording or the face is raised before any output is written.
    """
    from ..face import FaceLandmarker

    o = options or SpeakOptions()
    check_source(source, o, model)
    if is_video(source):  # dubbing: the video's own frames, motion and mouths
        return _dub(source, audio, out, landmarks_only, o, speech_model, landmarker, progress)
    check_request(out, landmarks_only, model is not None, o)
    check_mouths(o.mouths, None)
    speech = Speech.from_file(audio, o.max_seconds)
    speech_model = speech_model or load_speech_model()
    track = speech_track(speech_model, speech, o.fps)
    landmarker = landmarker or FaceLandmarker()
    named = isinstance(source, (str, os.PathLike))
    image = read_image(source) if named else source
    points = landmarker(image, str(source) if named else "source")
    summary = {"frames": len(track), "fps": o.fps, "seconds": speech.seconds}
    if landmarks_only is not None:
        buf = io.BytesIO()
        np.save(buf, retarget(points, track, neutral=speech_model.template))
        atomic_write_bytes(landmarks_only, buf.getvalue())
        summary["landmarks"] = str(landmarks_only)
    if out is not None:
        res = _video(image, points, track, speech_model.template, out, audio, o, model, landmarker, progress)
        summary.update(out=str(out), written=res["frames"])
    return summary


def is_video(source) -> bool:
    """Whether a ``speak`` source names a video (dubbed) rather than a photo."""
    return isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() in VIDEO_SUFFIXES


def _dub(video, audio, out, landmarks_only, o: SpeakOptions, speech_model, landmarker, progress) -> dict:
    """``speak VIDEO AUDIO``: :func:`motiongan.speech.dub.dub` (a video needs no generator: its frames are warped)."""
    from .dub import dub

    if out is None or landmarks_only is not None:
        raise ConfigError("a video source is dubbed into -o OUT.mp4 (--landmarks-only takes a photo)")
    check_mouths(o.mouths, None, source_video=True)
    return dub(video, audio, out, speech_model or load_speech_model(), o, landmarker, progress)


def _video(image, points, track, template, out, audio, o: SpeakOptions, model, landmarker, progress) -> dict:
    """The talking face rendered by ``model`` (:meth:`Animator.render`), or its landmarks drawn over the
    dimmed face (``o.draw`` or no model); the recording's sound muxed in."""
    from ..inference.animate import Animator, RenderOptions, Source

    if model is not None and not o.draw:
        src = Source.from_points(image, points, model.size, output_size(o.size, points, model.size,
                                                                       model.default_output))
        fill = filler(resolve(o.mouths, False), src, load_bank(o.mouths, landmarker, progress))
        how = RenderOptions(fps=o.fps, paste=o.paste, audio=audio, require_audio=True, fill=fill)
        targets = retarget(src.landmarks, track, neutral=template)
        return Animator(model, landmarker).render(src, targets, out, how, progress, "speak")
    src = Source.from_points(image, points, output_size(o.size, points, SIZES[0], DRAW_SIZE))
    dim = (src.crop * 0.5).astype(np.uint8)
    targets = retarget(src.landmarks, track, neutral=template)
    frames = (draw_landmarks(dim, t, radius=2) for t in targets)
    return write_video(frames, out, o.fps, audio, True, len(targets), progress, "speak")
