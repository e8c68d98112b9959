"""Drawing landmarks and tiling images, for figures, contact sheets and overlays."""
from __future__ import annotations

import cv2
import numpy as np

from .landmarks import OUTLINE


def draw_landmarks(rgb: np.ndarray, points: np.ndarray, color=(0, 255, 0), radius: int | None = None,
                   lines: bool = True) -> np.ndarray:
    """A copy of ``rgb`` with the (68, 2) points drawn (dots, and the face's outline if ``lines``)."""
    out = np.ascontiguousarray(rgb.copy())
    r = radius or max(1, round(max(out.shape[:2]) / 200))
    shift = 4  # sub-pixel drawing
    p = np.round(np.asarray(points) * (1 << shift)).astype(np.int32)
    if lines:
        for region, closed in OUTLINE:
            cv2.polylines(out, [p[list(region)]], closed, color, max(1, r // 2), cv2.LINE_AA, shift)
    for x, y in p:
        cv2.circle(out, (int(x), int(y)), r << shift, color, -1, cv2.LINE_AA, shift)
    return out


def grid(images: list[np.ndarray], cols: int, pad: int = 2) -> np.ndarray:
    """Tile same-sized RGB images into rows of ``cols``."""
    h, w = images[0].shape[:2]
    rows = -(-len(images) // cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = im
    return out


def fit(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize to fit a ``size`` x ``size`` square, padded with white."""
    h, w = rgb.shape[:2]
    s = size / max(h, w)
    small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    out = np.full((size, size, 3), 255, np.uint8)
    out[: small.shape[0], : small.shape[1]] = small
    return out
