"""The 68-point landmark vocabulary (iBUG 300-W order, 0-based indices).

Coordinates are (x, y) in pixels of the image they belong to, with the centre of the top-left pixel at
(0, 0). iBUG ``.pts`` files use the Matlab convention (first pixel centre at 1.0); :func:`read_pts` and
:func:`write_pts` are the only places that convert.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from .errors import MotionGANError
from .media import atomic_write_bytes

N_POINTS = 68
PTS_OFFSET = 1.0  # .pts coordinate minus this = our 0-based pixel coordinate
OUTER_EYE_CORNERS = (36, 45)

# Mirror permutation of the 68 iBUG points: index i of a mirrored face takes point MIRROR[i].
_PAIRS = (
    [(i, 16 - i) for i in range(8)]  # jaw
    + [(17 + i, 26 - i) for i in range(5)]  # brows
    + [(31, 35), (32, 34)]  # nostrils
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    + [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56)]  # outer lip
    + [(60, 64), (61, 63), (67, 65)]  # inner lip
)
MIRROR = np.arange(N_POINTS)
for _a, _b in _PAIRS:
    MIRROR[_a], MIRROR[_b] = _b, _a
MIRROR.setflags(write=False)


class LandmarkFileError(MotionGANError):
    """A landmark file that cannot be read; the message names the file and line."""


def read_pts(path: str | os.PathLike) -> np.ndarray:
    """Read an iBUG ``.pts`` file into a (68, 2) float32 array of 0-based pixel coordinates."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise LandmarkFileError(f"{path}: cannot read landmark file ({e})") from None
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == "{")
        end = next(i for i, ln in enumerate(lines) if ln.strip() == "}")
    except StopIteration:
        raise LandmarkFileError(f"{path}: not an iBUG .pts file (no '{{' ... '}}' block)") from None
    points = []
    for lineno in range(start + 1, end):
        fields = lines[lineno].replace(",", " ").split()
        try:
            x, y = (float(v) for v in fields)
        except ValueError:
            raise LandmarkFileError(
                f"{path}, line {lineno + 1}: expected two numbers 'x y', got {lines[lineno]!r}"
            ) from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise LandmarkFileError(f"{path}, line {lineno + 1}: coordinates are not finite")
        points.append((x, y))
    if len(points) != N_POINTS:
        raise LandmarkFileError(
            f"{path}, line {end + 1}: expected {N_POINTS} points, found {len(points)}"
        )
    return np.asarray(points, np.float32) - PTS_OFFSET


def write_pts(path: str | os.PathLike, points: np.ndarray) -> None:
    """Write (68, 2) 0-based points as an iBUG ``.pts`` file (atomically)."""
    points = check_points(points, str(path))
    body = "\n".join(f"{x + PTS_OFFSET:.6f} {y + PTS_OFFSET:.6f}" for x, y in points)
    text = f"version: 1\nn_points: {N_POINTS}\n{{\n{body}\n}}\n"
    atomic_write_bytes(path, text.encode())


