"""A trained generator ready to generate frames, one at a time with its recurrent state carried."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from ..landmarks import check_points, heatmaps
from ..networks import Generator
from ..training.checkpoint import CheckpointError, load_sharded
from ..training.config import Config


class MotionGAN:
    """``MotionGAN.from_checkpoint(path)``; ``model.generate(source, source_lms, targets)`` yields frames."""

    def __init__(self, generator: Generator, config: Config, device: str = "cpu", name: str = "model",
                 step: int = 0):
        self.G, self.config, self.device, self.name = generator.to(device).eval(), config, torch.device(device), name
        self.size, self.step = config.image_size, step

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> "MotionGAN":
        """Load G from a training checkpoint or a generator export (safetensors; never runs code); a
        sharded export is given by any of its shards or its folder."""
        path = Path(path)
        tensors, meta = load_sharded(path)
        if "config" not in meta:
            raise CheckpointError(f"{path}: not a MotionGAN checkpoint (no configuration in its metadata)")
        cfg = Config.from_json(meta["config"])
        if meta.get("kind") == "training":
            tensors = {k[2:]: v for k, v in tensors.items() if k.startswith("G.")}
        G = Generator(**cfg.generator_kwargs())
        try:
            G.load_state_dict({k: v.float() for k, v in tensors.items()})
        except RuntimeError as e:
            first = str(e).strip().splitlines()[0]
            raise CheckpointError(f"{path}: its weights do not fit its configuration {cfg.name!r} ({first})") from None
        return cls(G, cfg, device, name=_row_name(path, cfg), step=int(meta.get("step", 0)))

    def maps(self, points) -> torch.Tensor:
        pts = torch.as_tensor(np.asarray(points, np.float32), device=self.device)
        return heatmaps(pts.reshape(-1, 68, 2), self.size, self.config.sigma)

    @torch.no_grad()
    def generate(self, source: torch.Tensor, source_landmarks, targets: Iterable,
                 fast: bool = True, compile: bool = False) -> Iterator[torch.Tensor]:
        """Frames (3, H, W) in [-1, 1], one per target (68, 2) landmark set, in crop coordinates.

        ``source``: (3, H, W) in [-1, 1] at the model's size. The recurrent state is carried, so memory
        stays flat for a video of any length. ``fast`` uses :class:`Streamer`, which computes what is
        the same for every frame once (same output up to float rounding); ``compile`` runs it through
        torch.compile (seconds to compile once; faster per frame on long videos).
        """
        if tuple(source.shape) != (3, self.size, self.size):
            raise ValueError(f"source must be (3, {self.size}, {self.size}), got {tuple(source.shape)}")
        check_points(source_landmarks, "source landmarks")
        s = source.to(self.device)[None]
        sm = self.maps(source_landmarks)
        if fast:
            from .streaming import Streamer

            stream = Streamer(self.G, s, sm, self.config.sigma, backend="compile" if compile else "eager")
            for t in targets:
                yield stream.step(torch.as_tensor(check_points(t, "target landmarks"), device=self.device)[None])[0]
            return
        state = None
        for t in targets:
            frame, state = self.G.step(s, sm, self.maps(check_points(t, "target landmarks")), state)
            yield frame[0]


def _row_name(path: Path, cfg: Config) -> str:
    """A run folder's name for its checkpoints, else the file's own name."""
    return path.parent.name if (path.parent / "config.json").exists() else path.stem


