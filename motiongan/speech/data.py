"""Speech training data: clips with audio, their landmark tracks (cached), and the person-level split.

Clips: GRID speaker s1 (``grid_s1/s1/*.mpg``; ``grid/bbaf2n`` is the same file and is skipped), the other
GRID speakers of ``grid/``, and every clip with an audio track in ``voxceleb/``, ``hdtf/``, ``mead/`` and
``talking/``. Landmarks come from the project's own tracker (:meth:`FaceLandmarker.track`, gaps filled,
smoothed over 1 frame) and are cached as ``.npz`` per clip, so training and evaluation track a clip once.

Split: 10% of the s1 sentences (every tenth by name) are held-out sentences; the GRID speakers other than
s1 and a fixed quarter of the other people (by a hash of their id) are held-out speakers (the test groups,
looked at once, at the end). Of the remaining people of the other sets a fixed quarter (by another hash)
are validation speakers, on which settings are chosen and the output scale is fitted, and another 10% of
the s1 sentences are validation sentences; the rest trains.
"""
from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.prepare import VIDEO_SUFFIXES
from ..media import atomic_write_bytes, has_audio, video_info
from ..options import option

MAX_FRAMES = 750  # at most 30 s at 25 fps per clip
TRAIN, VALIDATION, VALID_SENTENCES = "train", "validation speakers (other sets)", "validation sentences (GRID s1)"
VALID_GROUPS = (VALIDATION, VALID_SENTENCES)
HELD_SENTENCES, HELD_GRID, HELD_OTHER = "held-out sentences (GRID s1)", "held-out speakers (GRID)", \
    "held-out speakers (other sets)"
GROUPS = (HELD_SENTENCES, HELD_GRID, HELD_OTHER)  # the test groups


@dataclass
class SpeechDataOptions:
    """Where the speech commands find their clips and keep the landmark tracks they make (their ``--data`` and
    ``--tracks`` flags)."""

    data: str = option("../shared/data", "folder laid out like ../shared/data")
    tracks: str = option("runs/speech-tracks", "landmark track cache (created, reused)")


@dataclass
class ClipRef:
    path: Path
    person: str
    split: str

    @property
    def key(self) -> str:
        return "__".join(self.path.parts[-3:]).replace(".", "_")


def _quarter(text: str) -> bool:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16) % 4 == 0


def person_split(person: str) -> str:
    """Test, validation or training, for a person of the other sets (``voxceleb/vc2_5176``): fixed by hashes
    of the id, so no person is on two sides and every run splits alike."""
    if _quarter(person):
        return HELD_OTHER
    return VALIDATION if _quarter(f"validation:{person}") else TRAIN


def find_clips(root: str | os.PathLike) -> list[ClipRef]:
    """Every usable clip with audio under a data folder laid out like ``../shared/data``, with its split."""
    root = Path(root)
    clips = []
    s1 = sorted((root / "grid_s1" / "s1").glob("*.mpg"))
    for i, p in enumerate(s1):
        clips.append(ClipRef(p, "grid/s1", {5: HELD_SENTENCES, 0: VALID_SENTENCES}.get(i % 10, TRAIN)))
    for p in sorted((root / "grid").glob("*.mpg")):
        if p.stem != "bbaf2n":  # speaker s1, already in grid_s1
            clips.append(ClipRef(p, f"grid/{p.stem}", HELD_GRID))
    for group in ("voxceleb", "hdtf", "mead"):
        for person in sorted(d for d in (root / group).glob("*") if d.is_dir()):
            pid = f"{group}/{person.name}"
            for p in sorted(person.iterdir()):
                if p.suffix.lower() in VIDEO_SUFFIXES:
                    clips.append(ClipRef(p, pid, person_split(pid)))
    for p in sorted((root / "talking").glob("*")):
        if p.suffix.lower() in VIDEO_SUFFIXES:
            pid = f"talking/{p.stem}"
            clips.append(ClipRef(p, pid, person_split(pid)))
    return [c for c in clips if c.person.startswith("grid") or has_audio(c.path)]


@dataclass
class Clip:
    ref: ClipRef
    track: np.ndarray  # (T, 68, 2) image coordinates
    fps: float
    wave: np.ndarray  # 16 kHz mono


_LANDMARKER = None


def track_video(path: Path, max_frames: int = MAX_FRAMES) -> tuple[np.ndarray, float]:
    """Landmark track (T, 68, 2) of a video's face and its fps."""
    from ..face.landmarker import FaceLandmarker, fill_gaps
    from ..landmarks import smooth
    from ..media import iter_video

    global _LANDMARKER
    if _LANDMARKER is None:  # one per process: loading the shape predictor takes a second
        _LANDMARKER = FaceLandmarker()
    fps = video_info(path)["fps"]
    track = _LANDMARKER.track(iter_video(path, max_frames), name=str(path))
    return smooth(fill_gaps(track), 1.0), fps


def _cached(ref: ClipRef, cache: Path) -> tuple[np.ndarray, float] | None:
    f = cache / f"{ref.key}.npz"
    if f.exists():
        z = np.load(f)
        return z["track"], float(z["fps"])
    try:
        from ..face import NoFaceError

        track, fps = track_video(ref.path)
    except (NoFaceError, ValueError):  # remembered as an empty track, so it is not tried again
        track, fps = np.zeros((0, 68, 2), np.float32), 0.0
    buf = io.BytesIO()
    np.savez(buf, track=track, fps=fps)
    atomic_write_bytes(f, buf.getvalue())
    return (track, fps) if len(track) else None


def load_clips(refs: list[ClipRef], cache: str | os.PathLike, workers: int = 2, progress: bool = True) -> list[Clip]:
    """Track (or read from ``cache``) every clip and decode its audio; clips without a face are dropped."""
    from tqdm import tqdm

    from .audio import AudioError, load_audio

    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(workers) if workers > 1 else _Serial() as ex:
        results = list(tqdm(ex.map(_cached, refs, [cache] * len(refs)), total=len(refs), unit="clip",
                            desc="landmarks", disable=not progress))
    clips = []
    for ref, res in zip(refs, results):
        if res is None or len(res[0]) < 10:
            continue
        try:
            wave = load_audio(ref.path)
        except AudioError:
            continue
        clips.append(Clip(ref, res[0], res[1], wave))
    return clips


class _Serial:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    @staticmethod
    def map(fn, *its):
        return map(fn, *its)
