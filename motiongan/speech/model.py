"""The speech-to-landmarks network and its safetensors file.

:class:`SpeechNet` maps a window of log-mel frames (+-``context`` hops of 10 ms around a video frame's
time) to the canonical displacements of the mouth and jaw points from a neutral face, in inter-ocular
units (:mod:`motiongan.speech.canonical`). :class:`SpeechModel` holds the network with the canonical
template, the two baselines fitted on the same training split and an output scale fitted on the validation
split (predictions are pulled towards the training mean by it), and predicts a track for a recording at any
frame rate. Files are safetensors with the constructor's configuration in the header; never pickle.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..checkpoint import (
    META_CONFIG,
    META_KIND,
    SPEECH_KIND,
    CheckpointError,
    load_tensors,
    prefixed,
    save_tensors,
    unprefixed,
)
from .audio import N_MELS, Speech
from .canonical import MOUTH_AND_JAW

SMOOTH_SECONDS = 0.03  # temporal smoothing of predictions (Gaussian sigma)


class SpeechNet(nn.Module):
    """1-D convolutions over the time axis of a log-mel window, then a small MLP."""

    def __init__(self, n_mels: int = N_MELS, context: int = 20, n_points: int = len(MOUTH_AND_JAW),
                 width: int = 96, hidden: int = 192, dropout: float = 0.1):
        super().__init__()
        self.config = dict(n_mels=n_mels, context=context, n_points=n_points, width=width, hidden=hidden,
                           dropout=dropout)
        self.conv = nn.Sequential(
            nn.Conv1d(n_mels, width, 3, padding=1), nn.GELU(),
            nn.Conv1d(width, width, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv1d(width, width, 3, stride=2, padding=1), nn.GELU(),
        )
        steps = 2 * context + 1
        for _ in range(2):
            steps = (steps - 1) // 2 + 1
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(width * steps, hidden), nn.GELU(),
                                  nn.Linear(hidden, n_points * 2))
        self.n_points = n_points

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, 2 * context + 1, n_mels) -> (B, n_points, 2)."""
        return self.head(self.conv(windows.transpose(1, 2))).view(-1, self.n_points, 2)


class SpeechModel:
    """A trained :class:`SpeechNet` with its template, baselines and output scale: the network's displacement
    ``d`` is used as ``mean + scale * (d - mean)`` (``mean``: the training mean displacement; scale 1 leaves it
    as it is, 0 gives the mean track). ``SpeechModel.from_checkpoint(path)`` (the shipped one:
    :func:`motiongan.models.load_speech_model`); ``model.export(path)``."""

    def __init__(self, net: SpeechNet, template: np.ndarray, baselines: dict[str, np.ndarray],
                 info: dict | None = None, scale: float = 1.0):
        self.net, self.template = net.eval(), np.asarray(template, np.float32)
        self.baselines, self.info, self.scale = baselines, info or {}, float(scale)
        self.context = net.config["context"]

    # ------------------------------------------------------------------------------------------ io
    def export(self, path: str | os.PathLike) -> list[Path]:
        """Write the model to one safetensors file, loadable by :meth:`from_checkpoint`; returns it."""
        tensors = prefixed("net", {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()})
        tensors["template"] = torch.from_numpy(self.template)
        tensors.update(prefixed("baseline", {k: torch.from_numpy(np.asarray(v, np.float32))
                                             for k, v in self.baselines.items()}))
        save_tensors(path, tensors, {META_KIND: SPEECH_KIND, META_CONFIG: json.dumps(self.net.config),
                                     "info": json.dumps(self.info), "scale": repr(self.scale)})
        return [Path(path)]

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> "SpeechModel":
        """A model file written by :meth:`export` (safetensors; never runs code)."""
        path = Path(path)
        tensors, meta = load_tensors(path)
        if meta.get(META_KIND) != SPEECH_KIND:
            raise CheckpointError(f"{path}: not a MotionGAN speech model (kind {meta.get(META_KIND)!r})")
        net = SpeechNet(**json.loads(meta[META_CONFIG]))
        try:
            net.load_state_dict({k: v.float() for k, v in unprefixed("net", tensors).items()})
        except RuntimeError as e:
            raise CheckpointError(f"{path}: weights do not fit its configuration ({str(e).splitlines()[0]})") from None
        baselines = {k: v.numpy() for k, v in unprefixed("baseline", tensors).items()}
        return cls(net, tensors["template"].numpy(), baselines, json.loads(meta.get("info", "{}")),
                   float(meta.get("scale", 1.0)))

    # ------------------------------------------------------------------------------------- predict
    @torch.no_grad()
    def displacements(self, speech: Speech, fps: float, n_frames: int | None = None, chunk: int = 2048,
                      smooth: bool = True, scale: float | None = None) -> np.ndarray:
        """(T, 68, 2) canonical displacements from the neutral face, one per video frame (mouth and jaw
        predicted, the other points still); ``scale``: instead of the model's own."""
        n = n_frames or speech.n_frames(fps)
        scale = self.scale if scale is None else scale
        mean = self.baselines["mean"]
        out = np.zeros((n, 68, 2), np.float32)
        for s in range(0, n, chunk):
            w = torch.from_numpy(speech.windows(n, fps, self.context, s, s + chunk))
            out[s:s + chunk, MOUTH_AND_JAW] = mean + scale * (self.net(w).numpy() - mean)
        if smooth and n > 1:
            from scipy.ndimage import gaussian_filter1d

            out = gaussian_filter1d(out, SMOOTH_SECONDS * fps, axis=0, mode="nearest").astype(np.float32)
        return out

    def baseline(self, name: str, speech: Speech, fps: float, n_frames: int | None = None) -> np.ndarray:
        """Displacements of a baseline that needs no network: ``mean`` (the training mean, every frame) or
        ``loudness`` (a per-coordinate straight line in the frame's standardised loudness, fitted by least
        squares on the training split)."""
        n = n_frames or speech.n_frames(fps)
        out = np.zeros((n, 68, 2), np.float32)
        if name == "mean":
            out[:, MOUTH_AND_JAW] = self.baselines["mean"]
        elif name == "loudness":
            e = standardised(speech.frame_energy(n, fps))
            out[:, MOUTH_AND_JAW] = self.baselines["loud_a"][None] + e[:, None, None] * self.baselines["loud_b"][None]
        else:
            raise ValueError(f"unknown baseline {name!r}")
        return out


def standardised(x: np.ndarray) -> np.ndarray:
    return ((x - x.mean()) / (x.std() + 1e-6)).astype(np.float32)

