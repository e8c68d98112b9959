"""What the networks eat and give (paper section 3.1, Figure 2): the one home of the tensor conventions.

Images: (3, H, W) float in [-1, 1], pixel value v <-> v / 127.5 - 1 (RGB; G's tanh output, eq. 1).
Landmarks: (..., 68, H, W) heatmaps, one Gaussian per point peaking at 1 (the ``l`` and ``l_t`` of G's
input [s, l, l_t]), rendered by :class:`LandmarkEncoder` on the device that uses them.
"""
from __future__ import annotations

import math

import numpy as np
import torch

_HALF = 127.5  # uint8 pixel value v <-> v / _HALF - 1


def to_tensor(frames) -> torch.Tensor:
    """(..., H, W, 3) uint8 (a numpy array or a tensor, on any device) -> (..., 3, H, W) float in [-1, 1]."""
    t = frames if torch.is_tensor(frames) else torch.from_numpy(np.ascontiguousarray(frames))
    return t.float().div_(_HALF).sub_(1.0).movedim(-1, -3)


def to_image(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8: the inverse of :func:`to_tensor`."""
    return to_pixels(x.detach().float().clamp(-1, 1)).round().byte().permute(1, 2, 0).cpu().numpy()


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> the same as float pixel values in [0, 255] (what V was trained on)."""
    return (x + 1) * _HALF


class LandmarkEncoder:
    """(..., 68, 2) pixel coordinates -> (..., 68, H, W) Gaussian heatmaps of ``sigma`` pixels.

    Separable: the outer product of two 1-D Gaussians, each cut to exactly zero farther than ``radius``
    = ceil(3 sigma) from the point, so every channel is non-zero only in a small square (which the
    streamer exploits). Batched on the points' device, no loop over points.
    """

    def __init__(self, size: int | tuple[int, int], sigma: float = 1.5):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.sigma = float(sigma)
        self.radius = int(math.ceil(3 * sigma))

    def profile(self, d: torch.Tensor) -> torch.Tensor:
        """The 1-D Gaussian at signed distances ``d`` (pixels), zero beyond ``radius``."""
        return torch.exp(-(d**2) / (2 * self.sigma**2)) * (d.abs() <= self.radius)

    def __call__(self, points) -> torch.Tensor:
        pts = torch.as_tensor(points).float()
        h, w = self.size
        gx = self.profile(torch.arange(w, device=pts.device, dtype=pts.dtype) - pts[..., 0:1])
        gy = self.profile(torch.arange(h, device=pts.device, dtype=pts.dtype) - pts[..., 1:2])
        return gy.unsqueeze(-1) * gx.unsqueeze(-2)
