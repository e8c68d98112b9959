"""``motiongan speak VIDEO AUDIO``: dub a video, so that its person says new speech, at the video's own
resolution, on a CPU.

A video keeps everything a single photo loses: head motion, blinks, the background, the person's real teeth
and full resolution. Three readings of the video:

1. **track**: each frame's 68 landmarks (tracked, :meth:`FaceLandmarker.follow`), smoothed over time, and
   the person's neutral mouth (the mean pose-free shape of their most closed frames, as the speech model's
   neutral);
2. **donors** (:func:`second_reading`): a bank of the video's own mouths (:mod:`motiongan.mouths`), cut at
   the frames' resolution as they come (at most ``DONOR_FRAMES`` frames, evenly spread), the colours'
   reference frame and, when the output plays the video back or again, its frames as JPEG on disk;
3. **render**, one output frame per 1/fps of speech: a source frame (the video plays forward; when the audio
   is longer it ping-pongs or repeats, ``--loop``; when shorter, it is cut); its mouth and jaw points
   (``--mouth-only``: the mouth's alone) replaced by the neutral mouth plus the speech model's displacement,
   in that frame's pose (the inverse of its canonical similarity); the face's window of the frame (a square
   of integer pixels, no resampling) warped by the thin-plate spline of its landmarks onto these, pinned on
   the window's border so that nothing outside it moves and there is no seam, sampled bicubically (at the
   video's own resolution bilinear sampling left the mouth 0.72 as sharp as the real one, bicubic 0.91:
   ``benchmarks/dub.py``); the opened mouth filled from the video's own mouths; the window written back.
   Frames without a face are kept as they are, and counted.

The frames stream: memory holds the landmarks, the bank and one frame, whatever the video's length (a
ping-pong or repeat reads its frames back from the temporary JPEG folder).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import torch

from ..convention import to_image, to_tensor
from ..crop import crop_box
from ..errors import ConfigError, note
from ..face.landmarker import FaceLandmarker, NoFaceError
from ..landmarks import (
    MOUTH,
    apply_affine,
    canonical_matrices,
    invert_affine,
    smooth,
    to_canonical,
)
from ..media import MediaError, iter_video, to_constant_rate, variable_rate, video_info, write_video
from ..motion import warp
from ..mouths import PARTS, MouthBank, RealMouths, side_for
from .canonical import MOUTH_AND_JAW, neutral

MIN_SECONDS = 1.0  # a source video shorter than this is refused
DONOR_FRAMES = 400  # frames of the video its own mouth bank is cut from, at most (evenly spread)
SMOOTH = 1.0  # the landmark track's temporal smoothing (frames)
WINDOW = 1.4  # the warped window's side over the landmarks' larger extent


def schedule(n_source: int, n_out: int, loop: str = "pingpong") -> np.ndarray:
    """Source frame indices (n_out,) for an output of ``n_out`` frames: forward, then (when longer) back and
    forth (``pingpong``) or from the start again (``repeat``)."""
    if loop not in ("pingpong", "repeat"):
        raise ConfigError(f"{loop!r}: use pingpong or repeat", path="--loop")
    k = np.arange(n_out)
    if loop == "repeat" or n_source < 2:
        return k % n_source
    period = 2 * (n_source - 1)
    k = k % period
    return np.where(k < n_source, k, period - k)


def check_source_video(path, info: dict | None = None) -> dict:
    """A source video that can be dubbed: decodable, at least ``MIN_SECONDS`` long, with a usable frame rate."""
    info = info or video_info(path)
    if not 1 <= info["fps"] <= 120:
        raise MediaError(f"its frame rate ({info['fps']:g} fps) is not one a video is dubbed at", path=path)
    if info["frames"] / info["fps"] < MIN_SECONDS:
        raise MediaError(f"{info['frames']} frames ({info['frames'] / info['fps']:.2f} s): a source video needs at "
                         f"least {MIN_SECONDS:g} s of the person's face", path=path)
    return info


def track_video(path, landmarker: FaceLandmarker) -> list:
    """Each frame's 68 landmarks (or None where the face is lost), smoothed over runs of found frames."""
    raw = [p for _, p in landmarker.follow(iter_video(path))]
    out, run = list(raw), []
    for i, p in enumerate(raw + [None]):
        if p is not None:
            run.append(i)
            continue
        if run:
            for j, q in zip(run, smooth(np.stack([raw[r] for r in run]), SMOOTH)):
                out[j] = q
            run = []
    return out


