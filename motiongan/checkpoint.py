"""The checkpoint format, in one place: safetensors files (loading never runs code) and run folders.

Every model file is safetensors with ``str -> str`` metadata in its header; every loader refuses a pickled
file. Files are written to a temporary name and renamed. Three kinds of file:

- a **training checkpoint** (metadata ``kind=training``, ``config``, ``step``, ``generator``): tensors
  ``<net>.<param>`` for each network (``G``, ``Df``, ``Dv``; ``D`` for StarGAN), ``opt.<net>.<id>.<state>``
  for each network's optimiser, ``G_ema.<param>`` when kept, ``rng.torch`` and (on CUDA) ``rng.cuda``;
- a **generator export** (``kind=generator``, ``config``, ``step``, ``generator``): G's own parameter names,
  optionally fp16, optionally in shards ``STEM-00001-of-0000N.safetensors``;
- a **speech model** (``kind=motiongan-speech``, see :mod:`motiongan.speech.model`).

``generator`` holds G's constructor arguments as JSON (with ``architecture``, see
:func:`motiongan.networks.build_generator`); files written before it build G from ``config``.
:class:`Checkpoint` reads G from a training checkpoint or an export alike.

A run folder holds ``checkpoint-%08d.safetensors`` (the last :data:`KEEP`) and ``generator.safetensors``
(G_ema when kept, else G): :func:`save_checkpoint` writes both and rotates; :func:`newest_intact_checkpoint`
finds what to resume from, passing over a damaged newer file.

Model classes share one vocabulary: ``from_checkpoint(path)`` reads a file, ``export(path)`` writes one and
``load(name_or_path)`` also takes a shipped model's name.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import Config
from .errors import MotionGANError
from .media import temporary_name
from .options import option

# header metadata: keys and kinds
META_KIND, META_CONFIG, META_STEP, META_GENERATOR = "kind", "config", "step", "generator"
TRAINING_KIND, GENERATOR_KIND, SPEECH_KIND = "training", "generator", "motiongan-speech"
# tensor names of a training checkpoint: G_NET is the generator's network name
G_NET, G_EMA, OPT, RNG_TORCH, RNG_CUDA = "G", "G_ema", "opt", "rng.torch", "rng.cuda"
# a run folder
CHECKPOINT_NAME = "checkpoint-{step:08d}.safetensors"
CHECKPOINT_GLOB = "checkpoint-*.safetensors"
GENERATOR_FILE = "generator.safetensors"
KEEP = 2  # training checkpoints kept in a run folder
_SHARD = re.compile(r"(.*)-(\d{5})-of-(\d{5})\.safetensors")


class CheckpointError(MotionGANError):
    """A checkpoint that is missing, unsafe, or of another configuration; the message names the file."""


def prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``{prefix.name: tensor}``."""
    return {f"{prefix}.{k}": v for k, v in tensors.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors named ``prefix.name``, as ``{name: tensor}``."""
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


# ------------------------------------------------------------------------------------------- files
def _check_safetensors(path: Path) -> dict:
    """The safetensors header's metadata, or a CheckpointError saying what the file is instead."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    size = path.stat().st_size
    header = None
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) == 8:
            (n,) = struct.unpack("<Q", head)
            if 0 < n <= size - 8:
                try:
                    header = json.loads(f.read(n))
                except (json.JSONDecodeError, UnicodeDecodeError):
                    header = None
    if isinstance(header, dict):
        return header.get("__metadata__", {})
    if head[:2] == b"PK" or head[:1] == b"\x80":
        raise CheckpointError(f"{path}: a pickled (torch.save) file; refusing to load it because unpickling "
                              "can run arbitrary code. Convert it to safetensors.")
    raise CheckpointError(f"{path}: not a safetensors checkpoint")


