"""Motion from landmarks: a batched thin-plate spline (TPS) that moves the source's pixels so that its 68
landmarks land on the target's (SPEC, "warp first, then paint").

The spline is fitted from the target points ``c_i`` to the source points ``v_i``, so evaluating it at every
output pixel gives where to sample the source, which is what ``grid_sample`` takes:
``f(p) = a0 + A p + sum_i w_i U(|p - c_i|)``, ``U(r) = r^2 log r^2``, from
``[[K + lambda I, P], [P^T, 0]] [w; a] = [v; 0]`` with ``K_ij = U(|c_i - c_j|)`` and ``P = [1, x, y]``.
Points pinned on the crop border keep the frame's edge in place (and make the fit well posed).

Coordinates are normalised (``grid_sample``'s, ``align_corners=False``: -1 and 1 are the outer edges of
the crop), so the motion fitted on a crop of the landmarks' size warps a crop of any resolution.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F

from .errors import MotionGANError

MARGIN = 3.0  # points farther than this (normalised units) outside the crop are clamped to it
FALLBACK = 1e-3  # the regularisation of control points that coincide with another (duplicates)
DUPLICATE = 1e-3  # control points closer than this (normalised units) coincide
COLLINEAR = 1e-8  # the control points' spread across their main direction below this share of it: a line
CHUNK = 1 << 20  # kernel entries (B x points x controls) evaluated at a time: 4 MB buffers, reused (2x faster)


class MotionError(MotionGANError):
    """Landmarks from which no motion can be fitted (not finite, or degenerate with no border points)."""


def normalise(points: torch.Tensor, size: int) -> torch.Tensor:
    """Pixel coordinates of a ``size`` x ``size`` crop (centre of the first pixel at 0) -> [-1, 1]."""
    return (2 * points + 1) / size - 1


def denormalise(points: torch.Tensor, size: int) -> torch.Tensor:
    """The inverse of :func:`normalise`."""
    return ((points + 1) * size - 1) / 2


def border_points(per_side: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """``4 (per_side - 1)`` points evenly spaced on the crop's outline (normalised), corners included."""
    if per_side < 2:
        return torch.zeros(0, 2, device=device, dtype=dtype)
    t = torch.linspace(-1, 1, per_side, device=device, dtype=dtype)[:-1]
    one = torch.ones_like(t)
    return torch.cat([torch.stack(s, 1) for s in ((t, -one), (one, t), (-t, one), (-one, -t))])


def _affine_basis(p: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.ones_like(p[..., :1]), p], -1)