def mouth_targets(track: list, displacements: np.ndarray, order: np.ndarray, template: np.ndarray,
                  mouth_only: bool = False) -> tuple[list, np.ndarray]:
    """Each output frame's target landmarks (None where its source frame has no face), and the person's
    neutral pose-free shape: the source frame's shape with its mouth and jaw (or mouth) points moved to the
    neutral shape plus the speech displacement, in that frame's pose."""
    found = [i for i, p in enumerate(track) if p is not None]
    shapes = np.stack([track[i] for i in found])
    mats = dict(zip(found, canonical_matrices(shapes, template)))
    canon = dict(zip(found, to_canonical(shapes, template)))
    rest = neutral(np.stack(list(canon.values())))
    moved = np.array(MOUTH if mouth_only else MOUTH_AND_JAW)
    targets = []
    for k, i in enumerate(order):
        if track[i] is None:
            targets.append(None)
            continue
        shape = canon[i].copy()
        shape[moved] = rest[moved] + displacements[k][moved]
        targets.append(apply_affine(shape, invert_affine(mats[i])).astype(np.float32))
    return targets, rest


def window(points: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """A square window (x0, y0, side) of whole pixels around a face, inside the frame (None if it cannot be)."""
    cx, cy, side = crop_box(points, WINDOW)
    h, w = shape[:2]
    side = int(min(round(side), h, w))
    if side < 16:
        return None
    x0 = int(np.clip(round(cx - side / 2), 0, w - side))
    y0 = int(np.clip(round(cy - side / 2), 0, h - side))
    return x0, y0, side


def dub_frame(frame: np.ndarray, points: np.ndarray, target: np.ndarray, fill: RealMouths | None) -> np.ndarray:
    """``frame`` with its face's window warped from ``points`` to ``target`` (pinned on the window's border)
    and the opened mouth filled; everything outside the window as it was."""
    box = window(points, frame.shape)
    if box is None:
        return frame
    x0, y0, side = box
    shift = np.array([x0, y0], np.float32)
    src, tgt = points - shift, target - shift
    patch = frame[y0:y0 + side, x0:x0 + side]
    with torch.no_grad():
        moved = to_image(warp(to_tensor(patch)[None], torch.from_numpy(src)[None], torch.from_numpy(tgt)[None],
                              side, resample="bicubic")[0].clamp(-1, 1))
    if fill is not None:
        moved = fill(moved, tgt, source=src)
    out = frame.copy()
    out[y0:y0 + side, x0:x0 + side] = moved
    return out


def _frames_in_order(path, order: np.ndarray, folder: Path | None) -> Iterator[np.ndarray]:
    """The source frames in ``order``: streamed while it runs forward, else read back from ``folder``'s JPEG
    copies (written by :func:`second_reading`)."""
    if folder is None:
        frames = iter_video(path)
        current, frame = -1, None
        for i in order:
            while current < i:
                frame, current = next(frames), current + 1
            yield frame
        return
    for i in order:
        yield cv2.cvtColor(cv2.imread(str(folder / f"{i:06d}.jpg")), cv2.COLOR_BGR2RGB)


def second_reading(path, track: list, own: bool, folder: Path | None) -> tuple[MouthBank | None, np.ndarray]:
    """One more reading of the video: with ``own``, the bank of its own mouths and eyes, cut at its resolution
    from at most ``DONOR_FRAMES`` frames with a face; the first frame with a face (the colours' reference);
    with ``folder``, every frame written there as JPEG (for a reversed or repeated leg)."""
    found = [i for i, p in enumerate(track) if p is not None]
    keep = {found[k] for k in np.linspace(0, len(found) - 1, min(len(found), DONOR_FRAMES)).round().astype(int)}
    reference = []

    def pairs():
        for i, f in enumerate(iter_video(path, None if own or folder else found[0] + 1)):
            if folder is not None:
                cv2.imwrite(str(folder / f"{i:06d}.jpg"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 97])
            if i == found[0]:
                reference.append(f)
            yield f, track[i] if own and i in keep else None
    if not own:
        for _ in pairs():
            pass
        return None, reference[0]
    pts = np.stack([track[i] for i in found])
    bank = MouthBank.build(pairs(), side={name: side_for(part, pts) for name, part in PARTS.items()},
                           source=str(path))
    bank.own = True
    return bank, reference[0]


def dub(video, audio, out, speech_model, options, landmarker: FaceLandmarker | None = None,
        progress: bool = False) -> dict:
    """Write ``out``: ``video`` with its person saying ``audio`` (its sound muxed in), at the video's size and
    frame rate. ``options``: :class:`~motiongan.speech.speak.SpeakOptions` (``loop``, ``mouth_only``,
    ``mouths``: ``own`` (the default for a video: its own frames), ``none``, or a bank or video path).
    A variable-frame-rate video (a phone's) is first resampled to its nominal constant rate, so its head
    motion keeps its timing."""
    info = check_source_video(video)
    rate = variable_rate(video)
    if rate is None:
        return _dub(video, info, audio, out, speech_model, options, landmarker, progress)
    with tempfile.TemporaryDirectory(prefix=".motiongan-dub-", dir=Path(out).parent) as tmp:
        note(f"{video}: a variable frame rate; dubbed at a constant {rate:g} fps (each frame held for as long "
             "as it was shown)")
        fixed = to_constant_rate(video, Path(tmp) / "constant.mp4", rate)
        res = _dub(fixed, video_info(fixed), audio, out, speech_model, options, landmarker, progress, name=video)
        return {**res, "resampled_to": rate}


def _dub(video, info: dict, audio, out, speech_model, options, landmarker: FaceLandmarker | None = None,
         progress: bool = False, name=None) -> dict:
    """:func:`dub` of a constant-frame-rate video whose :func:`check_source_video` figures are ``info``;
    ``name``: the file the user gave (for messages), when ``video`` is its resampled copy."""
    from ..inference.donors import load_bank
    from .audio import Speech

    o = options
    speech = Speech.from_file(audio, o.max_seconds)
    landmarker = landmarker or FaceLandmarker()
    track = track_video(video, landmarker)
    n_source = len(track)
    if not any(p is not None for p in track):
        raise NoFaceError(f"no face was found in any of its {n_source} frames", path=name or video)
    fps = info["fps"]
    n_out = speech.n_frames(fps)
    order = schedule(n_source, n_out, o.loop)
    targets, _ = mouth_targets(track, speech_model.displacements(speech, fps, n_out), order, speech_model.template,
                               o.mouth_only)
    spec = "own" if o.mouths in ("auto", "own") else o.mouths
    forward = bool(np.all(np.diff(order) >= 0))
    with tempfile.TemporaryDirectory(prefix=".motiongan-dub-", dir=Path(out).parent) as tmp:
        folder = None if forward else Path(tmp)  # a reversed or repeated leg reads the frames from there
        bank, reference = second_reading(video, track, spec == "own", folder)
        bank = bank if spec == "own" else load_bank(spec, landmarker)
        first = next(i for i, p in enumerate(track) if p is not None)
        fill = None if bank is None else RealMouths(reference, track[first], bank, own=bank.own)  # its colours
        unchanged = []

        def frames():
            for k, (i, frame) in enumerate(zip(order, _frames_in_order(video, order, folder))):
                if targets[k] is None:
                    unchanged.append(k)
                    yield frame
                else:
                    yield dub_frame(frame, track[i], targets[k], fill)
        res = write_video(frames(), out, fps, audio, True, n_out, progress, "dub")
    return {"frames": n_out, "written": res["frames"], "fps": fps, "seconds": speech.seconds, "out": str(out),
            "source_frames": n_source, "unchanged": len(unchanged), "loop": o.loop,
            "size": (info["width"], info["height"])}
