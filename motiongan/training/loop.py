"""``motiongan train``: the training loop, one run folder per experiment (``stats.jsonl``, TensorBoard
events, samples, checkpoints). Resumes exactly: networks, optimisers, step and random state come from the
checkpoint, and sample ``i`` of the data is a pure function of (seed, i). Multi-GPU / multi-node with
PyTorch DistributedDataParallel under ``torchrun`` (rank and world size from its environment).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from ..checkpoint import Checkpoint, CheckpointError, latest_checkpoint, newest_intact_checkpoint, save_checkpoint
from ..config import Config
from ..data import Cache, ResidentClips, TrainingClips
from ..errors import ConfigError
from ..media import atomic_write_bytes, remove_stale_temporaries
from ..models import generator_file
from ..options import option
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


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``540s``, ``9m``, ``1.5h`` or ``1h30m``."""
    m = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text)
    if not text.strip() or not m or not any(m.groups()):
        raise ConfigError(f"duration {text!r}: expected e.g. 540s, 9m, 1h30m")
    h, mi, sec = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + sec


@dataclasses.dataclass
class TrainOptions:
    """How far one ``train`` command takes a run, and from where (the CLI's flags are made from these
    fields; what is trained is the :class:`~motiongan.config.Config`)."""

    steps: int | None = option(None, "train until this step (default: the config's)")
    resume: bool = option(False, "continue from the run folder's last checkpoint")
    time_budget: float | None = option(None, "stop cleanly (checkpoint + generator export) before this much wall "
                                             "time since the command started, e.g. 540s, 9m, 1h30m",
                                       parse=parse_duration, metavar="DURATION")
    init_generator: str | None = option(None, "start G from a generator export (a file, a shard or a folder of "
                                              "shards, or a shipped name: paper, warp_cpu); the discriminators "
                                              "start fresh (see d_warmup)", metavar="PATH")


def train(cfg: Config, data: str | Path, out: str | Path, options: TrainOptions | None = None, device: str = "cpu",
          progress: bool = True, started: float | None = None, now=time.monotonic, **changes) -> Trainer:
    """Train ``cfg`` on the prepared cache ``data`` into the run folder ``out`` until ``options.steps``, or
    until ``options.time_budget`` seconds after ``started`` (a ``time.monotonic()`` reading; default: now)
    would be exceeded by the steps to the next vote plus a checkpoint: the ranks decide together after the
    run's first two steps and at logging steps only, so the budget costs no host sync per step. ``changes``:
    fields of the options given as keywords (``train(cfg, data, out, steps=4)``). ``now``: the clock the budget
    and the time-based checkpoints read (a test drives its own, so that no result races the machine's speed)."""
    o = dataclasses.replace(options or TrainOptions(), **changes)
    clock = _Clock(now() if started is None else started, o.time_budget, now)
    out = Path(out)
    rank, world, device = _setup_distributed(device)
    stop = o.steps if o.steps is not None else cfg.schedule.steps
    cache = Cache(data)  # inputs are checked before anything is built or written
    trainer, resumed_from = _start(cfg, out, device, world, o, stop)
    if rank == 0:
        _open_run(cfg, out, trainer.iteration, resumed_from)
    batches = _batches(trainer, cache, StepBatches(trainer.iteration, stop, cfg.optimiser.batch, rank, world))
    writer = _tensorboard(out) if rank == 0 else None
    bar = tqdm(total=stop, initial=trainer.iteration, desc=f"train {cfg.name}", unit="step",
               disable=not progress or rank != 0)
    t0, n0, first_step_at = time.perf_counter(), trainer.iteration, None
    for batch in batches:
        stats, fake = trainer.step(batch)
        bar.update(1)
        s = trainer.iteration
        first_step_at = first_step_at or clock.since_start()
        logging = s % cfg.schedule.log_every == 0 or s == stop
        if logging:
            stats = {k: float(v) for k, v in stats.items()}  # the only host sync
        if rank == 0 and logging:
            rate = (s - n0) / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix(loss=f"{stats.get('G/total', stats.get('D/wgan', 0)):.3f}", steps_per_s=f"{rate:.2f}")
            _log(out, writer, {"step": s, "steps_per_s": rate, "time": time.time(), "elapsed_s": clock.since_start(),
                               **stats})
        if rank == 0 and (s % cfg.schedule.sample_every == 0 or s == stop):
            _write_samples(batch, fake, out / "samples", s, writer)
        out_of_time = clock.out_of_time(trainer, s - n0, s, cfg.schedule.log_every, world)
        if s % cfg.schedule.checkpoint_every == 0 or s == stop or out_of_time or clock.checkpoint_due(logging, cfg):
            clock.timed_save(lambda: _checkpoint(trainer, cfg, out, rank))
        if out_of_time:
            break
    bar.close()
    if rank == 0:
        if o.time_budget is not None and trainer.iteration > n0:
            _write_samples(batch, fake, out / "samples", trainer.iteration, writer)
        _log(out, None, {"event": "end", "step": trainer.iteration, "steps_this_run": trainer.iteration - n0,
                         "time_budget_s": o.time_budget, "elapsed_s": clock.since_start(),
                         "first_step_s": first_step_at, "device": str(trainer.device),
                         "data_on_device": trainer.cuda and cfg.data.device_data, "world": world,
                         "init_generator": str(o.init_generator) if o.init_generator else None})
    if writer:
        writer.close()
    if world > 1:
        dist.barrier()
    return trainer


