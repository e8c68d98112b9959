"""``motiongan pack``: a smaller cache that travels (to a GPU machine with an upload limit, say).

Keeps the clips of one split (by default the training people of the fixed test list), at most
``max_frames_per_person`` frames of each person (clips drawn in a seeded order; the clip that would pass
the cap is cut to a contiguous segment at a seeded place, so another seed gives another subset of a
long-recorded person), and re-encodes the frames at ``quality``. The result is
an ordinary prepared cache: ``train --data PACK`` reads it as it reads any other.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..media import atomic_write_bytes
from ..options import option
from .cache import FORMAT_VERSION, Cache, CacheError, write_clip
from .dataset import clip_indices
from .split import SplitOptions


@dataclass
class PackOptions(SplitOptions):
    """What ``pack`` keeps and how it re-encodes it (the CLI's flags are made from these fields)."""

    seed: int = option(0, "which clips a capped person keeps, and the random split's seed")
    split: str = option("train", "which people to keep", choices=["train", "test", "all"])
    quality: int = option(90, "JPEG quality of the packed frames")
    max_frames_per_person: int | None = option(None, "keep whole clips of each person up to this many frames")


def pack(src: str | Path, out: str | Path, options: PackOptions | None = None, progress: bool = True) -> dict:
    """Write the packed cache ``out`` from the prepared cache ``src``; returns its manifest."""
    o = options or PackOptions()
    cache, out = Cache(src), Path(out)
    if out.resolve() == cache.root.resolve():
        raise CacheError(f"{out}: the pack must go to another folder than its source")
    if not 1 <= o.quality <= 100:
        raise CacheError(f"quality {o.quality}: expected 1..100")
    chosen = select_frames(cache, clip_indices(cache, o.split, o), o.max_frames_per_person, o.seed)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "clips").mkdir(parents=True)
    entries = []
    for i, (a, b) in tqdm(chosen, desc=f"pack {out.name}", unit="clip", disable=not progress):
        clip, entry = cache.clip(i), dict(cache.clips[i])
        frames = (clip.frame(j) for j in range(a, b))
        write_clip(tmp / "clips" / entry["file"], frames, clip.landmarks[a:b], clip.boxes[a:b],
                   clip.frame_index[a:b], clip.meta, o.quality, clip.labels[a:b])
        entry["frames"] = b - a
        entries.append(entry)
    settings = {**cache.manifest["settings"], "quality": o.quality}
    manifest = {"format": FORMAT_VERSION, "settings": settings, "clips": entries,
                "persons": sorted({e["person"] for e in entries}), "frames": int(sum(e["frames"] for e in entries)),
                "failed": [], "skipped": [],
                "packed_from": {"cache": str(cache.root), **asdict(o)}}
    atomic_write_bytes(tmp / "manifest.json", json.dumps(manifest, indent=1).encode())
    atomic_write_bytes(tmp / "settings.json", json.dumps(settings).encode())
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return manifest


def select_frames(cache: Cache, idx: list[int], max_frames_per_person: int | None,
                  seed: int = 0) -> list[tuple[int, tuple[int, int]]]:
    """(clip, (first, end)) ranges: each person's clips in a seeded order until ``max_frames_per_person``
    frames, the last one cut to a contiguous segment at a seeded place."""
    if not max_frames_per_person:
        return [(i, (0, cache.clips[i]["frames"])) for i in idx]
    by_person: dict[str, list[int]] = {}
    for i in idx:
        by_person.setdefault(cache.clips[i]["person"], []).append(i)
    keep = []
    for person, clips in sorted(by_person.items()):
        rng = np.random.default_rng([seed, *person.encode()])
        left = max_frames_per_person
        for j in rng.permutation(len(clips)):
            if left <= 0:
                break
            n = cache.clips[clips[j]]["frames"]
            take = min(n, left)
            a = int(rng.integers(n - take + 1))
            keep.append((clips[j], (a, a + take)))
            left -= take
    return sorted(keep)
