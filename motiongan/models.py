"""One door for every shipped or saved model: the reserved names, the device, and the loading of a generator
(``--checkpoint``, ``--init-generator``) or a speech model (``--speech-model``). The command line, the web
page, evaluation, speech and training all load through here.

Generators by name (anything else is a checkpoint file, shard or folder):
- ``warp``: the landmark warp with no network (``motiongan.motion``);
- ``paper``: the paper-configuration generator of relay round 1 (``assets/paper/``, for the paper's rows);
- ``warp_cpu``: the newest CPU round of the warp generator (``assets/warp_cpu/``; round 4 passes the gate
  and keeps the teeth the warp shows, but runs at a quarter of the warp's speed for a small gain, so it is
  not the default; the next round starts from it with ``--init-generator warp_cpu``);
- ``default`` (or none): the best model by the gate on the fixed test people (:data:`DEFAULT`).

Speech models: ``default`` (or none) is the newest ``assets/speech-*.safetensors``; anything else a file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .assets import ASSETS
from .errors import ConfigError
from .options import option

if TYPE_CHECKING:  # loaded when a model is: the command line starts without torch
    from .inference.model import MotionGAN
    from .speech.model import SpeechModel

WARP = "warp"  # the landmark warp: no weights
GENERATORS = {WARP: None, "paper": ASSETS / "paper", "warp_cpu": ASSETS / "warp_cpu"}
DEFAULT = WARP  # docs/MODEL_CARD.md: warp_cpu passes the gate but costs 3.7x the time for a small gain
SHIPPED_SPEECH = "speech-*.safetensors"  # the newest file of this pattern in assets/ is the default speech model


def generator_source(name: str | None = None) -> str:
    """What a generator name stands for: ``warp``, a shipped folder, or the path as given."""
    name = DEFAULT if name in (None, "default") else str(name)
    if name in GENERATORS:
        return WARP if GENERATORS[name] is None else str(GENERATORS[name])
    return name


def is_name(name: str | None) -> bool:
    """Whether ``name`` is reserved (not a path to look for)."""
    return name in (None, "default") or name in GENERATORS


def load_generator(name: str | None = None, device: str | None = None, size: int = 128) -> MotionGAN:
    """The generator a name or a checkpoint stands for, on ``resolve_device(device)``; ``size``: the crop
    size of the landmark warp (a network has its own)."""
    from .inference.model import MotionGAN

    source, device = generator_source(name), resolve_device(device)
    if source == WARP:
        return MotionGAN.landmark_warp(device, size=size)
    return MotionGAN.from_checkpoint(source, device)


def generator_file(name: str) -> str:
    """The weights behind ``--init-generator``: a shipped name's folder or the path as given (the landmark
    warp has none)."""
    source = generator_source(name)
    if source == WARP:
        raise ConfigError(f"--init-generator {name}: the landmark warp has no weights to start from")
    return source


def load_speech_model(name: str | None = None) -> SpeechModel:
    """The shipped speech model (none, or ``default``) or a model file."""
    from .checkpoint import CheckpointError
    from .speech.model import SpeechModel

    if name is not None and str(name) != "default":
        return SpeechModel.from_checkpoint(name)
    found = sorted(ASSETS.glob(SHIPPED_SPEECH))
    if not found:
        raise CheckpointError(f"{ASSETS}: no speech model ships here; pass --speech-model PATH")
    return SpeechModel.from_checkpoint(found[-1])


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

    def load(self) -> MotionGAN:
        """The generator, on the device (see :func:`load_generator`)."""
        return load_generator(self.checkpoint, self.device)


@dataclass
class SpeechModelOptions:
    """Which speech model a command loads (its ``--speech-model`` flag)."""

    speech_model: str | None = option(None, "a speech model file (default: the shipped one)")

    def load(self) -> SpeechModel:
        return load_speech_model(self.speech_model)
