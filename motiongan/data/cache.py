"""The prepared-data cache: one ``.npz`` file per clip plus a ``manifest.json``.

Each clip file holds its frames as JPEG bytes (quality 95 at 128 x 128: about 6 KB a frame, a tenth of
raw pixels, decoded in ~0.1 ms), the landmarks in crop coordinates, the crop boxes in the original frames,
the original frame indices and a JSON metadata string. One file per clip keeps a clip's frames together
(a training sample reads T + 1 frames of one clip), and a file is complete or absent: it is written to a
temporary name and renamed.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from ..errors import MotionGANError
from ..media import atomic_write_file

FORMAT_VERSION = 1


class CacheError(MotionGANError):
    """A cache that is missing, incomplete or of another version; the message names it."""


def encode_jpeg(rgb: np.ndarray, quality: int = 95) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def decode_jpeg(data: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def write_clip(path: Path, frames: Iterable[np.ndarray], landmarks: np.ndarray, boxes: np.ndarray,
               frame_index: np.ndarray, meta: dict, quality: int = 95, labels: list[str] | None = None) -> None:
    """Write one clip atomically (temporary name, then rename). Each frame is encoded as it comes, so a
    generator of frames keeps one decoded frame in memory, and the clip's JPEG bytes once."""
    jpeg, offsets = bytearray(), [0]
    for f in frames:
        jpeg += encode_jpeg(f, quality)
        offsets.append(len(jpeg))
    arrays = {"jpeg": np.frombuffer(jpeg, np.uint8), "offsets": np.array(offsets, np.int64),
              "landmarks": landmarks.astype(np.float32), "boxes": boxes.astype(np.float32),
              "frame_index": frame_index.astype(np.int64), "labels": np.array(labels or [""] * (len(offsets) - 1)),
              "meta": np.array(json.dumps({**meta, "format": FORMAT_VERSION}))}
    atomic_write_file(path, lambda f: np.savez(f, **arrays))


class ClipFile:
    """One prepared clip: ``len(clip)`` frames, ``clip.frame(i)`` RGB uint8, ``clip.landmarks`` (T, 68, 2)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            with np.load(self.path) as z:
                self.jpeg = z["jpeg"]
                self.offsets = z["offsets"]
                self.landmarks = z["landmarks"]
                self.boxes = z["boxes"]
                self.frame_index = z["frame_index"]
                self.labels = [str(x) for x in z["labels"]]
                self.meta = json.loads(str(z["meta"]))
        except (OSError, ValueError, KeyError) as e:
            raise CacheError(f"{self.path}: not a readable clip file ({e})") from None

    def __len__(self) -> int:
        return len(self.landmarks)

    def frame(self, i: int) -> np.ndarray:
        return decode_jpeg(self.jpeg[self.offsets[i]: self.offsets[i + 1]])

    def frames(self, idx) -> np.ndarray:
        return np.stack([self.frame(int(i)) for i in idx])


class Cache:
    """A prepared cache folder: its manifest, and its clips opened on demand (a few kept open)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        manifest = self.root / "manifest.json"
        if not manifest.is_file():
            raise CacheError(f"{self.root}: not a prepared cache (no manifest.json); run 'motiongan prepare'")
        self.manifest = json.loads(manifest.read_text())
        if self.manifest.get("format") != FORMAT_VERSION:
            raise CacheError(f"{manifest}: cache format {self.manifest.get('format')}, expected {FORMAT_VERSION}")
        self.clips = self.manifest["clips"]
        self.size = int(self.manifest["settings"]["size"])
        self._open = lru_cache(maxsize=64)(lambda name: ClipFile(self.root / "clips" / name))

    @property
    def persons(self) -> list[str]:
        return sorted({c["person"] for c in self.clips})

    def clip(self, i: int) -> ClipFile:
        return self._open(self.clips[i]["file"])

    def __getstate__(self):  # DataLoader workers re-open files themselves
        return {"root": self.root}

    def __setstate__(self, state):
        self.__init__(state["root"])