def check_points(points, what: str = "landmarks") -> np.ndarray:
    """Return ``points`` as float32 (..., 68, 2), or raise naming ``what`` and the bad shape."""
    arr = np.asarray(points, dtype=np.float32)
    if arr.ndim < 2 or arr.shape[-2:] != (N_POINTS, 2):
        raise LandmarkFileError(f"{what}: expected shape (..., {N_POINTS}, 2), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise LandmarkFileError(f"{what}: landmarks contain NaN or infinite values")
    return arr


# ----------------------------------------------------------------------------------------- mirroring
def mirror_points(points, width: int):
    """Mirror (..., 68, 2) points of an image ``width`` pixels wide: flip x and permute indices."""
    if isinstance(points, torch.Tensor):
        out = points[..., torch.tensor(MIRROR, device=points.device), :].clone()
    else:
        out = np.asarray(points)[..., MIRROR, :].copy()
    out[..., 0] = (width - 1) - out[..., 0]
    return out


def mirror(image: np.ndarray, points: np.ndarray):
    """Mirror an (H, W, C) image and its (..., 68, 2) points together."""
    return image[:, ::-1].copy(), mirror_points(points, image.shape[1])


# ------------------------------------------------------------------------------------------- errors
def interocular(points):
    """Distance between the outer eye corners (points 36 and 45), shape (...)."""
    a, b = OUTER_EYE_CORNERS
    d = points[..., a, :] - points[..., b, :]
    return (d**2).sum(-1) ** 0.5


def normalised_error(pred, target):
    """Mean point-to-point Euclidean error divided by the target's inter-ocular distance, shape (...)."""
    per_point = ((pred - target) ** 2).sum(-1) ** 0.5
    return per_point.mean(-1) / interocular(target)


# ---------------------------------------------------------------------------------------- smoothing
def smooth(track: np.ndarray, sigma: float) -> np.ndarray:
    """Temporal Gaussian smoothing (``sigma`` frames, along the first axis) of a landmark track (T, 68, 2)
    or a track of crop boxes (T, 3); ``sigma`` <= 0 leaves it as it is."""
    if sigma <= 0 or len(track) < 2:
        return np.asarray(track, np.float32)
    return gaussian_filter1d(np.asarray(track, np.float64), sigma, axis=0, mode="nearest").astype(np.float32)


# ------------------------------------------------------------------------------------------ affines
def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (..., 2) points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix."""
    full = np.vstack([matrix, [0, 0, 1]]).astype(np.float64)
    return np.linalg.inv(full)[:2].astype(np.float32)


# ---------------------------------------------------------------------------- alignment, retargeting
def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama) mapping (N, 2) ``src`` onto ``dst``, as a 2x3 matrix."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var = (a**2).sum() / len(src)
    scale = np.trace(np.diag(d) @ sign) / var
    lin = scale * rot
    return np.hstack([lin, (mu_d - lin @ mu_s)[:, None]]).astype(np.float32)


def retarget(source: np.ndarray, driving: np.ndarray, neutral: int | np.ndarray = 0) -> np.ndarray:
    """Move ``source`` (68, 2) the way ``driving`` (T, 68, 2) moves relative to its neutral frame.

    Each driving displacement from the neutral shape is expressed in the source's frame by the linear
    part (scale and rotation) of the similarity that maps the driver's neutral shape onto the source,
    so the driver's face shape, size, position and roll are not transferred, only its motion.
    """
    source = check_points(source, "source landmarks")
    driving = check_points(driving, "driving landmarks")
    base = driving[neutral] if isinstance(neutral, (int, np.integer)) else check_points(neutral)
    lin = similarity(base, source)[:, :2]
    return (source + (driving - base) @ lin.T).astype(np.float32)


# ------------------------------------------------------------------------------------------ regions
# The one home of face regions: their indices, openings, areas and boxes, and evaluation's open-mouth and
# closing-eye rules. Index a region as ``points[..., list(REGION), :]``, never by a literal slice.
JAW = tuple(range(0, 17))
RIGHT_BROW, LEFT_BROW = tuple(range(17, 22)), tuple(range(22, 27))  # the subject's right and left brow
NOSE = tuple(range(27, 36))
NOSE_BRIDGE = (27, 28, 29, 30)
NOSTRILS = tuple(range(31, 36))  # the nose's lower outline
RIGHT_EYE, LEFT_EYE = tuple(range(36, 42)), tuple(range(42, 48))  # the subject's right and left eye
EYES = RIGHT_EYE + LEFT_EYE
OUTER_LIP = tuple(range(48, 60))  # the outer lip outline
INNER_MOUTH = tuple(range(60, 68))  # the inner lip outline, clockwise
MOUTH = OUTER_LIP + INNER_MOUTH  # points 48-67
# the face drawn as polylines (region, closed): jaw, brows and nose open, eyes and lips closed
OUTLINE = ((JAW, False), (RIGHT_BROW, False), (LEFT_BROW, False), (NOSE_BRIDGE, False), (NOSTRILS, False),
           (RIGHT_EYE, True), (LEFT_EYE, True), (OUTER_LIP, True), (INNER_MOUTH, True))
# pairs of points whose distance is a region's opening: the inner lips, the eyelids
OPENING = {INNER_MOUTH: ((61, 67), (62, 66), (63, 65)), RIGHT_EYE: ((37, 41), (38, 40)),
           LEFT_EYE: ((43, 47), (44, 46))}


def gap(points, region: tuple[int, ...]):
    """The mean distance of a region's facing points (:data:`OPENING`), in the units of ``points``, shape
    (...); numpy or torch points (..., 68, 2)."""
    a, b = (list(x) for x in zip(*OPENING[region]))
    d = points[..., a, :] - points[..., b, :]
    return ((d**2).sum(-1) ** 0.5).mean(-1)


def opening(points, region: tuple[int, ...]):
    """How far a region (inner mouth, an eye) is open: its :func:`gap` over the inter-ocular distance,
    shape (...)."""
    return gap(points, region) / interocular(points)


def widening(target, source, region: tuple[int, ...]):
    """How much wider ``region`` opens in ``target`` than in ``source`` (inter-ocular units), shape (...)."""
    return opening(target, region) - opening(source, region)


def area(points, region: tuple[int, ...]):
    """The area of a region's polygon (inner mouth, an eye) over the squared inter-ocular distance, shape
    (...); numpy or torch points (..., 68, 2)."""
    p = points[..., list(region), :]
    x, y = p[..., 0], p[..., 1]
    xs, ys = (v[..., list(range(1, len(region))) + [0]] for v in (x, y))  # the next vertex
    cross = (x * ys - y * xs).sum(-1)
    return abs(cross) / 2 / interocular(points) ** 2


CLOSED_AREA = 5e-4  # a closed mouth's inner area (inter-ocular units squared), so a ratio over it stays finite


def stretch_ratio(source_lms, target_lms):
    """(...,): how far a warp stretches the source's mouth: the inner-mouth area of the target over the
    source's, each in units of its own face's size (inter-ocular distance squared); numpy or torch."""
    src = area(source_lms, INNER_MOUTH)
    src = src.clamp_min(CLOSED_AREA) if isinstance(src, torch.Tensor) else np.maximum(src, CLOSED_AREA)
    return area(target_lms, INNER_MOUTH) / src


def smoothstep(x, low: float, high: float):
    """0 below ``low``, 1 above ``high`` (``low`` > ``high`` reverses it), a cubic ramp between; numpy or torch."""
    r = (x - low) / (high - low)
    r = r.clamp(0, 1) if isinstance(r, torch.Tensor) else np.clip(r, 0, 1)
    return r * r * (3 - 2 * r)


def stretch_weight(source_lms, target_lms, low: float, high: float):
    """(...,) in [0, 1]: :func:`smoothstep` from ``low`` to ``high`` of :func:`stretch_ratio`: 0 where the
    source's own mouth pixels cover the target's, 1 where the warp must stretch them past ``high``."""
    return smoothstep(stretch_ratio(source_lms, target_lms), low, high)


# ------------------------------------------------------- evaluation's regions: open mouths, closing eyes, boxes
OPEN_MOUTH = 0.05  # inter-ocular distances wider than the source's inner lips: an "open-mouth" frame
CLOSING_EYE = 0.6  # a target eye opening less than this share of the source's: a "closing-eye" frame
MOUTH_GROW = 0.25  # the mouth box grows by this share of its width and height on each side
EYE_BOX = (0.8, 0.6)  # an eye box's half-width and half-height, in distances between the eye's corners


def open_mouth(lms: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Frames (T,) whose target inner-lip opening exceeds the source's by more than ``OPEN_MOUTH``."""
    return widening(lms, source, INNER_MOUTH) > OPEN_MOUTH


def closing_eye(lms: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Frames (T,) where either target eye opens less than ``CLOSING_EYE`` of the source's."""
    return np.any([opening(lms, eye) < CLOSING_EYE * opening(source, eye) for eye in (RIGHT_EYE, LEFT_EYE)], 0)


def grown_box(points: np.ndarray, grow: float, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The pixels (rows, columns) whose centres lie in the bounding box of (N, 2) ``points`` grown by
    ``grow`` times its width and height on each side, clipped to an image of ``shape`` (at least one)."""
    lo, hi = points.min(0), points.max(0)
    pad = (hi - lo) * grow
    lo, hi = np.ceil(lo - pad).astype(int), np.floor(hi + pad).astype(int) + 1
    h, w = shape[:2]
    x0, y0 = min(max(lo[0], 0), w - 1), min(max(lo[1], 0), h - 1)
    return slice(y0, max(min(hi[1], h), y0 + 1)), slice(x0, max(min(hi[0], w), x0 + 1))


def mouth_box(points: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The mouth box of a frame's (68, 2) points in an image of ``shape``: the :func:`grown_box` of the
    :data:`MOUTH` points grown by ``MOUTH_GROW``."""
    return grown_box(points[list(MOUTH)], MOUTH_GROW, shape)


def eye_boxes(points: np.ndarray, shape: tuple[int, ...]) -> list[tuple[slice, slice]]:
    """The right and left eye boxes of a frame's (68, 2) points: ``EYE_BOX`` times the distance between the
    eye's corners on each side of their midpoint (so a closed eye's box still holds its lids)."""
    boxes = []
    for eye in (RIGHT_EYE, LEFT_EYE):
        a, b = points[eye[0]], points[eye[3]]
        half = np.array(EYE_BOX) * float(np.hypot(*(b - a)))
        centre = (a + b) / 2
        boxes.append(grown_box(np.stack([centre - half, centre + half]), 0.0, shape))
    return boxes


def polygon_mask(points: torch.Tensor, region: tuple[int, ...], size: int, grow: float = 1.0,
                 feather: float = 1.0, window: int | None = None) -> torch.Tensor:
    """A soft mask (B, 1, size, size) of the polygon through ``points[:, region]`` (pixel coordinates of a
    ``size`` crop), grown by ``grow`` pixels with a ``feather``-pixel ramp: 1 inside, 0 far outside,
    from the signed distance to the outline. With ``window``, the mask is computed only in a square of
    that many pixels centred on the polygon (zero outside it: it must hold the grown polygon)."""
    poly = points[:, list(region)].float()  # (B, K, 2)
    b = poly.shape[0]
    side = size if window is None else min(window, size)
    origin = ((poly.amin(1) + poly.amax(1)) / 2 - side / 2).round().clamp(0, size - side)  # (B, 2)
    offs = torch.arange(side, device=points.device, dtype=torch.float32)
    local = poly - origin[:, None]
    inside_window = _polygon_distance(local, offs)  # (B, side, side)
    soft = ((grow + feather / 2 - inside_window) / feather).clamp(0, 1)
    if side == size:
        return soft[:, None]
    o = origin.long()
    rows = (o[:, 1, None] + offs.long())[:, :, None] * size + (o[:, 0, None] + offs.long())[:, None, :]
    out = soft.new_zeros(b, size * size)
    out.scatter_(1, rows.reshape(b, -1), soft.reshape(b, -1))
    return out.reshape(b, 1, size, size)


def _polygon_distance(poly: torch.Tensor, offs: torch.Tensor) -> torch.Tensor:
    """Signed distance (B, n, n) of the pixels (x, y) in ``offs`` x ``offs`` to the polygon outline
    (negative inside; inside by the crossing number of a horizontal ray)."""
    a, b = poly, poly.roll(-1, 1)  # edges a -> b, (B, K, 2)
    ax, ay = a[..., 0, None, None], a[..., 1, None, None]  # (B, K, 1, 1)
    ex, ey = (b - a)[..., 0, None, None], (b - a)[..., 1, None, None]
    px, py = offs[None, None, None, :], offs[None, None, :, None]  # x along the last axis, y along rows
    t = (((px - ax) * ex + (py - ay) * ey) / (ex * ex + ey * ey + 1e-9)).clamp(0, 1)
    dist = ((px - ax - t * ex) ** 2 + (py - ay - t * ey) ** 2).amin(1).sqrt()
    by = ay + ey
    cross = ((ay > py) != (by > py)) & (px < ax + (py - ay) * ex / (ey + 1e-9))
    inside = cross.sum(1) % 2 == 1
    return torch.where(inside, -dist, dist)


# ------------------------------------------------------------------- more regions, the canonical frame
JAW_TOP = (0, 1, 2, 14, 15, 16)  # the jaw beside the ears: speech and expressions hardly move it
EYE_CORNERS = (36, 39, 42, 45)  # outer and inner corners of the right, then the left eye
NOSE_TIP = 30
MOUTH_CORNERS = (48, 54)  # the subject's right, then left
# The points a canonical frame is fitted on (see to_canonical). STABLE: the default, the frame speech is
# learned in; EXPRESSION_STABLE: the frame expressions are measured in (motiongan.inference.edit).
STABLE = JAW_TOP + NOSE + RIGHT_EYE + LEFT_EYE
EXPRESSION_STABLE = NOSE_BRIDGE + EYE_CORNERS


def canonical_matrices(points: np.ndarray, reference: np.ndarray, stable: tuple[int, ...] = STABLE) -> np.ndarray:
    """The (..., 2, 3) image -> canonical similarities of :func:`to_canonical`, one per shape."""
    points = np.asarray(points, np.float32)
    idx = list(stable)
    ref = np.asarray(reference)
    ref = ref[idx] if len(ref) == N_POINTS else ref
    flat = points.reshape(-1, N_POINTS, 2)
    return np.stack([similarity(p[idx], ref) for p in flat]).reshape(*points.shape[:-2], 2, 3)


def to_canonical(points: np.ndarray, reference: np.ndarray, stable: tuple[int, ...] = STABLE) -> np.ndarray:
    """Shapes (..., 68, 2) in a canonical, pose-free frame: each moved by the similarity (Umeyama,
    :func:`similarity`) that best maps its ``stable`` points onto the same points of ``reference`` (a (68, 2)
    template, or the positions of the stable points alone), so head size, position and roll drop out.

    The stable points are those the motion being measured moves least. The default, :data:`STABLE`, is
    the top of the jaw, the nose and both eyes (27 points): speech moves none of them much, and many points
    average out a tracker's noise frame by frame; the shipped speech model was trained in this frame.
    Expressions move the eyelids (surprise opens them, a smile narrows them), so they are measured on
    :data:`EXPRESSION_STABLE`, the eye corners and the nose bridge only (the shipped expressions file was
    measured so). One set for both would change the inputs of one of the two shipped models.
    """
    points = np.asarray(points, np.float32)
    mats = canonical_matrices(points, reference, stable).reshape(-1, 2, 3)
    flat = points.reshape(-1, N_POINTS, 2)
    return np.stack([apply_affine(p, m) for p, m in zip(flat, mats)]).reshape(points.shape).astype(np.float32)
