"""``motiongan evaluate-speech``: the speech model against two baselines on held-out clips.

For every held-out clip the real track is put in the canonical frame and its own neutral face is taken
(the mean of its most-closed-mouth frames); each method's displacements are added to that neutral face.
Two figures per method and group: the mouth error (mean distance of points 48-67 to the real ones over
the inter-ocular distance; mean over frames, then over clips) and the Pearson correlation of the mouth
opening (mean inner-lip gap) with the real one (per clip, then averaged; a constant prediction counts 0).
"""
from __future__ import annotations

import os

import numpy as np

from .audio import Speech
from .canonical import mouth_error, mouth_opening, neutral, to_canonical
from .data import GROUPS, Clip, find_clips, load_clips
from .model import SpeechModel

METHODS = ("speech model", "mean track", "loudness -> mouth")


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) < 1e-6 or np.ptp(b) < 1e-6:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def evaluate_clip(model: SpeechModel, clip: Clip) -> tuple[dict[str, tuple[float, float]], int]:
    """{method: (mouth error / IOD, mouth-opening correlation)} on one clip, and its frame count."""
    speech = Speech.from_wave(clip.wave)
    canon = to_canonical(clip.track, model.template)
    n = min(len(canon), speech.n_frames(clip.fps))
    real = canon[:n]
    neu = neutral(real)
    preds = {"speech model": model.displacements(speech, clip.fps, n),
             "mean track": model.baseline("mean", speech, clip.fps, n),
             "loudness -> mouth": model.baseline("loudness", speech, clip.fps, n)}
    out = {}
    for name, disp in preds.items():
        pred = neu[None] + disp
        out[name] = (float(mouth_error(pred, real).mean()), correlation(mouth_opening(pred), mouth_opening(real)))
    return out, n


def evaluate_speech(model: SpeechModel, data: str | os.PathLike, tracks: str | os.PathLike, workers: int = 2,
                    progress: bool = True) -> dict:
    """{group: {"clips": n, "frames": n, method: {"error": e, "corr": c}}} over the held-out groups."""
    clips = [c for c in load_clips([r for r in find_clips(data) if r.split in GROUPS], tracks, workers, progress)]
    res = {}
    for group in GROUPS:
        rows = [evaluate_clip(model, c) for c in clips if c.ref.split == group]
        if not rows:
            continue
        res[group] = {"clips": len(rows), "frames": sum(n for _, n in rows)}
        rows = [r for r, _ in rows]
        for m in METHODS:
            res[group][m] = {"error": float(np.mean([r[m][0] for r in rows])),
                             "corr": float(np.mean([r[m][1] for r in rows]))}
    return res


def table(res: dict) -> str:
    """Markdown table: one row per group and method."""
    lines = ["| held-out group | clips (frames) | method | mouth error / IOD (lower is better) | "
             "mouth-opening correlation (higher is better) |", "|---|---|---|---|---|"]
    for group, r in res.items():
        for m in METHODS:
            lines.append(f"| {group} | {r['clips']} ({r['frames']} frames) | {m} | {r[m]['error']:.4f} | "
                         f"{r[m]['corr']:.3f} |")
    return "\n".join(lines)
