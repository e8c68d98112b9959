"""The one list of evaluation metrics (as StyleGAN3's ``metrics/metric_main.py``): every figure of the
table is a registered :class:`Metric`, and its name is the key everywhere: the columns of ``table.md``,
``table.csv`` and ``table.json``, each clip's ``metrics.json``, and ``compare``'s differences and verdict.

A metric pools one per-frame *series* (what :class:`~motiongan.evaluation.scoring.Scorer` writes per clip:
``psnr``, ``landmark_error``, ...) over the frames of all clips of a row, optionally only over the frames
that a boolean series selects (``open_mouth``), and says how many frames the figure covers. The maths
(PSNR, SSIM, AUC, ...) lives in :mod:`motiongan.evaluation.metrics`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import metrics as M

VERSION = 2  # of the per-frame series: bump when what a series means changes (invalidates cached scores)


@dataclass(frozen=True)
class Metric:
    """A column: ``pool`` turns the selected frames' values of ``series`` into the figure."""

    name: str
    series: str
    pool: Callable[[np.ndarray], float]
    digits: int = 2
    higher_is_better: bool = True
    images: bool = False  # compares generated pixels with the real ones (none for the "real video" row)
    where: str | None = None  # a boolean per-frame series: only those frames count
    per_clip: bool = False  # one value per clip (averaged over clips), not per frame
    finite: bool = False  # leave out infinite values (PSNR of identical pixels)

    def values(self, clips: list[dict]) -> np.ndarray | None:
        """The values this metric pools from the per-clip scores, or None when they were not scored."""
        if not clips or self.series not in clips[0]:
            return None
        if self.per_clip:
            return np.array([c[self.series] for c in clips], np.float64)
        x = np.concatenate([np.asarray(c[self.series], np.float64) for c in clips])
        if self.where is not None:
            x = x[np.concatenate([np.asarray(c[self.where], bool) for c in clips])]
        return x[np.isfinite(x)] if self.finite else x

    def __call__(self, clips: list[dict]) -> tuple[float | None, int]:
        """The figure and how many frames (clips for a per-clip metric) it covers; None with no frames."""
        x = self.values(clips)
        if x is None or len(x) == 0:
            return None, 0
        return float(self.pool(x)), int(len(x))


METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    if metric.name in METRICS:
        raise ValueError(f"metric {metric.name!r} is registered twice")
    METRICS[metric.name] = metric
    return metric


def metric(name: str) -> Metric:
    if name not in METRICS:
        raise KeyError(f"no metric {name!r}; the metrics are {', '.join(METRICS)}")
    return METRICS[name]


def _mean(x):
    return x.mean()


def _percent(x):
    return x.mean() * 100


PSNR = register(Metric("PSNR", "psnr", _mean, images=True, finite=True))
SSIM = register(Metric("SSIM", "ssim", _mean, digits=3, images=True))
MOUTH_PSNR = register(Metric("mouth PSNR", "mouth_psnr", _mean, images=True, finite=True))
MOUTH_SSIM = register(Metric("mouth SSIM", "mouth_ssim", _mean, digits=3, images=True))
OPEN_MOUTH_PSNR = register(Metric("open-mouth PSNR", "mouth_psnr", _mean, images=True, finite=True,
                                  where="open_mouth"))
OPEN_MOUTH_SSIM = register(Metric("open-mouth SSIM", "mouth_ssim", _mean, digits=3, images=True,
                                  where="open_mouth"))
SHARPNESS = register(Metric("sharpness", "sharpness", _mean, digits=3, images=True, finite=True))
MOUTH_SHARPNESS = register(Metric("open-mouth sharpness", "mouth_sharpness", _mean, digits=3, images=True, finite=True,
                                  where="open_mouth"))
MOUTH_FLICKER = register(Metric("mouth flicker", "mouth_flicker", _mean, digits=3, higher_is_better=False,
                                images=True, per_clip=True, finite=True))
CLOSING_EYE_PSNR = register(Metric("closing-eye PSNR", "eye_psnr", _mean, images=True, finite=True,
                                   where="closing_eye"))
AUC = register(Metric("AUC@0.1", "landmark_error", lambda e: M.auc(e, 0.1)))
FR = register(Metric("FR@0.1", "landmark_error", lambda e: M.failure_rate(e, 0.1), higher_is_better=False))
AUC_08 = register(Metric("AUC@0.08", "landmark_error", lambda e: M.auc(e, 0.08)))
FR_08 = register(Metric("FR@0.08", "landmark_error", lambda e: M.failure_rate(e, 0.08), higher_is_better=False))
ID_COS = register(Metric("ID cos (V)", "id_cosine", _mean, digits=3))
SAME_PERSON = register(Metric("same person (dlib) %", "same_person", _percent))
JITTER = register(Metric("jitter", "jitter", _mean, digits=3, higher_is_better=False, per_clip=True))

# frame counts the table shows beside the figures: column -> the per-frame series whose frames (or true
# values, for a boolean series) it counts; "covers" in table.json has each figure's own count
COUNTS = {"frames": "landmark_error", "open-mouth frames": "open_mouth", "closing-eye frames": "closing_eye"}


def count(per_clip: list[dict], series: str) -> int:
    """The frames of a series (a boolean series: its true frames) over all clips."""
    arrays = [np.asarray(c[series]) for c in per_clip if series in c]
    return int(sum(np.count_nonzero(a) if a.dtype == bool else a.size for a in arrays))


def summarise(per_clip: list[dict]) -> dict:
    """A table row from the per-frame scores of all clips of a row (frames pooled): every metric's figure
    (None where not scored), and under ``"covers"`` how many frames each figure covers."""
    row, covers = {}, {}
    for name, m in METRICS.items():
        row[name], covers[name] = m(per_clip)
    for column, series in COUNTS.items():
        row[column] = count(per_clip, series)
    row["covers"] = covers
    return row


def fmt(value, name: str) -> str:
    """A figure as the table shows it."""
    if value is None:
        return "—"
    if name in COUNTS:
        return str(value)
    return f"{value:.{METRICS[name].digits}f}"
