"""Checkpoints as safetensors: loading never runs code.

A training checkpoint holds the networks, the optimisers' state and the random state, with the
configuration and step in the header's metadata; a generator export holds only G (optionally fp16).
Files are written to a temporary name and renamed.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import MotionGANError
from .media import temporary_name


class CheckpointError(MotionGANError):
    """A checkpoint that is missing, unsafe, or of another configuration; the message names the file."""


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


def optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    sd = opt.state_dict()
    out = {}
    for pid, state in sd["state"].items():
        for k, v in state.items():
            out[f"{prefix}.{pid}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return out


def load_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    sd = opt.state_dict()
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        if key.startswith(prefix + "."):
            pid, name = key[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(pid), {})[name] = v
    sd["state"] = state
    opt.load_state_dict(sd)
    # a fused Adam needs its moments in each parameter's own layout (channels-last on CUDA, say)
    params = [p for g in opt.param_groups for p in g["params"]]
    for p in params:
        for k, v in opt.state.get(p, {}).items():
            if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                opt.state[p][k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


def save_generator(path: str | os.PathLike, generator: torch.nn.Module, config_json: str, step: int,
                   half: bool = False, shard_mb: float | None = None) -> list[Path]:
    """Export G alone (what inference needs): its weights, optionally in fp16, and in the metadata its
    constructor arguments (``generator``), the configuration and the step; optionally in shards of at most
    ``shard_mb`` MiB named ``STEM-00001-of-0000N.safetensors`` (for size-limited transfers and repos)."""
    path = Path(path)
    tensors = {k: (v.half() if half and v.is_floating_point() else v) for k, v in generator.state_dict().items()}
    meta = {"kind": "generator", "generator": json.dumps(generator.kwargs, sort_keys=True), "config": config_json,
            "step": str(step)}
    if not shard_mb:
        save_tensors(path, tensors, meta)
        return [path]
    limit, shards, current, size = shard_mb * 2**20, [], {}, 0
    for k, v in tensors.items():
        n = v.numel() * v.element_size()
        if current and size + n > limit:
            shards.append(current)
            current, size = {}, 0
        current[k] = v
        size += n
    shards.append(current)
    out = []
    for i, shard in enumerate(shards, 1):
        p = path.with_name(f"{path.stem}-{i:05d}-of-{len(shards):05d}.safetensors")
        save_tensors(p, shard, meta)
        out.append(p)
    return out


def shards_of(path: str | os.PathLike) -> list[Path]:
    """The files of a checkpoint: the file itself, or all shards when given one shard or their folder."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*-of-*.safetensors"))
        if not found:
            raise CheckpointError(f"{path}: a folder without checkpoint shards (*-00001-of-0000N.safetensors)")
        return found
    m = re.fullmatch(r"(.*)-(\d{5})-of-(\d{5})\.safetensors", path.name)
    if not m:
        return [path]
    files = [path.with_name(f"{m.group(1)}-{i:05d}-of-{m.group(3)}.safetensors") for i in range(1, int(m.group(3)) + 1)]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise CheckpointError(f"{path}: shards missing: {', '.join(missing)}")
    return files


def load_sharded(path: str | os.PathLike, device: str = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata of a checkpoint that may be split in shards."""
    tensors, meta = {}, None
    for f in shards_of(path):
        t, m = load_tensors(f, device)
        if meta is not None and m.get("config") != meta.get("config"):
            raise CheckpointError(f"{f}: a shard of another checkpoint")
        tensors.update(t)
        meta = m
    return tensors, meta
