"""``motiongan train-speech``: fit the speech-to-landmarks network on the training split, on CPU.

Examples are (log-mel window, canonical mouth-and-jaw displacement) pairs, one per video frame of every
training clip (:mod:`motiongan.speech.data`). The two baselines (training mean; least-squares line in
loudness) are fitted on the same frames and stored in the model file for the evaluation. The output scale
is then fitted on the validation speakers and sentences together (:func:`~.evaluate.fit_scale`), and the
validation figures are stored in the file's info.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, MotionGANError
from ..landmarks import to_canonical
from ..options import option
from .audio import Speech
from .canonical import MOUTH_AND_JAW, fit_template, neutral
from .data import TRAIN, VALID_GROUPS, VALIDATION, Clip, ClipRef, find_clips, load_clips
from .evaluate import evaluate_clips, fit_amplitude, fit_scale
from .model import SpeechModel, SpeechNet, standardised


def clip_targets(clip: Clip, template: np.ndarray) -> tuple[Speech, np.ndarray, np.ndarray, int]:
    """A clip's speech features, canonical track (T, 68, 2), neutral face and usable frame count."""
    speech = Speech.from_wave(clip.wave)
    canon = to_canonical(clip.track, template)
    n = min(len(canon), speech.n_frames(clip.fps))
    return speech, canon[:n], neutral(canon[:n]), n


def examples(clips: list[Clip], template: np.ndarray, context: int):
    """Stacked windows (N, 2c+1, mels), displacements (N, P, 2), standardised loudness (N,) and person (N,)."""
    xs, ys, es, ps = [], [], [], []
    people = sorted({c.ref.person for c in clips})
    for clip in clips:
        speech, canon, neu, n = clip_targets(clip, template)
        xs.append(speech.windows(n, clip.fps, context))
        ys.append((canon - neu)[:, MOUTH_AND_JAW])
        es.append(standardised(speech.frame_energy(n, clip.fps)))
        ps.append(np.full(n, people.index(clip.ref.person)))
    return np.concatenate(xs), np.concatenate(ys).astype(np.float32), np.concatenate(es), np.concatenate(ps)


def augment(x: torch.Tensor, warp: int, stretch: float = 0.0) -> torch.Tensor:
    """Another speaker, roughly: the mel axis shifted by up to ``warp`` bands (a longer or shorter vocal
    tract), the window's time axis stretched about its centre by a factor within 1 +- ``stretch`` (a faster
    or slower talker), plus feature noise and one masked band of up to 5 mels (SpecAugment)."""
    b, t, m = x.shape
    if stretch:
        rate = 1 + (2 * torch.rand(b, 1) - 1) * stretch
        rows = ((t - 1) / 2 + (torch.arange(t)[None] - (t - 1) / 2) * rate).round().long().clamp(0, t - 1)
        x = torch.gather(x, 1, rows[:, :, None].expand(-1, -1, m))
    shift = torch.randint(-warp, warp + 1, (b,))
    idx = (torch.arange(m)[None] - shift[:, None]).clamp(0, m - 1)  # (B, M), edges repeated
    x = torch.gather(x, 2, idx[:, None, :].expand(-1, x.shape[1], -1))
    lo = torch.randint(0, m, (b, 1))
    width = torch.randint(0, 6, (b, 1))
    band = (torch.arange(m)[None] >= lo) & (torch.arange(m)[None] < lo + width)
    return x.masked_fill(band[:, None, :], 0.0) + 0.1 * torch.randn_like(x)


def fit_baselines(y: np.ndarray, e: np.ndarray) -> dict[str, np.ndarray]:
    """Training mean displacement, and the least-squares line ``a + b * loudness`` per coordinate."""
    design = np.stack([np.ones_like(e), e], 1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, y.reshape(len(y), -1).astype(np.float64), rcond=None)
    return {"mean": y.mean(0), "loud_a": coef[0].reshape(y.shape[1:]), "loud_b": coef[1].reshape(y.shape[1:])}


