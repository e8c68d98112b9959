"""Dense motion from a face mesh: the source's triangles moved onto the target's mesh (piecewise affine), drawn
far to near by the target's depth, and the 68-point thin-plate spline (:mod:`motiongan.motion`) outside the
mesh and in its holes (the eyes; the mouth's is filled: :data:`motiongan.face.mesh.MOUTH_FILL`), blended across
the outline so that there is no seam.

68 points say little about cheeks, lids and lip shape, and between them the spline interpolates smoothly
with no notion of what is in front of what. The mesh's 468 points (:mod:`motiongan.face.mesh`) move every
triangle of the face by its own affine map, and where a head turn folds the face, the nearer triangle wins.

Per frame, in the output crop's pixels (any size): each target triangle's affine map to its source triangle
(one batched solve); a map of which triangle is in front at each pixel (painter's order: each triangle
filled far to near by its mean target depth); the sampling grid there from its triangle's map, and the
spline's grid elsewhere; the two grids blended by a weight that rises from 0 on the mesh's outline to 1 at
``feather`` of the face's size inside (so the sampled coordinates, not two images, are blended: no double
edges), then one bilinear sampling of the source.

Where the head turns towards the side the source hides, the source has no pixels for the far cheek and eye:
their triangles are squashed in the source, and stretching them smears a fold across the face. Faces are
near symmetric, so with the mesh's left-right map (``mirror``) such a triangle is drawn from its mirror
triangle on the side the source shows, flipped (:func:`mirror_share`; the person's own pixels, as in
Hassner et al.'s "soft symmetry" for frontalisation, CVPR 2015); a frontal source lends nothing.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from .landmarks import similarity, smoothstep
from .motion import TPS, default_coarse, denormalise, normalise

FEATHER = 0.06  # the blend ramp's width inside the mesh's outline, a share of the face's size (its mesh extent)
# a triangle's area in the source over its area in the target: from SEEN[0] (turned away, its pixels squashed) to
# SEEN[1] (seen well) the source shows it; where it does not, its mirror triangle lends as much as its own ratio
# exceeds the triangle's by BETTER[0] (nothing) to BETTER[1] (all). Head-turn frames of the test people 20.56 ->
# 20.75 dB (benchmarks/mesh_motion.py)
SEEN = (0.3, 0.6)
BETTER = (0.1, 0.3)
MIRROR_BLUR = 0.04  # the mirror's weight map blurred by this share of the face's size


def triangle_maps(target: np.ndarray, source: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(K, 2, 3) affine maps taking each target triangle (points (N, 2)) onto its source triangle; a
    degenerate target triangle gets the map of its centroid's translation."""
    t = np.concatenate([target[triangles], np.ones((len(triangles), 3, 1))], 2)  # (K, 3, 3): rows x, y, 1
    s = source[triangles]  # (K, 3, 2)
    det = np.linalg.det(t)
    ok = np.abs(det) > 1e-6
    maps = np.zeros((len(triangles), 2, 3))
    maps[ok] = np.swapaxes(np.linalg.solve(t[ok], s[ok]), 1, 2)  # t @ M^T = s
    shift = s[~ok].mean(1) - t[~ok, :, :2].mean(1)
    maps[~ok] = np.concatenate([np.broadcast_to(np.eye(2), (int((~ok).sum()), 2, 2)), shift[:, :, None]], 2)
    return maps.astype(np.float32)


def front_triangle(target: np.ndarray, depth: np.ndarray, triangles: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) int32: the index of the triangle in front at each pixel (-1: none), the triangles filled far
    to near by their mean ``depth`` (smaller is nearer)."""
    ids = np.full(size, -1, np.int32)
    order = np.argsort(-depth[triangles].mean(1))  # far first: the nearer overwrite
    polys = np.round(target[triangles] * 16).astype(np.int32)  # 4 fractional bits
    for k in order:
        cv2.fillConvexPoly(ids, polys[k], int(k), cv2.LINE_8, 4)
    return ids


def signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(K,) the triangles' signed areas (pixels^2) at ``points`` (N, 2+)."""
    a, b, c = (points[triangles[:, k], :2].astype(np.float64) for k in range(3))
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1]))


def mirror_share(source_mesh: np.ndarray, target_mesh: np.ndarray, triangles: np.ndarray, mirror) -> np.ndarray:
    """(K,) how much of each target triangle comes from its mirror image on the source's face: where the source
    shows the triangle turned away (its area over the target's below :data:`SEEN`) and shows its mirror
    triangle (the other side of the face, :data:`motiongan.face.mesh.MIRROR`) larger by :data:`BETTER` of the
    target's area."""
    target = signed_areas(target_mesh, triangles)
    target = np.where(np.abs(target) > 1e-6, target, 1e-6)
    direct = signed_areas(source_mesh, triangles) / target
    mirrored = -signed_areas(source_mesh[list(mirror)], triangles) / target  # a mirror turns a triangle over
    return ((1 - smoothstep(direct, *SEEN)) * smoothstep(mirrored - direct, *BETTER)).astype(np.float32)


