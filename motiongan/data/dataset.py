"""Datasets over a prepared cache (paper section 4.1).

Training samples are ``(s, l, f_1..T, l_1..T)``: T consecutive target frames of one clip and a source
frame of the same clip that is at least ``min_gap`` frames from the first target and outside the targets;
mirrored with probability 1/2 (landmark indices permuted). Sample ``i`` is a pure function of
``(seed, i)``, so a resumed run reads exactly the samples it would have read. Heatmaps are not stored:
the trainer renders them from the landmarks on its device.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..landmarks import mirror_points
from .cache import Cache, CacheError


def split_persons(persons: list[str], seed: int = 0, test_fraction: float = 0.3,
                  test_persons: int | None = None) -> dict[str, list[str]]:
    """Split people (never frames) into train and test, deterministically from ``seed``."""
    persons = sorted(set(persons))
    order = [persons[i] for i in np.random.default_rng(seed).permutation(len(persons))]
    n_test = test_persons if test_persons is not None else max(1, round(test_fraction * len(persons)))
    n_test = min(n_test, max(0, len(persons) - 1)) if len(persons) > 1 else 0
    return {"test": sorted(order[:n_test]), "train": sorted(order[n_test:]), "all": persons}


def clip_indices(cache: Cache, split: str, seed: int = 0, test_fraction: float = 0.3,
                 test_persons: int | None = None) -> list[int]:
    """Indices of the clips of ``split`` (train, test or all)."""
    if split not in ("train", "test", "all"):
        raise CacheError(f"unknown split {split!r}: use train, test or all")
    keep = set(split_persons(cache.persons, seed, test_fraction, test_persons)[split])
    idx = [i for i, c in enumerate(cache.clips) if c["person"] in keep]
    if not idx:
        raise CacheError(f"{cache.root}: the {split!r} split has no clips "
                         f"({len(cache.persons)} people in the cache)")
    return idx


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(..., H, W, 3) uint8 -> (..., 3, H, W) float in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(frames)).float().div_(127.5).sub_(1.0)
    return t.movedim(-1, -3)


def to_image(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8: the inverse of :func:`to_tensor`."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


def _resize(frames: np.ndarray, lms: np.ndarray, size: int):
    h = frames.shape[-3]
    if h == size:
        return frames, lms
    s = size / h
    frames = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])
    return frames, (lms + 0.5) * s - 0.5


class TrainingClips(Dataset):
    """Random training samples from the clips of a split; ``len`` is a nominal epoch (frames in split)."""

    def __init__(self, cache: Cache, split: str = "train", T: int = 4, min_gap: int = 2, mirror: bool = True,
                 size: int | None = None, seed: int = 0, test_fraction: float = 0.3,
                 test_persons: int | None = None):
        self.cache, self.T, self.min_gap, self.mirror = cache, T, min_gap, mirror
        self.size, self.seed = size or cache.size, seed
        idx = clip_indices(cache, split, seed, test_fraction, test_persons)
        self.windows: list[np.ndarray] = []  # per usable clip: valid start frames
        self.clip_ids: list[int] = []
        for i in idx:
            fi = np.asarray(self._frame_index(i))
            n = len(fi)
            starts = np.array([s for s in range(n - T + 1) if fi[s + T - 1] - fi[s] == T - 1
                               and self._sources(n, s).size], dtype=np.int64)
            if starts.size:
                self.windows.append(starts)
                self.clip_ids.append(i)
        if not self.clip_ids:
            raise CacheError(f"{cache.root}: no clip of the {split!r} split has {T} consecutive frames "
                             f"plus a source frame {min_gap} frames away")
        self.nominal = int(sum(len(w) for w in self.windows))

    def _frame_index(self, i):
        return self.cache.clip(i).frame_index

    def _sources(self, n: int, start: int) -> np.ndarray:
        j = np.arange(n)
        ok = (np.abs(j - start) >= self.min_gap) & ((j < start) | (j >= start + self.T))
        return j[ok]

    def __len__(self) -> int:
        return self.nominal

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, int(index)])
        k = int(rng.integers(len(self.clip_ids)))
        clip = self.cache.clip(self.clip_ids[k])
        start = int(rng.choice(self.windows[k]))
        src = int(rng.choice(self._sources(len(clip), start)))
        idx = [src] + list(range(start, start + self.T))
        frames, lms = _resize(clip.frames(idx), clip.landmarks[idx], self.size)
        if self.mirror and rng.random() < 0.5:
            frames = frames[:, :, ::-1]
            lms = mirror_points(lms, self.size)
        frames = to_tensor(frames)
        lms = torch.from_numpy(np.ascontiguousarray(lms, dtype=np.float32))
        return {"source": frames[0], "source_landmarks": lms[0], "frames": frames[1:], "landmarks": lms[1:],
                "source_index": src, "start": start, "clip": self.clip_ids[k]}


class EvalClips(Dataset):
    """Whole clips of a split: the first frame is the source, every frame is a target."""

    def __init__(self, cache: Cache, split: str = "test", size: int | None = None, seed: int = 0,
                 test_fraction: float = 0.3, test_persons: int | None = None, max_frames: int | None = None):
        self.cache, self.size, self.max_frames = cache, size or cache.size, max_frames
        self.clip_ids = clip_indices(cache, split, seed, test_fraction, test_persons)

    def __len__(self) -> int:
        return len(self.clip_ids)

    def __getitem__(self, i: int) -> dict:
        clip = self.cache.clip(self.clip_ids[i])
        n = len(clip) if self.max_frames is None else min(len(clip), self.max_frames)
        frames, lms = _resize(clip.frames(range(n)), clip.landmarks[:n], self.size)
        entry = self.cache.clips[self.clip_ids[i]]
        return {"frames": to_tensor(frames), "landmarks": torch.from_numpy(np.ascontiguousarray(lms, np.float32)),
                "clip_id": entry["clip_id"], "person": entry["person"], "fps": entry["fps"] or 25.0,
                "audio": entry["audio"]}