def _open_run(cfg: Config, out: Path, step: int, resumed_from: Path | None) -> None:
    """The run folder made or resumed: a killed run's temporaries removed, the steps after the checkpoint
    dropped from ``stats.jsonl`` (they are logged again), ``config.json`` written."""
    out.mkdir(parents=True, exist_ok=True)
    stale = [p for folder in (out, out / "samples") for p in remove_stale_temporaries(folder)]
    if resumed_from is not None:
        dropped = _forget_stats_after(out / "stats.jsonl", step)
        print(f"resuming from {resumed_from.name} (step {step})"
              + (f"; removed {len(stale)} temporary file(s) of a killed run" if stale else "")
              + (f"; {dropped} logged step(s) after it will be logged again" if dropped else ""), file=sys.stderr)
    atomic_write_bytes(out / "config.json", json.dumps(json.loads(cfg.to_json()), indent=1).encode())


class _Clock:
    """Wall time of a run: the time budget (counted from ``started``) and the time-based checkpoints."""

    def __init__(self, started: float, budget: float | None, now=time.monotonic):
        self.started, self.budget, self.now = started, budget, now
        self.loop_start = self.last_save = now()
        self.first_step_end, self.save_cost = None, 0.0

    def since_start(self) -> float:
        return self.now() - self.started

    def out_of_time(self, trainer: Trainer, done: int, step: int, log_every: int, world: int) -> bool:
        """Whether the ranks agree that the steps to the next vote and a checkpoint would pass the budget
        (they vote after this run's first two steps and at logging steps only: no host sync per step)."""
        if self.budget is None or not _votes(done, step, log_every):
            return False
        if trainer.cuda:
            torch.cuda.synchronize(trainer.device)  # the clock reads the work done, not the work queued
        now = self.now()
        if done == 1:  # the first step holds the warm-up (and any compilation): the rate comes from later ones
            self.first_step_end, per_step = now, now - self.loop_start
        else:
            per_step = (now - self.first_step_end) / (done - 1)
        left = self.budget - (now - self.started)
        return _everyone(_no_time_left(left, per_step, _steps_to_next_vote(done, step, log_every), self.save_cost),
                         trainer.device, world)

    def checkpoint_due(self, logging: bool, cfg: Config) -> bool:
        """At a logging step, ``cfg.schedule.checkpoint_minutes`` after the last checkpoint."""
        minutes = cfg.schedule.checkpoint_minutes
        return logging and minutes > 0 and self.now() - self.last_save >= 60 * minutes

    def timed_save(self, save) -> None:
        t = self.now()
        save()
        self.last_save = self.now()
        self.save_cost = max(self.save_cost, self.last_save - t)


def _start(cfg: Config, out: Path, device: str, world: int, o: TrainOptions,
           stop: int) -> tuple[Trainer, Path | None]:
    """The trainer, resumed from the run's newest intact checkpoint (returned too) or with G from an export;
    every check comes before the networks are built."""
    init, ckpt = None, None
    if o.resume:
        ckpt = newest_intact_checkpoint(out)
        if not ckpt.config.trains_like(cfg):
            raise CheckpointError(f"{ckpt.path}: trained with another configuration; resume with the run's "
                                  "config.json")
        if stop <= ckpt.step:
            raise ConfigError(f"{ckpt.path}: the run is already at step {ckpt.step}; pass --steps above it")
    elif latest_checkpoint(out) is not None:
        raise CheckpointError(f"{out}: already holds a run; pass --resume or choose another --out")
    elif o.init_generator is not None:
        init = _init_weights(generator_file(o.init_generator), cfg)
    trainer = Trainer(cfg, device, distributed=world > 1)
    if ckpt is not None:
        trainer.load_state_dict(ckpt.tensors)
        trainer.iteration = ckpt.step
    elif init is not None:
        trainer.init_generator(init)
    return trainer, ckpt.path if ckpt is not None else None


