"""``motiongan train``: the training loop, one run folder per experiment (``stats.jsonl``, TensorBoard
events, samples, checkpoints). Resumes exactly: networks, optimisers, step and random state come from the
checkpoint, and sample ``i`` of the data is a pure function of (seed, i). Multi-GPU / multi-node with
PyTorch DistributedDataParallel under ``torchrun`` (rank and world size from its environment).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from ..data import Cache, TrainingClips
from .checkpoint import CheckpointError, load_tensors, save_generator, save_tensors
from .config import Config
from .trainer import Trainer


class StepBatches(Sampler):
    """Batches of sample indices for steps ``start..stop``: step s, rank r reads samples
    ``(s * world + r) * batch + j``, so a resumed run continues the exact sequence."""

    def __init__(self, start: int, stop: int, batch: int, rank: int = 0, world: int = 1):
        self.start, self.stop, self.batch, self.rank, self.world = start, stop, batch, rank, world

    def __iter__(self):
        for s in range(self.start, self.stop):
            base = (s * self.world + self.rank) * self.batch
            yield list(range(base, base + self.batch))

    def __len__(self):
        return self.stop - self.start


def latest_checkpoint(run: Path) -> Path | None:
    ckpts = sorted(run.glob("checkpoint-*.safetensors"))
    return ckpts[-1] if ckpts else None


def _setup_distributed(device: str):
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1, device
    backend = "nccl" if device.startswith("cuda") else "gloo"
    dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    if device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    return rank, world, device


def train(cfg: Config, data: str | Path, out: str | Path, device: str = "cpu", resume: bool = False,
          steps: int | None = None, progress: bool = True) -> Trainer:
    """Train ``cfg`` on the prepared cache ``data`` into the run folder ``out`` until ``steps``."""
    out = Path(out)
    rank, world, device = _setup_distributed(device)
    stop = steps if steps is not None else cfg.steps
    trainer = Trainer(cfg, device, distributed=world > 1)
    if resume:
        ckpt = latest_checkpoint(out)
        if ckpt is None:
            raise CheckpointError(f"{out}: nothing to resume (no checkpoint-*.safetensors)")
        tensors, meta = load_tensors(ckpt)
        if json.loads(meta["config"]) != json.loads(cfg.to_json()):
            raise CheckpointError(f"{ckpt}: trained with another configuration; resume with the run's config.json")
        trainer.load_tensors(tensors)
        trainer.step = int(meta["step"])
    elif rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        if latest_checkpoint(out) is not None:
            raise CheckpointError(f"{out}: already holds a run; pass --resume or choose another --out")
    if rank == 0:
        (out / "config.json").write_text(json.dumps(json.loads(cfg.to_json()), indent=1))
    dataset = TrainingClips(Cache(data), "train", T=cfg.T, min_gap=cfg.min_gap, mirror=cfg.mirror,
                            size=cfg.image_size, seed=cfg.seed, test_fraction=cfg.test_fraction,
                            test_persons=cfg.test_persons)
    loader = DataLoader(dataset, batch_sampler=StepBatches(trainer.step, stop, cfg.batch, rank, world),
                        num_workers=cfg.workers, pin_memory=trainer.cuda, persistent_workers=False)
    writer = None
    if rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tensorboard"))
    bar = tqdm(total=stop, initial=trainer.step, desc=f"train {cfg.name}", unit="step",
               disable=not progress or rank != 0)
    t0, n0 = time.perf_counter(), trainer.step
    for batch in loader:
        trainer.set_input(batch)
        stats = trainer.optimize()
        bar.update(1)
        s = trainer.step
        if rank == 0 and (s % cfg.log_every == 0 or s == stop):
            rate = (s - n0) / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix(loss=f"{stats.get('G/total', stats.get('D/wgan', 0)):.3f}", steps_per_s=f"{rate:.2f}")
            record = {"step": s, "steps_per_s": rate, "time": time.time(), **stats}
            with open(out / "stats.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
            for k, v in stats.items():
                writer.add_scalar(k, v, s)
        if rank == 0 and (s % cfg.sample_every == 0 or s == stop):
            _write_samples(trainer, out / "samples", s, writer)
        if s % cfg.checkpoint_every == 0 or s == stop:
            _checkpoint(trainer, cfg, out, rank)
    bar.close()
    if writer:
        writer.close()
    if world > 1:
        dist.barrier()
    return trainer


def _checkpoint(trainer: Trainer, cfg: Config, out: Path, rank: int) -> None:
    if rank != 0:
        return
    meta = {"kind": "training", "config": cfg.to_json(), "step": str(trainer.step)}
    save_tensors(out / f"checkpoint-{trainer.step:08d}.safetensors", trainer.tensors(), meta)
    save_generator(out / "generator.safetensors", trainer.nets["G"], cfg.to_json(), trainer.step)
    for old in sorted(out.glob("checkpoint-*.safetensors"))[:-2]:  # keep the last two
        old.unlink()


def _write_samples(trainer: Trainer, folder: Path, step: int, writer) -> None:
    """source | target | generated for the first clip of the batch: a PNG strip, an MP4, TensorBoard."""
    from ..data.dataset import to_image
    from ..media import VideoWriter, write_image

    folder.mkdir(parents=True, exist_ok=True)
    src = to_image(trainer.source[0])
    rows = [np.concatenate([src, to_image(trainer.real[0, t]), to_image(trainer.fake[0, t])], 1)
            for t in range(trainer.real.shape[1])]
    write_image(folder / f"{step:08d}.png", np.concatenate(rows, 0))
    with VideoWriter(folder / f"{step:08d}.mp4", fps=5) as vw:
        for r in rows:
            vw.write(r)
    if writer is not None:
        writer.add_image("samples/source|target|generated", np.concatenate(rows, 0), step, dataformats="HWC")
