"""Checkpoints as safetensors: loading never runs code.

A training checkpoint holds the networks, the optimisers' state and the random state, with the
configuration and step in the header's metadata; a generator export holds only G (optionally fp16).
Files are written to a temporary name and renamed.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


class CheckpointError(ValueError):
    """A checkpoint that is missing, unsafe, or of another configuration; the message names the file."""


def _check_safetensors(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    with open(path, "rb") as f:
        head = f.read(8)
        if head[:2] == b"PK" or head[:1] == b"\x80":
            raise CheckpointError(f"{path}: a pickled (torch.save) file; refusing to load it because unpickling "
                                  "can run arbitrary code. Convert it to safetensors.")
        if len(head) < 8:
            raise CheckpointError(f"{path}: not a safetensors checkpoint (file too short)")
        (n,) = struct.unpack("<Q", head)
        try:
            header = json.loads(f.read(n)) if n < 100_000_000 else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            header = None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a safetensors checkpoint")
    return header.get("__metadata__", {})


def read_metadata(path: str | os.PathLike) -> dict:
    """The metadata of a checkpoint: ``kind``, ``config`` (JSON text), ``step``."""
    return _check_safetensors(Path(path))


def load_tensors(path: str | os.PathLike, device: str = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    path = Path(path)
    meta = _check_safetensors(path)
    return load_file(str(path), device=device), meta


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=meta)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


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


def save_generator(path: str | os.PathLike, generator: torch.nn.Module, config_json: str, step: int,
                   half: bool = False) -> None:
    """Export G alone (what inference needs), optionally in fp16."""
    tensors = {k: (v.half() if half and v.is_floating_point() else v) for k, v in generator.state_dict().items()}
    save_tensors(path, tensors, {"kind": "generator", "config": config_json, "step": str(step)})
