"""What the project ships (``motiongan/assets/``) and where it runs: the one home of model names, asset
paths and the device choice. No module needs the command line to find them.

Generators by name (``--checkpoint NAME``; anything else is a checkpoint file or folder):
- ``warp``: the landmark warp with no network (``motiongan.motion``);
- ``paper``: the paper-configuration generator of relay round 1 (``assets/paper/``, for the paper's rows);
- ``warp_cpu``: the newest CPU round of the warp generator (``assets/warp_cpu/``; round 4 passes the gate
  and keeps the teeth the warp shows, but runs at a quarter of the warp's speed for a small gain, so it is
  not the default; the next round starts from it with ``--init-generator motiongan/assets/warp_cpu``);
- ``default`` (or no ``--checkpoint``): the best model by the gate on the fixed test people (:data:`DEFAULT`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .options import option

ASSETS = Path(__file__).resolve().parent / "assets"
# None: no weights (the landmark warp)
NAMED = {"warp": None, "paper": ASSETS / "paper", "warp_cpu": ASSETS / "warp_cpu"}
DEFAULT = "warp"  # docs/MODEL_CARD.md: warp_cpu passes the gate but costs 3.7x the time for a small gain


def asset(name: str) -> Path:
    """A shipped file (``expressions.json``, ``demo_track.npy`` ...)."""
    return ASSETS / name


def generator_source(name: str | None = None) -> str:
    """What ``MotionGAN.load`` takes for ``--checkpoint`` NAME: a reserved name resolved, or the path as given."""
    if name in (None, "default"):
        name = DEFAULT
    if name in NAMED:
        return "warp" if NAMED[name] is None else str(NAMED[name])
    return str(name)


def load_generator(name: str | None = None, device: str | None = None):
    """The generator behind ``--checkpoint`` (a name above, or a checkpoint), on ``resolve_device(device)``."""
    from .inference.model import MotionGAN

    return MotionGAN.load(generator_source(name), resolve_device(device))


def resolve_device(name: str | None = None) -> str:
    """A device that exists here (default: cuda if available, else cpu)."""
    import torch

    if not name:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--device {name}: not a device (cpu, cuda, cuda:1, ...)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    if dev.type == "cuda" and (dev.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return name


@dataclass
class DeviceOptions:
    """Where a command runs (its ``--device`` flag is made from this field)."""

    device: str | None = option(None, "cpu, cuda, cuda:1 ... (default: cuda if available)")


@dataclass
class ModelOptions(DeviceOptions):
    """Which generator a command loads, and where (its ``--checkpoint`` and ``--device`` flags)."""

    checkpoint: str | None = option(None, "a checkpoint file or folder, or a shipped name: warp (the landmark "
                                          "warp, no network), paper (round 1 of the paper's G), warp_cpu (the "
                                          "newest CPU round of the warp G), default (the best; the default)")

    def load(self):
        """The generator, on the device (see :func:`load_generator`)."""
        return load_generator(self.checkpoint, self.device)
