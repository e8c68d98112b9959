"""``motiongan evaluate``: generate every clip of a split from its first frame and all its target
landmarks (frame by frame, recurrent state carried), score it, and write the paper's Table 1 with two
reference rows: "real video" (the real frames: the upper bound) and "copy source" (the source frame
repeated: what a model that ignores the landmarks scores).

Landmark error: dlib's 68-point shape predictor (one fixed detector for every row) is fitted to each
frame upscaled x2, in the box of the target landmarks (as 300-W hands out face boxes), and compared with
the target landmarks, normalised by their inter-ocular distance. Identity: cosine between V's (SFace)
embeddings of each frame and of the real first frame, and the independent dlib judge's same-person rate.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..checkpoint import CheckpointError
from ..convention import to_image, to_tensor
from ..data import Cache, EvalClips
from ..draw import draw_landmarks
from ..errors import ConfigError
from ..face import FaceJudge, FaceLandmarker, Verification, jitter
from ..inference.model import MotionGAN
from ..landmarks import normalised_error
from ..media import VideoWriter, atomic_write_bytes
from ..options import option
from . import metrics as M

UPSCALE = 2
COLUMNS = ["PSNR", "SSIM", "AUC@0.1", "FR@0.1", "AUC@0.08", "FR@0.08", "ID cos (V)", "same person (dlib) %",
           "jitter"]


class Scorer:
    """Per-frame scores of a generated (or reference) clip against the real one."""

    def __init__(self, device: str = "cpu"):
        self.lm, self.V, self.judge = FaceLandmarker(), Verification().to(device), FaceJudge()
        self.device = device

    @staticmethod
    def upscale(frame: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The frame x UPSCALE (the dlib models see faces of a usual size) and its points there."""
        big = cv2.resize(frame, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
        return big, (points + 0.5) * UPSCALE - 0.5

    def detect(self, big: np.ndarray, big_target: np.ndarray) -> np.ndarray:
        """68 landmarks fitted in the target's box on an upscaled frame, in the frame's coordinates."""
        box = (*big_target.min(0), *big_target.max(0))
        return (self.lm.fit(big, box) + 0.5) / UPSCALE - 0.5

    def embed(self, frames: np.ndarray, lms: np.ndarray) -> np.ndarray:
        x = to_tensor(frames).to(self.device)
        with torch.no_grad():
            return self.V.embed(x, torch.from_numpy(lms).to(self.device)).cpu().numpy()

    def descriptor(self, frame: np.ndarray, lms: np.ndarray) -> np.ndarray:
        return self.judge.descriptor(*self.upscale(frame, lms))

    def score(self, frames: np.ndarray, real: np.ndarray, lms: np.ndarray, ref_emb, ref_desc,
              with_images: bool = True) -> dict:
        detected, same = [], []
        for f, t in zip(frames, lms):
            big, big_t = self.upscale(f, t)  # once per frame, for both dlib models
            detected.append(self.detect(big, big_t))
            same.append(self.judge.same_person(self.judge.descriptor(big, big_t), ref_desc))
        detected = np.stack(detected)
        errors = normalised_error(detected, lms)
        emb = self.embed(frames, lms)
        out = {"landmark_error": errors.tolist(), "id_cosine": (emb @ ref_emb).tolist(),
               "same_person": [bool(s) for s in same], "jitter": jitter(detected)}
        if with_images:
            out["psnr"] = [M.psnr(a, b) for a, b in zip(frames, real)]
            out["ssim"] = [M.ssim(a, b) for a, b in zip(frames, real)]
        return out


def summarise(per_clip: list[dict]) -> dict:
    """Table columns from the per-frame scores of all clips of a row (frames pooled)."""
    def cat(key):
        if not per_clip or key not in per_clip[0]:
            return None
        return np.concatenate([np.asarray(c[key], np.float64) for c in per_clip])

    err = cat("landmark_error")
    row = {"AUC@0.1": M.auc(err, 0.1), "FR@0.1": M.failure_rate(err, 0.1), "AUC@0.08": M.auc(err, 0.08),
           "FR@0.08": M.failure_rate(err, 0.08), "ID cos (V)": float(cat("id_cosine").mean()),
           "same person (dlib) %": float(cat("same_person").mean() * 100),
           "jitter": float(np.mean([c["jitter"] for c in per_clip])), "frames": int(len(err))}
    p = cat("psnr")
    row["PSNR"] = float(p[np.isfinite(p)].mean()) if p is not None and np.isfinite(p).any() else None
    row["SSIM"] = float(cat("ssim").mean()) if p is not None else None
    return row


@dataclass
class EvaluateOptions:
    """Which clips and frames ``evaluate`` scores (the CLI's flags are made from these fields)."""

    split: str = option("test", "all: every clip (for a cache that holds only test people)",
                        choices=["train", "test", "all"])
    max_frames: int | None = option(None, "evaluate at most this many frames per clip")
    test_list: str | None = option("v1", "the fixed test people (v1, or a file of person ids); 'none': a random "
                                         "split by --seed, --test-fraction, --test-persons (for your own data)")
    seed: int = option(0, "the random split's seed (as in training)")
    test_fraction: float = option(0.3, "the random split's share of test people")
    test_persons: int | None = option(None, "the random split's number of test people (instead of the share)")

    def __post_init__(self):
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"--max-frames {self.max_frames}: need at least 1 frame per clip")