def _batches(trainer: Trainer, cache: Cache, sampler: StepBatches):
    """The training batches of the sampler's steps: from GPU-resident clips, or a DataLoader."""
    cfg, d = trainer.cfg, trainer.cfg.data
    dataset = TrainingClips(cache, "train", T=d.T, min_gap=d.min_gap, mirror=d.mirror, size=cfg.model.image_size,
                            seed=cfg.seed, people=cfg.people, person_power=d.person_power,
                            closed_source=d.closed_source)
    if trainer.cuda and d.device_data:
        resident = ResidentClips(dataset, trainer.device)
        return (resident.batch(idx) for idx in sampler)
    # its own generator: starting an iterator draws a seed, which must not come from the global generator
    # that a checkpoint restores (WGAN-GP draws its interpolates from it, so a resumed run would diverge)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=d.workers, pin_memory=trainer.cuda,
                      persistent_workers=False, generator=torch.Generator())


def _tensorboard(out: Path):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(out / "tensorboard"))


def _forget_stats_after(path: Path, step: int) -> int:
    """Drop the records of steps after ``step`` from ``stats.jsonl`` (the resumed run logs them again, so
    each step appears once) and a last line cut short by a kill; returns how many step records went."""
    if not path.exists():
        return 0
    keep, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("step", 0) > step:
            dropped += "event" not in record
            continue
        keep.append(line + "\n")
    atomic_write_bytes(path, "".join(keep).encode())
    return dropped


def _log(out: Path, writer, record: dict) -> None:
    with open(out / "stats.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    if writer is not None and "step" in record and "event" not in record:
        for k, v in record.items():
            if k not in ("step", "steps_per_s", "time", "elapsed_s"):
                writer.add_scalar(k, v, record["step"])


def _votes(done: int, step: int, log_every: int) -> bool:
    """Whether the ranks decide on the time budget after ``step`` (``done`` steps into this run): after
    the run's first two steps and at logging steps, whose statistics sync the host anyway."""
    return done <= 2 or step % log_every == 0


def _steps_to_next_vote(done: int, step: int, log_every: int) -> int:
    """Steps from ``step`` to the next vote."""
    return 1 if done == 1 else log_every - step % log_every


def _no_time_left(left: float, per_step: float, steps: int, save_cost: float) -> bool:
    """Whether ``steps`` more steps (to the next vote, at ``per_step`` seconds) and a checkpoint would not fit."""
    return left < per_step * steps + 2 * save_cost + 5


def _everyone(flag: bool, device, world: int) -> bool:
    """True on every rank when it is true on any (so that all ranks stop at the same step)."""
    if world <= 1:
        return flag
    t = torch.tensor([flag], device=device, dtype=torch.int32)
    dist.all_reduce(t)
    return bool(t.item())


# a warp G's settings that decide only where it paints: a round may start from an export with others
WHERE_PAINTED = ("stretch", "skip", "eyes", "mask_bias")


def _init_weights(path: str | Path, cfg: Config) -> dict[str, torch.Tensor]:
    """G's weights from an export or a training checkpoint (one file or shards), checked against ``cfg``'s
    generator (settings in :data:`WHERE_PAINTED` may differ)."""
    theirs = Checkpoint.read(path)
    ours = cfg.generator_kwargs()
    same = lambda kwargs: {k: v for k, v in kwargs.items() if k not in WHERE_PAINTED}  # noqa: E731
    if same(theirs.config.generator_kwargs()) != same(ours):
        raise CheckpointError(f"{path}: its generator {theirs.config.generator_kwargs()} differs from the "
                              f"configuration's {ours}")
    return theirs.generator_tensors


def _checkpoint(trainer: Trainer, cfg: Config, out: Path, rank: int) -> None:
    if rank == 0:
        save_checkpoint(out, trainer.state_dict(), trainer.G_export, cfg.to_json(), trainer.iteration)


def _write_samples(batch: dict, fake: torch.Tensor, folder: Path, step: int, writer) -> None:
    """source | target | generated for the first clip of the batch: a PNG strip and TensorBoard (no ffmpeg
    needed, so a bare GPU machine can train)."""
    from ..convention import to_image
    from ..media import write_image

    folder.mkdir(parents=True, exist_ok=True)
    src, real = to_image(batch["source"][0]), batch["frames"][0]
    rows = [np.concatenate([src, to_image(real[t]), to_image(fake[0, t])], 1) for t in range(real.shape[0])]
    write_image(folder / f"{step:08d}.png", np.concatenate(rows, 0))
    if writer is not None:
        writer.add_image("samples/source|target|generated", np.concatenate(rows, 0), step, dataformats="HWC")