class TPS:
    """A thin-plate spline per batch element that maps target-frame points to source-frame points.

    ``target``, ``source``: (B, N, 2) normalised points (see :func:`normalise`); ``border``: points per
    side pinned on the crop outline (0: none); ``regularisation``: lambda (0: exact at the control points).
    Control points that coincide (closer than ``DUPLICATE``, e.g. the inner lips of a closed mouth, or
    points clamped to the same corner) are regularised with lambda = ``FALLBACK`` (the spline passes near
    the mean of their values; the other points stay exact). Collinear control points with no border points
    leave the motion across the line undetermined and raise :class:`MotionError`.
    """

    def __init__(self, target: torch.Tensor, source: torch.Tensor, regularisation: float = 0.0, border: int = 5):
        target, source = _checked(target, "target"), _checked(source, "source")
        if target.shape != source.shape:
            raise MotionError(f"target landmarks {tuple(target.shape)} and source landmarks "
                              f"{tuple(source.shape)} differ in shape")
        b = target.shape[0]
        with _one_thread(target.device):
            pins = border_points(border, target.device, target.dtype).expand(b, -1, -1)
            self.controls = torch.cat([target, pins], 1).double()
            values = torch.cat([source, pins], 1).double()
            self.dtype = target.dtype
            self.weights = self._solve(values, regularisation)

    def _solve(self, values: torch.Tensor, lam: float) -> torch.Tensor:
        c = self.controls
        b, n, _ = c.shape
        if n < 3 or _collinear(c).any():
            raise MotionError("landmarks are degenerate (collinear or coincident) and no border points pin "
                              "the motion: no thin-plate spline fits them")
        dx, dy = (c[..., k].unsqueeze(2) - c[..., k].unsqueeze(1) for k in (0, 1))
        r2 = dx * dx + dy * dy  # (B, N, N), exactly 0 on the diagonal
        eye = torch.eye(n, dtype=torch.bool, device=c.device)
        duplicate = ((r2 < DUPLICATE**2) & ~eye).any(-1)  # (B, N)
        P = _affine_basis(c)
        L = c.new_zeros(b, n + 3, n + 3)
        L[:, :n, :n] = r2 * torch.log(r2.clamp_min(1e-300))
        L[:, :n, n:], L[:, n:, :n] = P, P.transpose(1, 2)
        L[:, :n, :n] += torch.diag_embed(torch.where(duplicate, max(lam, FALLBACK), lam).to(c.dtype))
        rhs = torch.cat([values, c.new_zeros(b, 3, 2)], 1)
        sol, info = torch.linalg.solve_ex(L, rhs)
        if (info != 0).any() or not torch.isfinite(sol).all():
            raise MotionError("landmarks are degenerate: no thin-plate spline fits them")
        return sol

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        """Where (B, M, 2) (or (1, M, 2), for every batch element) normalised target-frame points come from
        in the source frame. (For a grid of points, :meth:`grid` is several times faster.)"""
        dtype = torch.promote_types(self.dtype, torch.float32)
        c, w = self.controls.to(dtype), self.weights.to(dtype)
        b, n = c.shape[:2]
        if points.ndim != 3 or points.shape[-1] != 2 or points.shape[0] not in (1, b):
            raise MotionError(f"points to map: expected ({b}, M, 2) or (1, M, 2), got {tuple(points.shape)}")
        p = points.to(dtype)
        affine = w[:, n:n + 1] + p[..., :1] * w[:, n + 1:n + 2] + p[..., 1:] * w[:, n + 2:]  # (B, M, 2)
        dx, dy = (p[..., k, None] - c[:, None, :, k] for k in (0, 1))  # (B, M, N)
        r2 = (dx * dx + dy * dy).clamp_min(torch.finfo(dtype).tiny)
        return torch.baddbmm(affine, r2 * torch.log(r2), w[:, :n])

    def _on_grid(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        """The spline at every (xs[j], ys[i]), (B, len(ys), len(xs), 2), without autograd: |p - c|^2 from
        a table of x and one of y distances, in chunks of rows kept in cache, in reused buffers."""
        dtype = xs.dtype
        c, w = self.controls.to(dtype), self.weights.to(dtype)
        b, n = c.shape[:2]
        h, wd = ys.numel(), xs.numel()
        dx2 = (xs[None, :, None] - c[:, None, :, 0]).square()  # (B, W, N)
        dy2 = (ys[None, :, None] - c[:, None, :, 1]).square()  # (B, H, N)
        out = (w[:, None, None, n] + xs[None, None, :, None] * w[:, None, None, n + 1]
               + ys[None, :, None, None] * w[:, None, None, n + 2])  # (B, H, W, 2): the affine part
        rows = max(1, min(h, CHUNK // (b * wd * n)))
        r2, log = (torch.empty(b, rows * wd, n, dtype=dtype, device=xs.device) for _ in range(2))
        tiny = torch.finfo(dtype).tiny  # U = r^2 log r^2 with r^2 >= tiny: U(0) = 0 to within 1e-36
        for s in range(0, h, rows):
            k = min(rows, h - s)
            r2_, log_ = r2[:, :k * wd], log[:, :k * wd]
            torch.add(dy2[:, s:s + k, None], dx2[:, None], out=r2_.view(b, k, wd, n))
            r2_.clamp_min_(tiny)
            torch.log(r2_, out=log_)
            out[:, s:s + k] += torch.bmm(r2_.mul_(log_), w[:, :n]).view(b, k, wd, 2)
        return out

    def grid(self, height: int, width: int, coarse: int | None = None) -> torch.Tensor:
        """The sampling grid (B, height, width, 2) for ``grid_sample`` (``align_corners=False``). With
        ``coarse``, the spline is evaluated on a grid of at most that many points a side, spanning the
        first to the last pixel centre, and upsampled bilinearly (exact for an affine motion; the spline is
        smooth, so the difference is sub-pixel for ``coarse`` >= 64 at 128 px; much faster at high
        resolution)."""
        device, dtype = self.controls.device, torch.promote_types(self.dtype, torch.float32)
        if coarse is None or (coarse >= height and coarse >= width):
            h, w = height, width
            ys = (2 * torch.arange(h, device=device, dtype=dtype) + 1) / h - 1
            xs = (2 * torch.arange(w, device=device, dtype=dtype) + 1) / w - 1
        else:
            if coarse < 2:
                raise MotionError(f"coarse grid of {coarse} points a side: use at least 2 (or None)")
            h, w = min(height, coarse), min(width, coarse)
            ys = torch.linspace(1 / height - 1, 1 - 1 / height, h, device=device, dtype=dtype)
            xs = torch.linspace(1 / width - 1, 1 - 1 / width, w, device=device, dtype=dtype)
        if torch.is_grad_enabled() and self.weights.requires_grad:
            g = self(torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(1, -1, 2)).reshape(-1, h, w, 2)
        else:
            g = self._on_grid(xs, ys)
        if (h, w) != (height, width):  # align_corners=True: the coarse points are the extreme pixel centres
            g = F.interpolate(g.permute(0, 3, 1, 2).contiguous(), size=(height, width), mode="bilinear",
                              align_corners=True).permute(0, 2, 3, 1)  # channels first: 4 times faster
        return g.to(self.dtype) if self.dtype.is_floating_point else g


def _collinear(c: torch.Tensor) -> torch.Tensor:
    """(B,) whether each set of (B, N, 2) points lies on a line (or a point): the smaller eigenvalue of its
    covariance is below ``COLLINEAR`` of the larger."""
    d = c - c.mean(1, keepdim=True)
    sxx, syy, sxy = d[..., 0].pow(2).sum(1), d[..., 1].pow(2).sum(1), (d[..., 0] * d[..., 1]).sum(1)
    half_trace, det = (sxx + syy) / 2, sxx * syy - sxy**2
    big = half_trace + (half_trace**2 - det).clamp_min(0).sqrt()
    return det / big.clamp_min(1e-300) <= COLLINEAR * big


@contextmanager
def _one_thread(device: torch.device):
    """Run small CPU work on one thread: the fit's tensors are small (B x N x N), and torch's threads wait on
    one another at every such operation, which costs a scheduler time slice each (100 times the work)
    when other processes share the cores."""
    n = torch.get_num_threads()
    if device.type != "cpu" or n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _checked(points: torch.Tensor, what: str) -> torch.Tensor:
    if points.ndim != 3 or points.shape[-1] != 2:
        raise MotionError(f"{what} landmarks: expected (B, N, 2) points, got {tuple(points.shape)}")
    if not torch.isfinite(points).all():
        raise MotionError(f"{what} landmarks are not finite (NaN or infinity): no motion can be fitted")
    return points.clamp(-MARGIN, MARGIN)


def default_coarse(side: int) -> int | None:
    """The coarse grid that keeps the warp within a tenth of a pixel of the exact one inside the face
    (99th percentile, measured on real frame pairs by ``benchmarks/motion.py``): 64 at 128 px, growing with
    the square root of the resolution (128 at 512 px); none below 128 px."""
    return None if side < 128 else int(64 * (side / 128) ** 0.5)


def warp(image: torch.Tensor, source_points: torch.Tensor, target_points: torch.Tensor, size: int,
         regularisation: float = 0.0, border: int = 5, coarse: int | None | str = "auto",
         resample: str = "bilinear") -> torch.Tensor:
    """Move ``image``'s pixels (B, C, H, W) so that its landmarks ``source_points`` land on
    ``target_points`` (both (B, 68, 2) pixel coordinates of a ``size`` crop; ``image`` may be that crop at
    any resolution). ``resample``: "bilinear" or "bicubic" sampling (``benchmarks/resampling.py``), border
    pixels repeated. ``coarse``: see :meth:`TPS.grid`; "auto": :func:`default_coarse` of the image's size;
    None: the exact grid."""
    tps = TPS(normalise(target_points.float(), size), normalise(source_points.float(), size), regularisation, border)
    if coarse == "auto":
        coarse = default_coarse(max(image.shape[-2:]))
    grid = tps.grid(*image.shape[-2:], coarse=coarse).to(image.dtype)
    if resample not in ("bilinear", "bicubic"):
        raise MotionError(f"resampling {resample!r}: use bilinear or bicubic")
    return F.grid_sample(image, grid, mode=resample, padding_mode="border", align_corners=False)
