"""``motiongan evaluate-speech``: the speech model against two baselines on held-out clips; the output scale.

For every held-out clip the real track is put in the canonical frame and its own neutral face is taken
(the mean of its most-closed-mouth frames); each method's displacements are added to that neutral face.
Two figures per method and group: the mouth error (mean distance of points 48-67 to the real ones over
the inter-ocular distance; mean over frames, then over clips) and the Pearson correlation of the mouth
opening (mean inner-lip gap) with the real one (per clip, then averaged; a constant prediction counts 0);
and the amplitude, the predicted opening's standard deviation over the real one's (per clip, then averaged:
1 moves the mouth as much as real speech; an MSE-trained model falls short, pulled toward the mean).
:func:`fit_scale` picks the model's output scale by the same mouth error on the validation groups;
:func:`fit_amplitude` picks the one whose amplitude there is 1.
"""
from __future__ import annotations

import os

import numpy as np

from .audio import Speech
from .canonical import mouth_error, mouth_opening, neutral, to_canonical
from .data import GROUPS, Clip, find_clips, load_clips
from .model import SpeechModel

METHODS = ("speech model", "speech model, scale 1", "mean track", "loudness -> mouth")
SCALES = np.round(np.arange(0.0, 1.501, 0.05), 2)
AMPLITUDE_SCALES = np.round(np.arange(0.5, 4.001, 0.05), 2)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) < 1e-6 or np.ptp(b) < 1e-6:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _real(model: SpeechModel, clip: Clip) -> tuple[Speech, np.ndarray, np.ndarray]:
    """A clip's speech, its canonical track cut to the audio's frames and its neutral face."""
    speech = Speech.from_wave(clip.wave)
    canon = to_canonical(clip.track, model.template)
    real = canon[:min(len(canon), speech.n_frames(clip.fps))]
    return speech, real, neutral(real)


def amplitude(pred: np.ndarray, real: np.ndarray) -> float:
    """The predicted mouth opening's standard deviation over the real one's (canonical shapes (T, 68, 2))."""
    r = float(np.std(mouth_opening(real)))
    return float(np.std(mouth_opening(pred))) / r if r > 1e-6 else float("nan")


def evaluate_clip(model: SpeechModel, clip: Clip) -> tuple[dict[str, tuple[float, float, float]], int]:
    """{method: (mouth error / IOD, mouth-opening correlation, amplitude)} on one clip, and its frame count
    (the row "speech model, scale 1" only for a model whose scale is not 1)."""
    speech, real, neu = _real(model, clip)
    n = len(real)
    preds = {"speech model": model.displacements(speech, clip.fps, n),
             "mean track": model.baseline("mean", speech, clip.fps, n),
             "loudness -> mouth": model.baseline("loudness", speech, clip.fps, n)}
    if model.scale != 1.0:
        preds["speech model, scale 1"] = model.displacements(speech, clip.fps, n, scale=1.0)
    out = {}
    for name, disp in preds.items():
        pred = neu[None] + disp
        out[name] = (float(mouth_error(pred, real).mean()), correlation(mouth_opening(pred), mouth_opening(real)),
                     amplitude(pred, real))
    return out, n


def evaluate_clips(model: SpeechModel, clips: list[Clip], groups: tuple[str, ...] = GROUPS) -> dict:
    """{group: {"clips": n, "frames": n, method: {"error": e, "corr": c}}} over ``clips`` of ``groups``."""
    res = {}
    for group in groups:
        rows = [evaluate_clip(model, c) for c in clips if c.ref.split == group]
        if not rows:
            continue
        res[group] = {"clips": len(rows), "frames": sum(n for _, n in rows)}
        rows = [r for r, _ in rows]
        for m in METHODS:
            if m in rows[0]:
                res[group][m] = {"error": float(np.mean([r[m][0] for r in rows])),
                                 "corr": float(np.mean([r[m][1] for r in rows])),
                                 "amplitude": float(np.nanmean([r[m][2] for r in rows]))}
    return res


def evaluate_speech(model: SpeechModel, data: str | os.PathLike, tracks: str | os.PathLike, workers: int = 2,
                    progress: bool = True) -> dict:
    """:func:`evaluate_clips` over the held-out test groups of ``data``."""
    return evaluate_clips(model, load_clips([r for r in find_clips(data) if r.split in GROUPS], tracks, workers,
                                            progress))


def _curves(model: SpeechModel, clips: list[Clip], scales: np.ndarray, figure) -> dict[str, np.ndarray]:
    """Each group's ``figure(prediction, real)`` (mean over its clips) at every output scale of ``scales``."""
    curves = {}
    for clip in clips:
        speech, real, neu = _real(model, clip)
        raw = model.displacements(speech, clip.fps, len(real), scale=1.0)
        mean = model.baseline("mean", speech, clip.fps, len(real))
        curves.setdefault(clip.ref.split, []).append(
            [float(np.mean(figure(neu[None] + mean + s * (raw - mean), real))) for s in scales])
    return {g: np.nanmean(c, 0) for g, c in curves.items()}


def _table(scales: np.ndarray, curves: dict[str, np.ndarray]) -> dict[str, dict[float, float]]:
    return {g: {float(s): float(v) for s, v in zip(scales, c)} for g, c in curves.items()}


def fit_scale(model: SpeechModel, clips: list[Clip]) -> tuple[float, dict[str, dict[float, float]]]:
    """The output scale (of :data:`SCALES`) with the lowest mouth error relative to the mean track's (scale
    0), averaged over the groups of ``clips`` (so each group counts alike), and each group's error (mean
    over frames, then clips) at every scale."""
    curves = _curves(model, clips, SCALES, mouth_error)
    relative = np.mean([c / c[0] for c in curves.values()], 0)
    return float(SCALES[np.argmin(relative)]), _table(SCALES, curves)


def fit_amplitude(model: SpeechModel, clips: list[Clip]) -> tuple[float, dict[str, dict[float, float]]]:
    """The output scale (of :data:`AMPLITUDE_SCALES`) whose amplitude (:func:`amplitude`, mean over clips,
    then over the groups of ``clips``) is nearest 1, and each group's amplitude at every scale. The scale
    stretches the displacement about the training mean, so the correlation hardly changes."""
    curves = _curves(model, clips, AMPLITUDE_SCALES, amplitude)
    overall = np.mean(list(curves.values()), 0)
    return float(AMPLITUDE_SCALES[np.argmin(np.abs(overall - 1))]), _table(AMPLITUDE_SCALES, curves)


def table(res: dict) -> str:
    """Markdown table: one row per group and method."""
    lines = ["| group | clips (frames) | method | mouth error / IOD (lower is better) | "
             "mouth-opening correlation (higher is better) | amplitude (1: as real speech) |",
             "|---|---|---|---|---|---|"]
    for group, r in res.items():
        for m in (m for m in METHODS if m in r):
            amp = r[m].get("amplitude", float("nan"))
            lines.append(f"| {group} | {r['clips']} ({r['frames']} frames) | {m} | {r[m]['error']:.4f} | "
                         f"{r[m]['corr']:.3f} | {amp:.2f} |")
    return "\n".join(lines)