def load_tensors(path: str | os.PathLike, device: str = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors and metadata of one safetensors file."""
    path = Path(path)
    meta = _check_safetensors(path)
    try:
        return load_file(str(path), device=device), meta
    except SafetensorError as e:
        raise CheckpointError(f"{path}: a damaged or truncated safetensors file ({e})") from None


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    """Write a safetensors file atomically. safetensors writes a temporary file of its own beside its
    target, so both live in a temporary folder named after this process (which
    :func:`~motiongan.media.remove_stale_temporaries` recognises once the process is gone)."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp / path.name), metadata=meta)
        os.chmod(tmp / path.name, 0o644)
        os.replace(tmp / path.name, path)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be written ({e.strerror or e})") from None
    except SafetensorError as e:
        raise CheckpointError(f"{path}: cannot be written ({e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def shards_of(path: str | os.PathLike) -> list[Path]:
    """The files of a checkpoint: the file itself, or all shards when given one shard or their folder."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*-of-*.safetensors"))
        if not found:
            raise CheckpointError(f"{path}: a folder without checkpoint shards (*-00001-of-0000N.safetensors)")
        return found
    m = _SHARD.fullmatch(path.name)
    if not m:
        return [path]
    files = [_shard_name(path.with_name(m.group(1)), i, int(m.group(3))) for i in range(1, int(m.group(3)) + 1)]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise CheckpointError(f"{path}: shards missing: {', '.join(missing)}")
    return files


def _shard_name(stem: Path, i: int, n: int) -> Path:
    return stem.with_name(f"{stem.name}-{i:05d}-of-{n:05d}.safetensors")


def load_sharded(path: str | os.PathLike, device: str = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata of a checkpoint that may be split in shards."""
    tensors, meta = {}, None
    for f in shards_of(path):
        t, m = load_tensors(f, device)
        if meta is not None and m.get(META_CONFIG) != meta.get(META_CONFIG):
            raise CheckpointError(f"{f}: a shard of another checkpoint")
        tensors.update(t)
        meta = m
    return tensors, meta


# ------------------------------------------------------------------------------- training state
def optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """An optimiser's state as ``prefix.<param id>.<state>`` tensors."""
    sd = opt.state_dict()
    out = {}
    for pid, state in sd["state"].items():
        for k, v in state.items():
            out[f"{prefix}.{pid}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return out


def load_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    """Restore what :func:`optimizer_tensors` saved under ``prefix``."""
    sd = opt.state_dict()
    state: dict[int, dict] = {}
    for key, v in unprefixed(prefix, tensors).items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    sd["state"] = state
    opt.load_state_dict(sd)
    # a fused Adam needs its moments in each parameter's own layout (channels-last on CUDA, say)
    params = [p for g in opt.param_groups for p in g["params"]]
    for p in params:
        for k, v in opt.state.get(p, {}).items():
            if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                opt.state[p][k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


def training_tensors(nets: dict[str, torch.nn.Module], opts: dict[str, torch.optim.Optimizer],
                     ema: torch.nn.Module | None = None, cuda: torch.device | None = None) -> dict[str, torch.Tensor]:
    """A training checkpoint's tensors: the networks, their optimisers, G_ema when kept and the random state
    (``cuda``: the device whose generator is saved too)."""
    out = {}
    for n, m in nets.items():
        out.update(prefixed(n, m.state_dict()))
        out.update(optimizer_tensors(f"{OPT}.{n}", opts[n]))
    if ema is not None:
        out.update(prefixed(G_EMA, ema.state_dict()))
    out[RNG_TORCH] = torch.get_rng_state()
    if cuda is not None:
        out[RNG_CUDA] = torch.cuda.get_rng_state(cuda)
    return out


def restore_training(tensors: dict[str, torch.Tensor], nets: dict[str, torch.nn.Module],
                     opts: dict[str, torch.optim.Optimizer], ema: torch.nn.Module | None = None,
                     cuda: torch.device | None = None) -> None:
    """Load what :func:`training_tensors` saved (strictly) into the networks, optimisers, G_ema and the
    random state."""
    for n, m in nets.items():
        m.load_state_dict(unprefixed(n, tensors))
        load_optimizer(f"{OPT}.{n}", opts[n], tensors)
    if ema is not None:
        ema.load_state_dict(unprefixed(G_EMA, tensors))
    torch.set_rng_state(tensors[RNG_TORCH].cpu())
    if cuda is not None and RNG_CUDA in tensors:
        torch.cuda.set_rng_state(tensors[RNG_CUDA].cpu(), cuda)


# ------------------------------------------------------------------------------------- reading
@dataclass
class Checkpoint:
    """A MotionGAN checkpoint as read: a training checkpoint or a generator export (one file or shards)."""

    path: Path
    tensors: dict[str, torch.Tensor]
    meta: dict[str, str]

    @classmethod
    def read(cls, path: str | os.PathLike, device: str = "cpu") -> "Checkpoint":
        """A file, one shard of an export or the shards' folder; refused without a configuration or when
        of another kind (a speech model, say)."""
        path = Path(path)
        tensors, meta = load_sharded(path, device)
        if meta.get(META_KIND, TRAINING_KIND) not in (TRAINING_KIND, GENERATOR_KIND):
            raise CheckpointError(f"{path}: not a MotionGAN checkpoint (a {meta[META_KIND]!r} file)")
        if META_CONFIG not in meta:
            raise CheckpointError(f"{path}: not a MotionGAN checkpoint (no configuration in its metadata)")
        return cls(path, tensors, meta)

    @cached_property
    def config(self) -> Config:
        return Config.from_json(self.meta[META_CONFIG])

    @property
    def step(self) -> int:
        return int(self.meta.get(META_STEP, 0))

    @property
    def is_training(self) -> bool:
        return self.meta.get(META_KIND) == TRAINING_KIND

    @property
    def generator_tensors(self) -> dict[str, torch.Tensor]:
        """G's weights under its own parameter names (a training checkpoint's ``G.`` dropped)."""
        return unprefixed(G_NET, self.tensors) if self.is_training else self.tensors

    @property
    def generator_kwargs(self) -> dict:
        """G's constructor arguments: as recorded, or (files written before that) from the configuration."""
        return json.loads(self.meta[META_GENERATOR]) if META_GENERATOR in self.meta else self.config.generator_kwargs()


# ------------------------------------------------------------------------------------- writing
def _meta(kind: str, config_json: str, step: int, generator: torch.nn.Module | None = None) -> dict[str, str]:
    meta = {META_KIND: kind, META_CONFIG: config_json, META_STEP: str(step)}
    kwargs = getattr(generator, "kwargs", None)
    if kwargs is not None:
        meta[META_GENERATOR] = json.dumps(kwargs, sort_keys=True)
    return meta


@dataclass
class ExportOptions:
    """How a generator export is written (``motiongan export``'s flags are made from these fields)."""

    half: bool = option(False, "store weights in fp16")
    shard_mb: float | None = option(None, "at most this many MiB per file (shards STEM-0000i-of-0000n)")


def save_generator(path: str | os.PathLike, generator: torch.nn.Module, config_json: str, step: int,
                   half: bool = False, shard_mb: float | None = None) -> list[Path]:
    """Export G alone (what inference needs): its weights, optionally in fp16, and in the metadata its
    constructor arguments (``generator``), the configuration and the step; optionally in shards of at most
    ``shard_mb`` MiB named ``STEM-00001-of-0000N.safetensors`` (for size-limited transfers and repos)."""
    path = Path(path)
    tensors = {k: (v.half() if half and v.is_floating_point() else v) for k, v in generator.state_dict().items()}
    meta = _meta(GENERATOR_KIND, config_json, step, generator)
    if not shard_mb:
        save_tensors(path, tensors, meta)
        return [path]
    shards = _split(tensors, shard_mb * 2**20)
    out = [_shard_name(path.with_name(path.stem), i, len(shards)) for i in range(1, len(shards) + 1)]
    for p, shard in zip(out, shards):
        save_tensors(p, shard, meta)
    return out


def _split(tensors: dict[str, torch.Tensor], limit: float) -> list[dict[str, torch.Tensor]]:
    """The tensors in order, in groups of at most ``limit`` bytes (a larger tensor alone)."""
    shards, current, size = [], {}, 0
    for k, v in tensors.items():
        n = v.numel() * v.element_size()
        if current and size + n > limit:
            shards.append(current)
            current, size = {}, 0
        current[k] = v
        size += n
    shards.append(current)
    return shards


# ------------------------------------------------------------------------------------ run folders
def checkpoint_path(run: str | os.PathLike, step: int) -> Path:
    """A run's training checkpoint at ``step``."""
    return Path(run) / CHECKPOINT_NAME.format(step=step)


def generator_path(run: str | os.PathLike) -> Path:
    """A run's generator export (rewritten at every checkpoint)."""
    return Path(run) / GENERATOR_FILE


def checkpoints(run: str | os.PathLike) -> list[Path]:
    """A run's training checkpoints, oldest first."""
    return sorted(Path(run).glob(CHECKPOINT_GLOB))


def latest_checkpoint(run: str | os.PathLike) -> Path | None:
    found = checkpoints(run)
    return found[-1] if found else None


def rotate(run: str | os.PathLike, keep: int = KEEP) -> list[Path]:
    """Remove all but the newest ``keep`` training checkpoints; returns those removed."""
    old = checkpoints(run)[:-keep]
    for p in old:
        p.unlink()
    return old


def save_checkpoint(run: str | os.PathLike, tensors: dict[str, torch.Tensor], generator: torch.nn.Module,
                    config_json: str, step: int) -> Path:
    """Write a run's training checkpoint at ``step`` (``tensors``: :func:`training_tensors`) and its
    generator export (``generator``: what ships, G_ema when kept), then keep the last :data:`KEEP`."""
    path = checkpoint_path(run, step)
    save_tensors(path, tensors, _meta(TRAINING_KIND, config_json, step, generator))
    save_generator(generator_path(run), generator, config_json, step)
    rotate(run)
    return path


def newest_intact_checkpoint(run: str | os.PathLike) -> Checkpoint:
    """The newest training checkpoint of a run that loads; a damaged newer one is reported and passed over."""
    found = checkpoints(run)[::-1]
    if not found:
        raise CheckpointError(f"{run}: nothing to resume (no {CHECKPOINT_GLOB})")
    for i, path in enumerate(found):
        try:
            return Checkpoint.read(path)
        except CheckpointError as e:
            if i == len(found) - 1:
                raise
            print(f"{e}; resuming from {found[i + 1].name} instead", file=sys.stderr)
