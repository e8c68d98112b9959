"""Datasets over a prepared cache (paper section 4.1).

Training samples are ``(s, l, f_1..T, l_1..T)``: T consecutive target frames of one clip and a source
frame of the same clip that is at least ``min_gap`` frames from the first target and outside the targets;
mirrored with probability 1/2 (landmark indices permuted). With probability ``closed_source`` the source is
drawn from the quarter of those frames whose mouth is least open, as a user's photo usually is (a warp G
paints only where the target opens wider than the source; measured, it made warp_cpu worse: model card).
Sampling is balanced by person: a person is drawn with probability proportional to ``n_p ** person_power``
(``n_p``: the person's usable windows; 0 = every person equally often, 1 = every window equally often),
then one of their clips in proportion to its windows, then a window. Sample ``i`` is a pure function of
``(seed, i)``, so a resumed run reads exactly the samples it would have read, whether the frames come from
the cache files (:class:`TrainingClips`, for DataLoader workers) or from the training device's memory
(:class:`ResidentClips`). Who the test people are is a :class:`~.split.SplitOptions` (default: the
fixed test list). Heatmaps are not stored: the trainer renders them on its device.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..convention import to_tensor
from ..landmarks import INNER_MOUTH, mirror_points, opening
from .cache import Cache, CacheError
from .split import SplitOptions


def clip_indices(cache: Cache, split: str, people: SplitOptions | None = None) -> list[int]:
    """Indices of the clips of ``split`` (train, test or all) when ``people`` (default: the fixed test list)
    says who the test people are."""
    people = people or SplitOptions()
    if split not in ("train", "test", "all"):
        raise CacheError(f"unknown split {split!r}: use train, test or all")
    keep = set(people.split_persons(cache.persons)[split])
    idx = [i for i, c in enumerate(cache.clips) if c["person"] in keep]
    if not idx:
        listed = people.test_list not in (None, "none") and split == "test"
        hint = (f"; none of its people is on the test list {people.test_list!r}: use a random split (test list "
                "'none') for your own data" if listed else "")
        raise CacheError(f"{cache.root}: the {split!r} split has no clips "
                         f"({len(cache.persons)} people in the cache){hint}")
    return idx


def _resize(frames: np.ndarray, lms: np.ndarray, size: int):
    h = frames.shape[-3]
    if h == size:
        return frames, lms
    s = size / h
    frames = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])
    return frames, (lms + 0.5) * s - 0.5


class TrainingClips(Dataset):
    """Random training samples from the clips of a split; ``len`` is a nominal epoch (windows in split)."""

    def __init__(self, cache: Cache, split: str = "train", T: int = 4, min_gap: int = 2, mirror: bool = True,
                 size: int | None = None, seed: int = 0, people: SplitOptions | None = None,
                 person_power: float = 0.0, closed_source: float = 0.0):
        self.cache, self.T, self.min_gap, self.mirror = cache, T, min_gap, mirror
        self.closed_source = closed_source
        self.size, self.seed = size or cache.size, seed
        idx = clip_indices(cache, split, people)
        self.windows: list[np.ndarray] = []  # per usable clip: valid start frames
        self.clip_ids: list[int] = []
        self.lengths: list[int] = []
        self.mouth: list[np.ndarray] = []  # per usable clip: each frame's inner-mouth opening
        for i in idx:
            fi = np.asarray(self._frame_index(i))
            n = len(fi)
            s = np.arange(max(n - T + 1, 0))
            # T consecutive original frames, and a source frame min_gap away outside the window
            ok = (fi[s + T - 1] - fi[s] == T - 1) & ((s - min_gap >= 0) | (s + max(T, min_gap) <= n - 1))
            starts = s[ok].astype(np.int64)
            if starts.size:
                self.windows.append(starts)
                self.clip_ids.append(i)
                self.lengths.append(n)
                self.mouth.append(opening(np.asarray(cache.clip(i).landmarks, np.float64), INNER_MOUTH)
                                  if closed_source > 0 else np.zeros(n))
        if not self.clip_ids:
            raise CacheError(f"{cache.root}: no clip of the {split!r} split has {T} consecutive frames "
                             f"plus a source frame {min_gap} frames away")
        owner = [cache.clips[i]["person"] for i in self.clip_ids]
        self.persons = sorted(set(owner))
        self.person_clips = [[k for k, o in enumerate(owner) if o == p] for p in self.persons]
        counts = [np.array([len(self.windows[k]) for k in ks], np.float64) for ks in self.person_clips]
        self.clip_p = [c / c.sum() for c in counts]
        w = np.array([c.sum() for c in counts]) ** person_power
        self.person_p = w / w.sum()
        self.nominal = int(sum(len(w) for w in self.windows))

    def _frame_index(self, i):
        return self.cache.clip(i).frame_index

    def _sources(self, k: int, start: int, closed: bool) -> np.ndarray:
        j = np.arange(self.lengths[k])
        j = j[(np.abs(j - start) >= self.min_gap) & ((j < start) | (j >= start + self.T))]
        if closed:
            mouth = self.mouth[k][j]
            j = j[mouth <= np.quantile(mouth, 0.25)]
        return j

    def __len__(self) -> int:
        return self.nominal

    def plan(self, index: int) -> tuple[int, int, int, bool]:
        """Sample ``index`` as (usable clip k, source frame, first target frame, mirrored)."""
        rng = np.random.default_rng([self.seed, int(index)])
        p = int(rng.choice(len(self.persons), p=self.person_p))
        k = self.person_clips[p][int(rng.choice(len(self.person_clips[p]), p=self.clip_p[p]))]
        start = int(rng.choice(self.windows[k]))
        closed = self.closed_source > 0 and rng.random() < self.closed_source
        src = int(rng.choice(self._sources(k, start, closed)))
        return k, src, start, bool(self.mirror and rng.random() < 0.5)

    def __getitem__(self, index: int) -> dict:
        k, src, start, flip = self.plan(index)
        clip = self.cache.clip(self.clip_ids[k])
        idx = [src] + list(range(start, start + self.T))
        frames, lms = _resize(clip.frames(idx), clip.landmarks[idx], self.size)
        if flip:
            frames = frames[:, :, ::-1]
            lms = mirror_points(lms, self.size)
        frames = to_tensor(frames)
        lms = torch.from_numpy(np.ascontiguousarray(lms, dtype=np.float32))
        return {"source": frames[0], "source_landmarks": lms[0], "frames": frames[1:], "landmarks": lms[1:],
                "source_index": src, "start": start, "clip": self.clip_ids[k]}


class ResidentClips:
    """The frames of a :class:`TrainingClips` decoded once into one uint8 tensor on ``device`` (a GPU),
    so a batch is a gather on the device: the same samples as the dataset's, without loader workers."""

    def __init__(self, clips: TrainingClips, device: torch.device | str):
        self.clips, self.device = clips, torch.device(device)
        def decode(i):
            clip = clips.cache.clip(i)
            f, lm = _resize(clip.frames(range(len(clip))), clip.landmarks, clips.size)
            return f, lm.astype(np.float32)

        with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:  # OpenCV decodes without the GIL
            frames, lms = zip(*pool.map(decode, clips.clip_ids))
        self.base = np.cumsum([0] + [len(f) for f in frames])[:-1].tolist()
        self.frames = torch.from_numpy(np.concatenate(frames)).to(self.device)  # (N, H, W, 3) uint8
        self.landmarks = torch.from_numpy(np.concatenate(lms)).to(self.device)  # (N, 68, 2)

    @property
    def nbytes(self) -> int:
        return self.frames.numel() + self.landmarks.numel() * 4

    def batch(self, indices) -> dict:
        """The samples ``indices`` stacked: source (B, 3, H, W), frames (B, T, 3, H, W), landmarks."""
        T = self.clips.T
        plans = [self.clips.plan(i) for i in indices]
        ids = torch.tensor([[self.base[k] + src] + [self.base[k] + start + t for t in range(T)]
                            for k, src, start, _ in plans], device=self.device)
        flip = torch.tensor([p[3] for p in plans], device=self.device)
        f = self.frames[ids]  # (B, T + 1, H, W, 3)
        f = torch.where(flip[:, None, None, None, None], f.flip(3), f)
        lm = self.landmarks[ids]
        lm = torch.where(flip[:, None, None, None], mirror_points(lm, self.clips.size), lm)
        x = to_tensor(f)
        return {"source": x[:, 0], "source_landmarks": lm[:, 0], "frames": x[:, 1:], "landmarks": lm[:, 1:]}


