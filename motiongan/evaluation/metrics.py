"""Metrics of paper section 4.2.4, each a small function with its conventions stated.

Frames are RGB uint8 (0-255) arrays of shape (H, W, 3) unless stated.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB on RGB values 0-255 (peak 255), over all pixels and channels."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity on RGB 0-255 (dynamic range 255), Gaussian window sigma 1.5 truncated at 3.5
    sigma, K1 = 0.01, K2 = 0.03, population covariances, averaged over channels and pixels (Wang et al.
    2004; equal to scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=255, channel_axis=-1)``)."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda z: gaussian_filter(z, sigma=(1.5, 1.5, 0), truncate=3.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    pad = int(3.5 * 1.5 + 0.5)  # as scikit-image: the border a full window does not cover is left out
    return float(s[pad:-pad, pad:-pad].mean())


def ced(errors: np.ndarray, limit: float = 0.1, bins: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative error distribution: x in [0, limit], fraction of frames with error <= x."""
    x = np.linspace(0, limit, bins + 1)
    e = np.sort(np.asarray(errors, np.float64))
    return x, np.searchsorted(e, x, side="right") / max(len(e), 1)


def auc(errors: np.ndarray, limit: float = 0.1) -> float:
    """Area under the CED up to ``limit``, divided by ``limit``, x 100 (0-100, higher is better)."""
    x, y = ced(errors, limit)
    return float(np.trapezoid(y, x) / limit * 100)


def failure_rate(errors: np.ndarray, limit: float = 0.1) -> float:
    """Percentage of frames whose normalised landmark error exceeds ``limit``."""
    e = np.asarray(errors, np.float64)
    return float((e > limit).mean() * 100) if len(e) else float("nan")