def evaluate(checkpoints: list[str], data: str, out: str, options: EvaluateOptions | None = None,
             device: str = "cpu", progress: bool = True) -> dict:
    """Score every checkpoint and the two reference rows on the same clips; write the tables to ``out``."""
    o, out = options or EvaluateOptions(), Path(out)
    cache = Cache(data)
    # check everything before generating anything: no partial table
    models = [MotionGAN.from_checkpoint(c, device) for c in checkpoints]
    for m, c in zip(models, checkpoints):
        if m.size != cache.size:
            raise CheckpointError(f"{c}: generates {m.size} x {m.size} frames but {data} holds {cache.size} x "
                                  f"{cache.size} crops; evaluate on a cache prepared at --size {m.size}")
    names = _unique([m.name for m in models])
    clips = EvalClips(cache, o.split, seed=o.seed, test_fraction=o.test_fraction, test_persons=o.test_persons,
                      max_frames=o.max_frames, test_list=o.test_list)
    scorer = Scorer(device)
    rows = {"real video": [], "copy source": [], **{n: [] for n in names}}
    for i in tqdm(range(len(clips)), desc="evaluate", unit="clip", disable=not progress):
        clip = clips[i]
        real = np.stack([to_image(f) for f in clip["frames"]])
        lms = clip["landmarks"].numpy()
        ref_emb = scorer.embed(real[:1], lms[:1])[0]
        ref_desc = scorer.descriptor(real[0], lms[0])
        cid, fps = clip["clip_id"], clip["fps"]
        rows["real video"].append(scorer.score(real, real, lms, ref_emb, ref_desc, with_images=False))
        copy = np.repeat(real[:1], len(real), 0)
        rows["copy source"].append(scorer.score(copy, real, lms, ref_emb, ref_desc))
        for name, model in zip(names, models):
            gen = np.stack([to_image(f) for f in model.generate(clip["frames"][0], lms[0], lms)])
            scores = scorer.score(gen, real, lms, ref_emb, ref_desc)
            rows[name].append(scores)
            _write_clip(out / name / cid, gen, real, lms, fps, scores)
    table = {name: summarise(per) for name, per in rows.items()}
    meta = {"data": str(data), "split": o.split, "clips": len(clips), "frames": int(sum(len(r["landmark_error"])
            for r in rows["real video"])), "checkpoints": dict(zip(names, checkpoints)),
            "detector": "dlib 68-point shape predictor (iBUG 300-W), target-landmark box, frames x2",
            "identity": "SFace cosine to the real first frame; dlib ResNet descriptor distance < 0.6",
            "psnr_ssim": "RGB 0-255; SSIM Gaussian sigma 1.5",
            "skipped": "LPIPS, FID, FVD: need backbone weights that cannot be downloaded here; not computed"}
    _write_tables(out, table, meta, rows)
    return {"table": table, "meta": meta, "rows": rows, "names": names}


def _unique(names):
    seen, out = {}, []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}-{seen[n]}")
    return out


def _write_clip(folder: Path, gen, real, lms, fps, scores):
    folder.mkdir(parents=True, exist_ok=True)
    with VideoWriter(folder / "generated.mp4", fps) as vg, VideoWriter(folder / "real.mp4", fps) as vr, \
            VideoWriter(folder / "side_by_side.mp4", fps) as vs:
        for g, r, t in zip(gen, real, lms):
            vg.write(g)
            vr.write(r)
            vs.write(np.concatenate([r, draw_landmarks(np.zeros_like(r), t, radius=1), g], 1))
    buf = io.BytesIO()
    np.save(buf, lms.astype(np.float32))
    atomic_write_bytes(folder / "target_landmarks.npy", buf.getvalue())
    atomic_write_bytes(folder / "metrics.json", json.dumps({**summarise([scores]), "per_frame": scores}).encode())


def _fmt(v, k):
    if v is None:
        return "—"
    return f"{v:.3f}" if k in ("SSIM", "ID cos (V)", "jitter") else f"{v:.2f}"


def _write_tables(out: Path, table: dict, meta: dict, rows: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    md = ["| row | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, r in table.items():
        md.append(f"| {name} | " + " | ".join(_fmt(r[k], k) for k in COLUMNS) + " |")
    md.append("")
    md.append(f"{meta['clips']} clips, {meta['frames']} frames of the '{meta['split']}' split of {meta['data']}. "
              f"AUC x100 and failure rate % of the normalised landmark error ({meta['detector']}); "
              f"PSNR/SSIM on {meta['psnr_ssim']}; identity: {meta['identity']}. {meta['skipped']}.")
    atomic_write_bytes(out / "table.md", ("\n".join(md) + "\n").encode())
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["row"] + COLUMNS + ["frames"])
    for name, r in table.items():
        w.writerow([name] + [r[k] for k in COLUMNS] + [r["frames"]])
    atomic_write_bytes(out / "table.csv", buf.getvalue().encode())
    atomic_write_bytes(out / "table.json", json.dumps({"rows": table, **meta}, indent=1).encode())
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, per in rows.items():
        x, y = M.ced(np.concatenate([p["landmark_error"] for p in per]), 0.1)
        ax.plot(x, y * 100, label=f"{name} (AUC {table[name]['AUC@0.1']:.1f})")
    ax.set_xlabel("point-to-point error / inter-ocular distance")
    ax.set_ylabel("frames (%)")
    ax.set_xlim(0, 0.1)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = out / ".ced.tmp.png"
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, out / "ced.png")
