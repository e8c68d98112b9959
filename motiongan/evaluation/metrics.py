"""Metrics of paper section 4.2.4, each a small function with its conventions stated.

Frames are RGB uint8 (0-255) arrays of shape (H, W, 3) unless stated.
"""
from __future__ import annotations

import cv2
import numpy as np

SSIM_SIGMA, SSIM_TRUNCATE = 1.5, 3.5
SSIM_RADIUS = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)  # 5: the window is 11 x 11


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB on RGB values 0-255 (peak 255), over all pixels and channels."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The structural similarity (H, W, C) of each pixel and channel, on RGB 0-255 (dynamic range 255):
    Gaussian window sigma 1.5 truncated at 3.5 sigma, K1 = 0.01, K2 = 0.03, population covariances, borders
    reflected (Wang et al. 2004; scikit-image's with ``gaussian_weights=True``; the blur is OpenCV's
    separable filter, equal to ``scipy.ndimage.gaussian_filter`` to 1e-13 and seven times faster)."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    k = cv2.getGaussianKernel(2 * SSIM_RADIUS + 1, SSIM_SIGMA, cv2.CV_64F)

    def blur(z):
        return cv2.sepFilter2D(z, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT).reshape(z.shape)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity averaged over channels and pixels, leaving out (as scikit-image does) the border
    a full window does not cover; equal to scikit-image's ``structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1)``."""
    s, r = ssim_map(a, b), SSIM_RADIUS
    return float(s[r:-r, r:-r].mean())


def laplacian_variance(rgb: np.ndarray) -> float:
    """Variance of the Laplacian (3 x 3) of the grey image: how much fine detail (edges, texture) it has."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def sharpness(generated: np.ndarray, real: np.ndarray) -> float:
    """Laplacian variance of a generated image over the real one's (1: as sharp; below 1: blurrier; NaN
    when the real image is flat)."""
    r = laplacian_variance(real)
    return laplacian_variance(generated) / r if r > 0 else float("nan")


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

