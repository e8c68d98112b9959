"""A trained generator ready to generate frames, one at a time with its recurrent state carried; it loads
from and exports to safetensors files that describe themselves (no training code needed; the format is
:mod:`motiongan.checkpoint`'s)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from ..checkpoint import Checkpoint, CheckpointError, save_generator
from ..config import Config
from ..convention import LandmarkEncoder
from ..errors import ConfigError
from ..landmarks import check_points
from ..networks import LandmarkWarp, build_generator

# the output face size of a warp generator when none is asked for: its motion renders the photo's own
# pixels at any size, and 128 px shown in a photo is blurry (benchmarks/resampling.py: Laplacian sharpness
# 0.29 of the real face's at 256 px, 0.99 when warped at 256)
WARP_OUTPUT = 256


@dataclass(frozen=True)
class GeneratorSpec:
    """What inference needs of a generator's settings (not the training configuration): the crop size it
    generates, the heatmaps' Gaussian (eq. 1's landmark maps), and the settings its file recorded, written back
    unchanged on export."""

    size: int
    sigma: float
    recorded: str = "{}"

    @classmethod
    def of(cls, config: Config) -> "GeneratorSpec":
        return cls(config.model.image_size, config.model.sigma, config.to_json())


class MotionGAN:
    """``MotionGAN.from_checkpoint(path)``; ``model.generate(source, source_lms, targets)`` yields frames;
    ``model.export(path)`` writes G alone. ``spec``: a :class:`GeneratorSpec` (or a ``Config``, read once)."""

    def __init__(self, generator: torch.nn.Module, spec: GeneratorSpec | Config, device: str = "cpu",
                 name: str = "model", step: int = 0):
        spec = spec if isinstance(spec, GeneratorSpec) else GeneratorSpec.of(spec)
        self.G, self.spec, self.device, self.name = generator.to(device).eval(), spec, torch.device(device), name
        self.size, self.step = spec.size, step
        self.encoder = LandmarkEncoder(self.size, spec.sigma)
        # the output size when none is asked for (animate --size): WARP_OUTPUT for a warp generator
        self.default_output = max(self.size, WARP_OUTPUT) if getattr(self.G, "warps", False) else self.size

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> "MotionGAN":
        """Load G from a training checkpoint or a generator export (safetensors; never runs code); a
        sharded export is given by any of its shards or its folder. G is built from the constructor
        arguments the export records, or (older files) from its configuration."""
        path = Path(path)
        ckpt = Checkpoint.read(path)
        G = build_generator(ckpt.generator_kwargs)
        try:
            G.load_state_dict({k: v.float() for k, v in ckpt.generator_tensors.items()})
        except RuntimeError as e:
            first = str(e).strip().splitlines()[0]
            raise CheckpointError(f"{path}: its weights do not fit its configuration {ckpt.config.name!r} "
                                  f"({first})") from None
        return cls(G, GeneratorSpec.of(ckpt.config), device, name=_row_name(path), step=ckpt.step)

    @classmethod
    def landmark_warp(cls, device: str = "cpu", size: int = 128) -> "MotionGAN":
        """The landmark warp with no network (``--checkpoint warp``): the source's own pixels moved by the
        thin-plate spline of its landmarks onto the target's (``motiongan.motion``)."""
        return cls(LandmarkWarp(), Config(name="warp", generator="warp", image_size=size), device,
                   name="landmark warp")  # its file records the warp's settings

    def export(self, path: str | Path, half: bool = False, shard_mb: float | None = None) -> list[Path]:
        """Write G alone (optionally fp16, optionally in shards), loadable by :meth:`from_checkpoint`."""
        return save_generator(path, self.G, self.spec.recorded, self.step, half=half, shard_mb=shard_mb)

    def maps(self, points) -> torch.Tensor:
        pts = torch.as_tensor(np.asarray(points, np.float32), device=self.device)
        return self.encoder(pts.reshape(-1, 68, 2))

    @torch.no_grad()
    def generate(self, source: torch.Tensor, source_landmarks, targets: Iterable,
                 fast: bool = True, compile: bool = False,
                 detail: torch.Tensor | None = None) -> Iterator[torch.Tensor]:
        """Frames (3, H, W) in [-1, 1], one per target (68, 2) landmark set, in crop coordinates.

        ``source``: (3, H, W) in [-1, 1] at the model's size. The recurrent state is carried, so memory
        stays flat for a video of any length. ``fast`` uses :class:`Streamer`, which computes what is
        the same for every frame once (same output up to float rounding); ``compile`` runs it through
        torch.compile (seconds to compile once; faster per frame on long videos). ``detail``: the same
        source crop at a higher resolution (3, H', W'); a warp generator then returns frames at that
        resolution (its motion warps the detail; its paint is upsampled). The paper's G cannot.
        """
        if tuple(source.shape) != (3, self.size, self.size):
            raise ValueError(f"source must be (3, {self.size}, {self.size}), got {tuple(source.shape)}")
        check_points(source_landmarks, "source landmarks")
        s = source.to(self.device)[None]
        sm = self.maps(source_landmarks)
        if getattr(self.G, "warps", False):
            yield from self._generate_warped(s, sm, source_landmarks, targets, detail)
            return
        if detail is not None:
            raise ConfigError(f"{self.name}: the paper's generator synthesises every pixel at its own size "
                              f"({self.size} px); only a warp generator renders at a higher resolution")
        if fast:
            from .streaming import Streamer

            stream = Streamer(self.G, s, sm, self.encoder, backend="compile" if compile else "eager")
            for t in targets:
                yield stream.step(torch.as_tensor(check_points(t, "target landmarks"), device=self.device)[None])[0]
            return
        state = None
        for t in targets:
            frame, state = self.G.step(s, sm, self.maps(check_points(t, "target landmarks")), state)
            yield frame[0]


    def _generate_warped(self, s, sm, source_landmarks, targets, detail=None) -> Iterator[torch.Tensor]:
        """A warp G's frames: it also takes the landmark points (and a detail crop of the source)."""
        sl = torch.as_tensor(np.asarray(source_landmarks, np.float32), device=self.device)[None]
        hr = None if detail is None else detail.to(self.device)[None]
        state = None
        for t in targets:
            tl = torch.as_tensor(check_points(t, "target landmarks"), device=self.device)[None]
            frame, state = self.G.step(s, sm, self.encoder(tl), state, source_lms=sl, target_lms=tl, detail=hr)
            yield frame[0]


def _row_name(path: Path) -> str:
    """A run folder's name for its checkpoints, else the file's own name."""
    return path.parent.name if (path.parent / "config.json").exists() else path.stem
