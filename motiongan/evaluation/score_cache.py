"""Scores kept between runs: a row's per-frame scores of a clip depend only on what is scored, so a second
``evaluate`` or ``compare`` on the same clips reads them instead of generating and scoring again. The gate
of the relay scores "real video", "copy source", "landmark warp" and the shipped generator alike every
round; only the new generator is scored afresh.

Where: ``--score-cache`` (``EvaluateOptions.score_cache``, ``CompareOptions.score_cache``): ``auto`` (the
default) is ``$MOTIONGAN_CACHE/scores`` when that is set, else ``$XDG_CACHE_HOME/motiongan/scores``, else
``~/.cache/motiongan/scores``; ``none`` keeps nothing; anything else is a folder. A folder that cannot be
written is left alone with one warning (the scores are then computed as without a cache).

What: one JSON file per row and clip (the per-frame series of :mod:`motiongan.evaluation.scoring`), named by
the SHA-256 of its key, written atomically (``motiongan.media.atomic_write_bytes``). The key holds
everything the scores depend on, by content:

- the row: "real video" and "copy source" by name; a generator (the landmark warp or a checkpoint) by its
  configuration, its weights' bytes and the source of the code that generates (``GENERATOR_SOURCES``);
- the clip: the SHA-256 of its prepared file, its number of frames (``max_frames`` applied) and size;
- the scoring: ``scoring.VERSION``, the source of the code that scores (``SCORING_SOURCES``) and the
  device type (cpu / cuda: float results differ).

So a changed clip, a different ``--max-frames``, new weights or edited scoring or generator code is a
miss, never a stale hit. Nothing is ever removed: delete the folder to reclaim the space (a few KB a clip).
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

import torch

from ..errors import note
from ..media import atomic_write_bytes
from . import scoring

PACKAGE = Path(__file__).resolve().parents[1]
SCORING_SOURCES = ("evaluation/scoring.py", "evaluation/metrics.py", "face/judge.py", "face/landmarker.py",
                   "face/verification.py", "convention.py", "landmarks.py")
GENERATOR_SOURCES = ("networks", "inference/model.py", "inference/streaming.py", "motion.py", "convention.py",
                     "landmarks.py")


@lru_cache(maxsize=None)
def source_digest(paths: tuple[str, ...]) -> str:
    """SHA-256 of the package's source files (folders: their ``.py`` files), in order."""
    h = hashlib.sha256()
    for p in paths:
        full = PACKAGE / p
        for f in sorted(full.rglob("*.py")) if full.is_dir() else [full]:
            h.update(str(f.relative_to(PACKAGE)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def generator_identity(model) -> str:
    """A generator by content: configuration, weights (bytes, names, shapes) and generating code."""
    h = hashlib.sha256(model.spec.recorded.encode())
    h.update(json.dumps(getattr(model.G, "kwargs", None), sort_keys=True, default=str).encode())
    for name, t in model.G.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return f"generator {h.hexdigest()} {source_digest(GENERATOR_SOURCES)}"


def default_folder() -> Path:
    if os.environ.get("MOTIONGAN_CACHE"):
        return Path(os.environ["MOTIONGAN_CACHE"]) / "scores"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "motiongan" / "scores"


class ScoreCache:
    """``get(key)`` / ``put(key, scores)`` of one folder, or nothing at all (``folder=None``)."""

    def __init__(self, folder: str | os.PathLike | None, device: str = "cpu"):
        self.folder = None if folder is None else Path(folder)
        self.device = torch.device(device).type
        self.hits = self.misses = 0

    @classmethod
    def from_option(cls, value: str | None, device: str = "cpu") -> "ScoreCache":
        """``auto``: :func:`default_folder`; ``none`` (or None): no cache; else that folder."""
        if value is None or value.lower() == "none":
            return cls(None, device)
        return cls(default_folder() if value == "auto" else Path(value).expanduser(), device)

    def key(self, row: str, clip_digest: str, frames: int, size: int) -> str | None:
        if self.folder is None:
            return None
        parts = [scoring.VERSION, source_digest(SCORING_SOURCES), self.device, row, clip_digest, frames, size]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def get(self, key: str | None) -> dict | None:
        path = None if key is None else self.folder / key[:2] / f"{key}.json"
        try:
            scores = json.loads(path.read_bytes()) if path is not None and path.is_file() else None
        except (OSError, ValueError):  # unreadable or cut short: computed again and rewritten
            scores = None
        if key is not None:
            self.hits, self.misses = self.hits + (scores is not None), self.misses + (scores is None)
        return scores

    def put(self, key: str | None, scores: dict) -> None:
        if key is None:
            return
        try:
            (self.folder / key[:2]).mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.folder / key[:2] / f"{key}.json", json.dumps(scores).encode())
        except OSError as e:
            note(f"{self.folder}: cannot keep scores there ({e}); going on without a score cache")
            self.folder = None
