"""The training engine: device, DDP, seeding, optimisers, G_ema and the state to checkpoint. What one
iteration computes is the objective's (``objectives.py``), chosen by the configuration's ``model``.

With ``ema_kimg`` > 0 an exponential moving average of G's weights (StyleGAN's G_ema) is kept for the
export. Statistics stay on the device as tensors; the loop reads them only when it logs (no host sync
per step). What a checkpoint holds and how its tensors are named is :mod:`motiongan.checkpoint`'s
(:func:`~motiongan.checkpoint.training_tensors`).

With ``compile`` the objective's networks are compiled in place (``nn.Module.compile``: their calls go
through ``torch.compile``), so parameter names and checkpoints are those of eager training. Inductor's default
mode with static shapes: ``max-autotune`` benchmarks candidate kernels for every convolution and matrix
shape, minutes of compilation in a slot of a few minutes; CUDA graphs (``reduce-overhead``) remove launch
overhead, which is small beside a training step's large kernels, and keep their own memory pools. Under
DDP a compiled network's gradients are all-reduced after its whole backward (no overlap).
"""
from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from ..checkpoint import restore_training, training_tensors
from ..config import Config
from ..convention import LandmarkEncoder
from ..face.verification import Verification
from .objectives import Batch, MotionGANObjective, StarGANObjective

OBJECTIVES = {"motiongan": MotionGANObjective, "stargan": StarGANObjective}
COMPILE = {"dynamic": False}  # torch.compile's arguments when ``cfg.optimiser.compile``


class Trainer:
    def __init__(self, cfg: Config, device: torch.device | str = "cpu", distributed: bool = False,
                 verification: Verification | None = None):
        self.cfg, self.device = cfg, torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.encoder = LandmarkEncoder(cfg.model.image_size, cfg.model.sigma)
        torch.manual_seed(cfg.seed)  # identical initial weights on every rank
        kind = OBJECTIVES[cfg.model.model]
        self.nets: dict[str, nn.Module] = kind.networks(cfg)
        fmt = torch.channels_last if (self.cuda and cfg.optimiser.channels_last) else torch.contiguous_format
        for name, net in self.nets.items():
            net.to(self.device)
            if name != "Dv":
                net.to(memory_format=fmt)
        self.objective = kind(self, verification)
        o = cfg.optimiser
        self.opts = {n: torch.optim.Adam(m.parameters(), lr=o.lr, betas=(o.beta1, o.beta2), fused=self.cuda or None)
                     for n, m in self.nets.items()}
        self.G_ema = copy.deepcopy(self.nets["G"]).requires_grad_(False) if o.ema_kimg > 0 else None
        if o.compile:
            for name in kind.compiled:
                if name in self.nets:
                    self.nets[name].compile(**COMPILE)
        # DDP wrappers are used for the network's own update; the bare network inside another's loss
        self.wrapped = {n: DDP(m) if distributed else m for n, m in self.nets.items()}
        self.world = torch.distributed.get_world_size() if distributed else 1
        self.iteration = 0

    def autocast(self):
        if self.cuda and self.cfg.optimiser.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def batch(self, batch: dict) -> Batch:
        """A loader's batch on the device, with its heatmaps rendered there."""
        source, source_lms, real, lms = (batch[k].to(self.device, non_blocking=True)
                                         for k in ("source", "source_landmarks", "frames", "landmarks"))
        return Batch(source, source_lms, real, lms, self.encoder(source_lms), self.encoder(lms))

    def step(self, batch: dict) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One training iteration: the statistics (0-d tensors on the device) and the generated clips."""
        stats, fake = self.objective.step(self.batch(batch), self.iteration)
        self._update_ema()
        self.iteration += 1
        return stats, fake

    def init_generator(self, tensors: dict[str, torch.Tensor]) -> None:
        """Start G (and G_ema) from a generator export's weights; G trains in fp32."""
        for net in filter(None, (self.nets["G"], self.G_ema)):
            net.load_state_dict({k: v.float() for k, v in tensors.items()})

    @torch.no_grad()
    def _update_ema(self) -> None:
        """G_ema <- beta G_ema + (1 - beta) G, beta = 0.5 ** (batch / half-life in clips) (StyleGAN2-ADA)."""
        if self.G_ema is None:
            return
        o = self.cfg.optimiser
        seen = (self.iteration + 1) * o.batch * self.world
        half_life = min(o.ema_kimg * 1000, seen * o.ema_rampup) if o.ema_rampup else o.ema_kimg * 1000
        beta = 0.5 ** (o.batch * self.world / max(half_life, 1e-8))
        ema, cur = list(self.G_ema.parameters()), list(self.nets["G"].parameters())
        torch._foreach_lerp_(ema, cur, 1.0 - beta)

    @property
    def G_export(self) -> nn.Module:
        """The generator to ship: G_ema when kept, else G."""
        return self.G_ema if self.G_ema is not None else self.nets["G"]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Networks, optimiser moments, G_ema and the random state, as flat tensors for safetensors."""
        return training_tensors(self.nets, self.opts, self.G_ema, self.device if self.cuda else None)

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        restore_training(tensors, self.nets, self.opts, self.G_ema, self.device if self.cuda else None)
