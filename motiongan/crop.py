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


class PasteBack:
    """Crops of ``size`` x ``size`` (image -> crop ``matrix``) blended back into ``image`` over a feathered
    border (``feather``: its width as a fraction of the crop; the weight is 0 at the crop's edge, so there is
    no seam). The mask and the image region the crop covers are computed once, so each frame costs one warp
    of the crop into that region and one blend."""

    def __init__(self, image: np.ndarray, matrix: np.ndarray, size: int, feather: float = 0.08):
        self.image, self.size = image, size
        h, w = image.shape[:2]
        inv = invert_affine(matrix)
        corners = apply_affine(np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5],
                                         [size - 0.5, size - 0.5]], np.float32), inv)
        x0, y0 = (max(0, int(np.floor(v))) for v in corners.min(0))
        x1, y1 = min(w, int(np.ceil(corners[:, 0].max())) + 1), min(h, int(np.ceil(corners[:, 1].max())) + 1)
        self.region = (slice(y0, max(y0, y1)), slice(x0, max(x0, x1)))
        self.inv = inv - np.array([[0, 0, x0], [0, 0, y0]], np.float32)  # crop -> region
        self.shape = (max(0, x1 - x0), max(0, y1 - y0))
        # the blend weight rises from 0 at the crop's edge to 1 at ``feather`` of its side inwards (smoothstep)
        edge = np.minimum(np.arange(size) + 0.5, size - 0.5 - np.arange(size)).astype(np.float32)
        r = np.clip(np.minimum(edge[:, None], edge[None, :]) / max(1.0, size * feather), 0, 1)
        mask = r * r * (3 - 2 * r)
        self.alpha = cv2.warpAffine(mask, self.inv, self.shape, flags=cv2.INTER_LINEAR)[..., None]
        self.under = image[self.region].astype(np.float32) * (1 - self.alpha)

    def __call__(self, face: np.ndarray) -> np.ndarray:
        if face.shape[:2] != (self.size, self.size):
            raise ValueError(f"expected a {self.size} x {self.size} crop, got {face.shape[:2]}")
        out = self.image.copy()
        if self.shape[0] and self.shape[1]:
            warped = cv2.warpAffine(face, self.inv, self.shape, flags=cv2.INTER_LINEAR)
            out[self.region] = (self.under + warped * self.alpha).round().astype(np.uint8)
        return out

