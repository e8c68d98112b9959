"""``motiongan evaluate-speech``: the speech model against two baselines on held-out clips; the output scale.

For every held-out clip the real track is put in the canonical frame and its own neutral face is taken
(the mean of its most-closed-mouth frames); each method's displacements are added to that neutral face.
Two figures per method and group: the mouth error (mean distance of points 48-67 to the real ones over
the inter-ocular distance; mean over frames, then over clips) and the Pearson correlation of the mouth
opening (mean inner-lip gap) with the real one (per clip, then averaged; a constant prediction counts 0);
and the amplitude, the predicted opening's standard deviation over the real one's (per clip, then averaged:
1 moves the mouth as much as real speech; an MSE-trained model falls short, pulled toward the mean).

The amplitude counts only clips whose real opening moves measurably: its standard deviation must exceed
:data:`AMPLITUDE_FLOOR`, twice the tracker's noise on a still mouth (:data:`STILL_MOUTH_NOISE`, measured by
:func:`still_mouth_noise`). Below it the real track is noise and the ratio explodes (a clip whose person
keeps the mouth shut while the recording speaks gave 21 and turned a group mean of 0.82 into 3.36); such
clips are left out of the amplitude (not of the error or correlation) and counted.
:func:`fit_scale` picks the model's output scale by the same mouth error on the validation groups;
:func:`fit_amplitude` picks the one whose amplitude there is 1.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .audio import Speech
from .canonical import mouth_error, mouth_opening, neutral, to_canonical
from .data import GROUPS, Clip, find_clips, load_clips
from .model import SpeechModel

METHODS = ("speech model", "speech model, scale 1", "mean track", "loudness -> mouth")
SCALES = np.round(np.arange(0.0, 1.501, 0.05), 2)
AMPLITUDE_SCALES = np.round(np.arange(0.5, 4.001, 0.05), 2)
# The standard deviation of the canonical mouth opening (inter-ocular units) within GRID s1's silences, median
# over the 232 silences of at least 8 frames (3 frames trimmed at each end) of the 160 training sentences,
# tracked like every clip: the tracker's jitter on a closed, still mouth (python -c "from motiongan.speech.
# evaluate import *; print(still_mouth_noise())"). Typical speech varies 5-10 times more (s1: median 0.034).
STILL_MOUTH_NOISE = 0.0043
AMPLITUDE_FLOOR = 2 * STILL_MOUTH_NOISE  # a real opening must vary twice the noise for its amplitude to count


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


def amplitude(pred: np.ndarray, real: np.ndarray, floor: float = AMPLITUDE_FLOOR) -> float:
    """The predicted mouth opening's standard deviation over the real one's (canonical shapes (T, 68, 2)); NaN
    when the real one's is not above ``floor`` (no measurable mouth motion: the ratio would be noise)."""
    r = float(np.std(mouth_opening(real)))
    return float(np.std(mouth_opening(pred))) / r if r > max(floor, 1e-6) else float("nan")


def still_mouth_noise(data: str | os.PathLike = "../shared/data", tracks: str | os.PathLike = "runs/speech-tracks",
                      template: np.ndarray | None = None, trim: int = 3, min_frames: int = 8) -> tuple[float, int]:
    """The tracker's noise on a still mouth, from data: the standard deviation of the canonical mouth opening
    within each silence (``sil`` in the ``.align`` word timings, 25 fps) of GRID s1's training sentences, cut
    by ``trim`` frames at each end (the lips close and open there), of at least ``min_frames``; the median over
    silences (the larger ones breathe or lick their lips), and how many there were."""
    from ..models import load_speech_model
    from .data import TRAIN

    template = load_speech_model().template if template is None else template
    refs = [r for r in find_clips(data) if r.split == TRAIN and r.person == "grid/s1"]
    stds = []
    for clip in load_clips(refs, tracks, 1, False):
        opening = mouth_opening(to_canonical(clip.track, template))
        stds += silence_stds(opening, clip.ref.path.with_suffix(".align"), trim, min_frames)
    return float(np.median(stds)), len(stds)


def silence_stds(opening: np.ndarray, align: str | os.PathLike, trim: int = 3, min_frames: int = 8) -> list[float]:
    """The opening's standard deviation within each silence of a GRID ``.align`` file (times in 1/1000 frames)."""
    out = []
    for line in Path(align).read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "sil":
            a, b = max(int(parts[0]) // 1000 + trim, 0), min(int(parts[1]) // 1000 - trim, len(opening))
            if b - a >= min_frames:
                out.append(float(np.std(opening[a:b])))
    return out


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
    """{group: {"clips": n, "frames": n, method: {"error": e, "corr": c, "amplitude": a, "amplitude_clips": k}}}
    over ``clips`` of ``groups`` (``k``: the clips whose amplitude counts, :data:`AMPLITUDE_FLOOR`)."""
    res = {}
    for group in groups:
        rows = [evaluate_clip(model, c) for c in clips if c.ref.split == group]
        if not rows:
            continue
        res[group] = {"clips": len(rows), "frames": sum(n for _, n in rows)}
        rows = [r for r, _ in rows]
        for m in METHODS:
            if m in rows[0]:
                amp = np.array([r[m][2] for r in rows])
                res[group][m] = {"error": float(np.mean([r[m][0] for r in rows])),
                                 "corr": float(np.mean([r[m][1] for r in rows])),
                                 "amplitude": nan_mean(amp), "amplitude_clips": int(np.isfinite(amp).sum())}
    return res


def nan_mean(x, axis=None):
    """The mean of the finite values (NaN where there are none), without numpy's warning for an empty slice."""
    x = np.asarray(x, np.float64)
    ok = np.isfinite(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(ok, x, 0.0).sum(axis) / ok.sum(axis)
    return float(m) if np.ndim(m) == 0 else m


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
    return {g: nan_mean(c, 0) for g, c in curves.items()}


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
    overall = nan_mean(list(curves.values()), 0)
    return float(AMPLITUDE_SCALES[np.argmin(np.abs(overall - 1))]), _table(AMPLITUDE_SCALES, curves)


def table(res: dict) -> str:
    """Markdown table: one row per group and method."""
    lines = ["| group | clips (frames) | method | mouth error / IOD (lower is better) | "
             "mouth-opening correlation (higher is better) | amplitude (1: as real speech) |",
             "|---|---|---|---|---|---|"]
    for group, r in res.items():
        for m in (m for m in METHODS if m in r):
            amp = f"{r[m].get('amplitude', float('nan')):.2f}"
            if r[m].get("amplitude_clips", r["clips"]) != r["clips"]:  # clips without measurable mouth motion
                amp += f" ({r[m]['amplitude_clips']} of {r['clips']} clips)"
            lines.append(f"| {group} | {r['clips']} ({r['frames']} frames) | {m} | {r[m]['error']:.4f} | "
                         f"{r[m]['corr']:.3f} | {amp} |")
    return "\n".join(lines)