@dataclass
class SpeechTrainOptions:
    """How ``train-speech`` fits the network (the CLI's flags are made from these fields)."""

    epochs: int = option(10, "passes over the training frames")
    batch: int = option(128, "frames per step")
    lr: float = option(2e-3, "peak learning rate (one-cycle schedule, AdamW)")
    seed: int = option(0, "seed of the initial weights, the frame order and the augmentation")
    balance: float = option(0.0, "draw frames with weight (frames of their person)^-BALANCE (0: uniform, "
                                 "1: per person)")
    loss: str = option("mse", "regression loss", choices=["mse", "smooth-l1"])
    warp: int = option(3, "augmentation: shift the mel axis by up to this many bands")
    stretch: float = option(0.2, "augmentation: stretch the window's time axis by a factor within 1 +- this")
    weight_decay: float = option(1e-4, "AdamW weight decay")
    calibrate: bool = option(True, "fit the output scale on the validation speakers and sentences",
                             negative="keep the output scale at 1")
    calibrate_by: str = option("amplitude", "what the output scale is fitted for: amplitude (the predicted mouth "
                                            "opening varies as much as the real one, averaged over the validation "
                                            "groups; as shipped) or error (the least mouth error, which favours a "
                                            "mouth that barely moves)", choices=["amplitude", "error"])
    workers: int = option(2, "processes that read and track the clips")

    def __post_init__(self):
        for name in ("epochs", "batch", "workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"must be at least 1, got {getattr(self, name)}", path="--" + name)
        if not self.lr > 0:
            raise ConfigError(f"must be positive, got {self.lr:g}", path="--lr")
        for name in ("warp", "stretch", "weight_decay"):
            if getattr(self, name) < 0:
                raise ConfigError(f"must not be negative, got {getattr(self, name):g}",
                                  path="--" + name.replace("_", "-"))


def train_speech(data: str | os.PathLike, out: str | os.PathLike, tracks: str | os.PathLike,
                 options: SpeechTrainOptions | None = None, progress: bool = True, command: str = "") -> SpeechModel:
    """Train on the training split of ``data`` and save the model to ``out`` (safetensors)."""
    t0 = time.time()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: one thread is several times faster than two fighting
    try:
        return _train(data, out, tracks, options or SpeechTrainOptions(), progress, command, t0)
    finally:
        torch.set_num_threads(threads)


def training_refs(data: str | os.PathLike) -> list[ClipRef]:
    """The training and validation clips of ``data``; refuses a folder without training clips."""
    if not Path(data).is_dir():
        raise MotionGANError("no such folder", path=data)
    refs = [r for r in find_clips(data) if r.split in (TRAIN, *VALID_GROUPS)]
    if not any(r.split == TRAIN for r in refs):
        raise MotionGANError("no training clips with audio (a folder laid out like ../shared/data: grid_s1/s1, "
                             "voxceleb/PERSON, hdtf, mead, talking)", path=data)
    return refs


def _train(data, out, tracks, o: SpeechTrainOptions, progress, command, t0) -> SpeechModel:
    seed, batch, warp, loss_name = o.seed, o.batch, o.warp, o.loss
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    loaded = load_clips(training_refs(data), tracks, o.workers, progress)
    clips = [c for c in loaded if c.ref.split == TRAIN]
    valid = [c for c in loaded if c.ref.split in VALID_GROUPS]
    if not clips:
        raise MotionGANError("no training clip has a face that could be tracked", path=data)
    template = fit_template([c.track for c in clips])
    net = SpeechNet()
    x, y, e, person = examples(clips, template, net.config["context"])
    # frames are drawn with weight frames_of_person ** -balance: GRID s1 alone has more than half of them
    weight = np.bincount(person)[person].astype(np.float64) ** -o.balance
    weight /= weight.sum()
    baselines = fit_baselines(y, e)
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.AdamW(net.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    steps = o.epochs * (len(x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, o.lr, total_steps=steps)
    from tqdm import tqdm

    bar = tqdm(total=steps, unit="step", desc="train-speech", disable=not progress)
    net.train()
    for _ in range(o.epochs):
        order = torch.from_numpy(rng.choice(len(x), len(x), p=weight))
        for i in range(len(x) // batch):
            idx = order[i * batch:(i + 1) * batch]
            xb = augment(x_t[idx], warp, o.stretch)
            pred = net(xb)
            loss = (torch.nn.functional.mse_loss(pred, y_t[idx]) if loss_name == "mse"
                    else torch.nn.functional.smooth_l1_loss(pred, y_t[idx], beta=0.02))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.4f}")
    bar.close()
    people = sorted({c.ref.person for c in clips})
    info = {"command": command, "clips": len(clips), "frames": int(len(x)), "people": len(people),
            "options": {k: v for k, v in vars(o).items() if k != "workers"},
            "data": "GRID s1 (train sentences) and clips with audio of voxceleb, hdtf, mead, talking "
                    "(training people; validation people apart); landmarks: dlib 68-point tracker"}
    model = SpeechModel(net.eval(), template, baselines, info)
    if valid and o.calibrate:
        model.scale, info["scale_curves"] = (fit_amplitude if o.calibrate_by == "amplitude" else fit_scale)(model,
                                                                                                          valid)
    info["validation_people"] = len({c.ref.person for c in valid if c.ref.split == VALIDATION})
    info["validation"] = evaluate_clips(model, valid, VALID_GROUPS)
    info["seconds"] = round(time.time() - t0, 1)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    model.export(out)
    return model