def mesh_warp(image: np.ndarray, source_mesh: np.ndarray, target_mesh: np.ndarray, source68: np.ndarray,
              target68: np.ndarray, triangles: np.ndarray, feather: float = FEATHER, mirror=None) -> np.ndarray:
    """``image`` (H, W, 3) uint8, a source crop, moved so that its mesh (468, 3) lands on ``target_mesh`` and,
    outside the mesh, its 68 points on ``target68`` (all in the crop's pixels). ``mirror``: the mesh's
    left-right vertex map; with it, the face's far side, turned away in the source, is drawn from its near
    side mirrored (:func:`mirror_share`)."""
    h, w = image.shape[:2]
    side = max(h, w)
    tps = TPS(normalise(torch.from_numpy(np.asarray(target68, np.float32))[None], side),
              normalise(torch.from_numpy(np.asarray(source68, np.float32))[None], side))
    with torch.no_grad():
        grid = denormalise(tps.grid(h, w, coarse=default_coarse(side))[0], side).numpy()  # (H, W, 2) pixels
    ids = front_triangle(target_mesh[:, :2], target_mesh[:, 2], triangles, (h, w))
    inside = ids >= 0
    if not inside.any():
        return _sample(image, grid)
    extent = float(np.ptp(target_mesh[:, :2], 0).max())
    ramp = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5) / max(1.0, feather * extent)
    ys, xs = np.nonzero(inside)
    at = ids[ys, xs]  # each inside pixel's triangle
    weight = smoothstep(ramp[ys, xs], 0.0, 1.0)[:, None]  # 0 on the outline, 1 from ``feather`` inside
    xs, ys = xs.astype(np.float32)[:, None], ys.astype(np.float32)[:, None]
    spline = grid[inside]

    def mesh_grid(source: np.ndarray, sel=slice(None)) -> np.ndarray:
        """The sampling grid at the inside pixels ``sel``: their triangles' maps onto ``source``, blended into
        the spline's across the outline."""
        m = triangle_maps(target_mesh[:, :2], source[:, :2], triangles)[at[sel]]  # (P, 2, 3)
        w = weight[sel]
        return w * (m[:, :, 0] * xs[sel] + m[:, :, 1] * ys[sel] + m[:, :, 2]) + (1 - w) * spline[sel]

    grid[inside] = mesh_grid(source_mesh)
    out = _sample(image, grid)
    share = None if mirror is None else mirror_share(source_mesh, target_mesh, triangles, mirror)
    if share is None or share.max() <= 0:
        return out
    lend = np.zeros((h, w), np.float32)
    lend[inside] = share[at]
    sigma = MIRROR_BLUR * extent
    ly, lx = np.nonzero(lend)
    if not len(ly):
        return out
    pad = int(np.ceil(3 * sigma)) + 1  # the blur's reach: the mirror's pixels lie in this box, and only there
    y0, y1 = max(ly.min() - pad, 0), min(ly.max() + pad + 1, h)
    x0, x1 = max(lx.min() - pad, 0), min(lx.max() + pad + 1, w)
    box = (slice(y0, y1), slice(x0, x1))
    alpha = np.zeros((h, w), np.float32)
    alpha[box] = cv2.GaussianBlur(lend[box], (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)  # no seam at its edge
    a = alpha[inside]  # the mirror's weight at the inside pixels (none outside the mesh)
    sel = np.flatnonzero(a > 0.5 / 255)  # no work where the mirror lends nothing
    if not len(sel):
        return out
    xy = np.zeros((y1 - y0, x1 - x0, 2), np.float32)
    py, px = ys[sel, 0].astype(np.int64) - y0, xs[sel, 0].astype(np.int64) - x0
    xy[py, px] = mesh_grid(source_mesh[list(mirror)], sel)
    flipped = _sample(image, xy)[py, px].astype(np.float32)
    gy, gx = py + y0, px + x0
    here = out[gy, gx].astype(np.float32)
    out[gy, gx] = np.clip(here + a[sel, None] * (flipped - here), 0, 255).round().astype(np.uint8)
    return out


def _sample(image: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return cv2.remap(image, grid[..., 0].astype(np.float32), grid[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def retarget_mesh(source: np.ndarray, driving: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """The source mesh (468, 3) moved the way ``driving`` moves from its ``neutral`` mesh, the motion put in
    the source's frame by the similarity from the neutral mesh to the source's (as the 68-point
    :func:`motiongan.landmarks.retarget`); depth scaled alike."""
    m = similarity(neutral[:, :2], source[:, :2])
    lin = m[:, :2]
    scale = float(np.sqrt(abs(np.linalg.det(lin))))
    out = source.astype(np.float32).copy()
    out[:, :2] += (driving[:, :2] - neutral[:, :2]) @ lin.T
    out[:, 2] += (driving[:, 2] - neutral[:, 2]) * scale
    return out
