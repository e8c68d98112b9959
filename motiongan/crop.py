"""The face crop shared by ``prepare`` (training data) and inference: a square box around the landmarks,
resized to the model's size, and the generated crop pasted back into the full image."""
from __future__ import annotations

import cv2
import numpy as np

from .landmarks import apply_affine, invert_affine

CROP_SCALE = 1.6  # crop side / larger landmark extent


def crop_box(points: np.ndarray, scale: float = CROP_SCALE) -> np.ndarray:
    """Square box (cx, cy, side) around (..., 68, 2) points: side = scale x the larger extent."""
    lo, hi = points.min(-2), points.max(-2)
    centre = (lo + hi) / 2
    side = (hi - lo).max(-1) * scale
    return np.concatenate([centre, side[..., None]], -1).astype(np.float32)


def box_to_affine(box: np.ndarray, size: int) -> np.ndarray:
    """2x3 matrix mapping image pixels into a ``size`` x ``size`` crop of the square ``box``."""
    cx, cy, side = (float(v) for v in box)
    s = size / side
    # continuous coordinates: the box's left edge (cx - side/2) maps to the crop's left edge (-0.5)
    return np.array(
        [[s, 0, -0.5 - (cx - side / 2) * s], [0, s, -0.5 - (cy - side / 2) * s]],
        np.float32,
    )


def crop(rgb: np.ndarray, box: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Crop a square box to size x size; returns the crop and the image->crop affine matrix."""
    m = box_to_affine(box, size)
    s = float(m[0, 0])
    if s < 0.5:  # shrink with area averaging first, so the warp does not alias
        pre = min(1.0, 2 * s)
        rgb = cv2.resize(rgb, None, fx=pre, fy=pre, interpolation=cv2.INTER_AREA)
        # image pixel x -> shrunk pixel (x + 0.5) * pre - 0.5
        shrink = np.array([[pre, 0, 0.5 * pre - 0.5], [0, pre, 0.5 * pre - 0.5]], np.float32)
        m_small = m.copy()
        m_small[:, :2] = m[:, :2] / pre
        m_small[:, 2] = m[:, 2] - m_small[:, :2] @ shrink[:, 2]
        out = cv2.warpAffine(rgb, m_small, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    else:
        out = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out, m


def crop_face(image: np.ndarray, points: np.ndarray, size: int, scale: float = CROP_SCALE):
    """The face cropped exactly as ``motiongan prepare`` crops training frames, its landmarks in the crop
    and the image -> crop matrix."""
    face, m = crop(image, crop_box(points, scale), size)
    return face, apply_affine(points, m), m


def paste_back(image: np.ndarray, face: np.ndarray, matrix: np.ndarray, feather: float = 0.08) -> np.ndarray:
    """The generated crop warped back into the full image, blended over a feathered border."""
    h, w = image.shape[:2]
    size = face.shape[0]
    inv = invert_affine(matrix)
    mask = np.zeros((size, size), np.float32)
    b = max(1, int(size * feather))
    mask[b:-b, b:-b] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), b / 2)
    warped = cv2.warpAffine(face, inv, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(mask, inv, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    return (image * (1 - alpha) + warped * alpha).round().astype(np.uint8)
