"""The canonical, pose-free landmark frame in which speech motion is learned and measured.

Every frame is moved by :func:`motiongan.landmarks.to_canonical`, a similarity fitted on points that
speech barely moves (its default stable points: eyes, nose, the top of the jaw) onto a template whose
inter-ocular distance is 1 and whose eyes are level, so scale, position and roll are gone and displacements
are in inter-ocular units. Speech motion is the displacement of each frame from the clip's neutral face:
the mean of its frames with the mouth most closed. :func:`drive` turns displacements back into a track
that :func:`motiongan.landmarks.retarget` puts on any face.
"""
from __future__ import annotations

import numpy as np

from .. import landmarks as L
from ..landmarks import interocular, to_canonical

STABLE = np.array(L.STABLE)  # jaw top, nose, eyes: the frame the shipped speech model was trained in
JAW = np.array(L.JAW)
MOUTH = np.array(L.MOUTH)
MOUTH_AND_JAW = np.concatenate([JAW, MOUTH])


def normalise_template(shape: np.ndarray) -> np.ndarray:
    """A (68, 2) shape centred on its stable points, eyes level, inter-ocular distance 1."""
    shape = np.asarray(shape, np.float64)
    right, left = L.OUTER_EYE_CORNERS
    d = shape[left] - shape[right]
    c, s = d / np.linalg.norm(d)
    rot = np.array([[c, s], [-s, c]])
    out = (shape - shape[STABLE].mean(0)) @ rot.T / np.linalg.norm(d)
    return out.astype(np.float32)


def fit_template(tracks: list[np.ndarray], iterations: int = 2) -> np.ndarray:
    """Generalised Procrustes mean shape of many tracks, normalised (:func:`normalise_template`)."""
    template = normalise_template(tracks[0][0])
    for _ in range(iterations):
        mean = np.concatenate([to_canonical(t, template) for t in tracks]).mean(0)
        template = normalise_template(mean)
    return template


def mouth_opening(shapes: np.ndarray) -> np.ndarray:
    """Mean inner-lip gap (...,) in the units of ``shapes`` (inter-ocular units in the canonical frame):
    :func:`motiongan.landmarks.gap` of the inner mouth."""
    return L.gap(np.asarray(shapes), L.INNER_MOUTH)


def neutral(canonical: np.ndarray, closed_fraction: float = 0.2) -> np.ndarray:
    """A clip's neutral face: the mean canonical shape over its frames with the mouth most closed."""
    k = max(1, int(round(len(canonical) * closed_fraction)))
    order = np.argsort(mouth_opening(canonical), kind="stable")
    return canonical[order[:k]].mean(0).astype(np.float32)


def drive(template: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """A (T, 68, 2) driving track: the template moved by canonical displacements (use with
    ``retarget(source, track, neutral=template)``)."""
    return (template[None] + displacement).astype(np.float32)


def mouth_error(pred: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Per-frame mean mouth (48-67) point error over the real shape's inter-ocular distance."""
    per_point = np.linalg.norm(pred[..., MOUTH, :] - real[..., MOUTH, :], axis=-1)
    return per_point.mean(-1) / interocular(real)
