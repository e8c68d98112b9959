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

import numpy as np

from ..draw import draw_landmarks
from ..landmarks import retarget
from ..media import MediaError, VideoWriter, atomic_write_bytes, read_image
from ..options import option
from .audio import MAX_SECONDS, Speech
from .canonical import drive
from .model import SpeechModel

DRAW_SIZE = 256


@dataclass
class SpeakOptions:
    """How ``speak`` makes its video (the CLI's flags are made from these fields)."""

    fps: float = option(25.0, "frames per second of the video and the landmark track")
    draw: bool = option(False, "draw the landmarks over the face (no generator needed)")
    paste: bool = option(False, "paste the generated crop back into the source image")
    max_seconds: float = option(MAX_SECONDS, "refuse longer recordings")


def speech_track(speech_model: SpeechModel, speech: Speech, fps: float) -> np.ndarray:
    """Canonical driving track (T, 68, 2), one landmark set per 1/fps of speech."""
    if not fps > 0:
        raise ValueError(f"--fps must be positive, got {fps}")
    return drive(speech_model.template, speech_model.displacements(speech, fps))


def speak(source, audio, out=None, landmarks_only=None, options: SpeakOptions | None = None, model=None,
          speech_model: SpeechModel | None = None, landmarker=None, progress: bool = False) -> dict:
    """Write ``out`` (MP4 with ``audio``'s sound) and/or ``landmarks_only`` (.npy, source image pixels).

    ``model``: a :class:`motiongan.inference.MotionGAN`; without one, ``options.draw`` must be set (a video
    of the landmarks drawn over the source crop) or only landmarks are written.
    """
    from ..face import FaceLandmarker
    from ..inference.animate import Animator, crop_face, load_source, paste_back

    o = options or SpeakOptions()
    fps = o.fps
    if out is None and landmarks_only is None:
        raise ValueError("give -o OUT.mp4, --landmarks-only OUT.npy, or both")
    if out is not None and model is None and not o.draw:
        raise ValueError("a video needs a generator (--checkpoint) or --draw")
    speech = Speech.from_file(audio, o.max_seconds)  # every audio problem is raised before any output
    speech_model = speech_model or SpeechModel.shipped()
    track = speech_track(speech_model, speech, fps)
    landmarker = landmarker or FaceLandmarker()
    image = read_image(source) if isinstance(source, (str, os.PathLike)) else source
    points = landmarker(image, str(source) if isinstance(source, (str, os.PathLike)) else "source")
    n = len(track)
    summary = {"frames": n, "fps": fps, "seconds": speech.seconds}
    if landmarks_only is not None:
        buf = io.BytesIO()
        np.save(buf, retarget(points, track, neutral=speech_model.template))
        atomic_write_bytes(landmarks_only, buf.getvalue())
        summary["landmarks"] = str(landmarks_only)
    if out is None:
        return summary
    from tqdm import tqdm

    if model is not None and not o.draw:
        src = load_source(image, model.size, landmarker)
        targets = retarget(src.landmarks, track, neutral=speech_model.template)
        frames = Animator(model, landmarker).frames(src, targets)
        if o.paste:
            frames = (paste_back(src.image, f, src.matrix) for f in frames)
    else:
        crop, lms, _ = crop_face(image, points, DRAW_SIZE)
        targets = retarget(lms, track, neutral=speech_model.template)
        dim = (crop * 0.5).astype(np.uint8)
        frames = (draw_landmarks(dim, t, radius=2) for t in targets)
    written = 0
    with VideoWriter(out, fps, audio_from=audio) as vw:
        if vw.audio_from is None:  # load_audio found one; checked again before any frame is written
            raise MediaError(f"{audio}: ffmpeg found no audio stream to copy")
        for frame in tqdm(frames, total=n, unit="frame", desc="speak", disable=not progress):
            vw.write(frame)
            written += 1
    summary.update(out=str(out), written=written)
    return summary