class EvalClips(Dataset):
    """Whole clips of a split: the first frame is the source, every frame is a target."""

    def __init__(self, cache: Cache, split: str = "test", size: int | None = None, max_frames: int | None = None,
                 people: SplitOptions | None = None):
        self.cache, self.size, self.max_frames = cache, size or cache.size, max_frames
        self.clip_ids = clip_indices(cache, split, people)

    def __len__(self) -> int:
        return len(self.clip_ids)

    def __getitem__(self, i: int) -> dict:
        clip = self.cache.clip(self.clip_ids[i])
        n = len(clip) if self.max_frames is None else min(len(clip), self.max_frames)
        frames, lms = _resize(clip.frames(range(n)), clip.landmarks[:n], self.size)
        entry = self.cache.clips[self.clip_ids[i]]
        return {"frames": to_tensor(frames), "landmarks": torch.from_numpy(np.ascontiguousarray(lms, np.float32)),
                "clip_id": entry["clip_id"], "person": entry["person"], "fps": entry["fps"] or 25.0,
                "audio": entry["audio"], "index": i}

    def clip_id(self, i: int) -> str:
        return self.cache.clips[self.clip_ids[i]]["clip_id"]

    def after_window_count(self, i: int) -> int:
        """How many frames of clip ``i`` come after the scored window."""
        n = len(self.cache.clip(self.clip_ids[i]))
        return 0 if self.max_frames is None else max(0, n - self.max_frames)

    def after_window(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Clip ``i``'s frames AFTER the scored window (RGB uint8 (N, H, W, 3)), their landmarks (N, 68, 2)
        and their frame numbers in the clip: the same person's own frames, never a scored one (none when
        every frame is scored)."""
        clip = self.cache.clip(self.clip_ids[i])
        idx = np.arange(len(clip) - self.after_window_count(i), len(clip))
        if not len(idx):
            return np.zeros((0, self.size, self.size, 3), np.uint8), np.zeros((0, 68, 2), np.float32), idx
        frames, lms = _resize(clip.frames(idx), clip.landmarks[idx], self.size)
        return frames, lms.astype(np.float32), idx
