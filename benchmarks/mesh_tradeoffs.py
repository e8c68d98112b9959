"""Why the mesh warp stays off the 68-point judge's bar, and why real mouths keep the 68-point targets with it.

    python benchmarks/mesh_tradeoffs.py --data cache/all

On the fixed test people (frames 0-39 of each clip, frame 0 the source, as ``motiongan evaluate --split test
--max-frames 40 --mesh``), the mesh warp (:mod:`motiongan.mesh_motion`, as evaluate's row: the far side
mirrored) with its meshes pulled onto the 68
points by a thin-plate spline of their differences at the mesh's iBUG vertices
(:data:`motiongan.face.mesh.IBUG_FROM_MESH`), exactly (lambda 0) or smoothed (lambda > 0), or by one similarity,
or only the target's mesh moved so that its motion from the source's at those vertices is the 68 points' (their
differences from the source frame's differences);
each row's landmark AUC@0.1 (dlib's 68 points fitted on the frame against the target's, as ``evaluate``), the
same against dlib's points fitted on the real frame (the same detector on the frame the row should look like)
and PSNR inside the target's face hull (frames 1-39). The real frames are a row of their own: they score the AUC
too.

Then real mouths (:class:`motiongan.mouths.RealMouths`, the clip's own frames after the scored window as
donors) on the mesh warp, put on the target's 68 points or on where the mesh carried the source's
(barycentric coordinates in the source's mesh triangle, put on the target's): open-mouth PSNR and SSIM in the
mouth box and the mouth's sharpness (the package's series).
"""
import argparse

import numpy as np
import torch
from tqdm import tqdm

from motiongan.convention import to_image
from motiongan.data import Cache, EvalClips
from motiongan.evaluation import metrics as M
from motiongan.evaluation.evaluate import face_psnr, own_bank
from motiongan.evaluation.scoring import DlibScores, pixel_series
from motiongan.face.mesh import IBUG_FROM_MESH, MIRROR, MeshLandmarker, topology
from motiongan.landmarks import apply_affine, normalised_error, similarity
from motiongan.mesh_motion import mesh_warp
from motiongan.motion import TPS, denormalise, normalise
from motiongan.mouths import RealMouths

IBUG = list(IBUG_FROM_MESH)


def pulled(mesh: np.ndarray, points: np.ndarray, side: int, lam: float | None) -> np.ndarray:
    """``mesh`` moved so that its iBUG vertices land on ``points``: a spline of regularisation ``lam`` (None:
    one similarity)."""
    out = mesh.copy()
    if lam is None:
        out[:, :2] = apply_affine(mesh[:, :2], similarity(mesh[IBUG, :2], points))
        return out
    t = TPS(normalise(torch.from_numpy(mesh[IBUG, :2].copy())[None], side),
            normalise(torch.from_numpy(np.asarray(points, np.float32))[None], side), regularisation=lam)
    out[:, :2] = denormalise(t(normalise(torch.from_numpy(mesh[:, :2].copy())[None], side))[0], side).numpy()
    return out


def carry(points: np.ndarray, source_mesh: np.ndarray, target_mesh: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Where ``points`` of the source's face land when its mesh moves onto ``target_mesh`` (barycentric
    coordinates in the nearest source triangle holding each; NaN outside the mesh)."""
    p = np.asarray(points, np.float64)
    a, b, c = (source_mesh[triangles[:, k], :2].astype(np.float64) for k in range(3))
    v0, v1 = b - a, c - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    d = p[:, None] - a[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (d[..., 0] * v1[:, 1] - v1[:, 0] * d[..., 1]) / den
        v = (v0[:, 0] * d[..., 1] - d[..., 0] * v0[:, 1]) / den
    inside = (np.abs(den) > 1e-9) & (u >= 0) & (v >= 0) & (u + v <= 1)
    k = np.where(inside, source_mesh[triangles, 2].mean(1)[None], np.inf).argmin(1)
    n = np.arange(len(p))
    bary = np.stack([1 - u[n, k] - v[n, k], u[n, k], v[n, k]], 1)
    out = np.einsum("nj,njd->nd", bary, target_mesh[triangles[k], :2].astype(np.float64))
    out[~inside.any(1)] = np.nan
    return out.astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--max-frames", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(1)
    clips = EvalClips(Cache(args.data), "test", max_frames=args.max_frames)
    mesher, triangles, dlib = MeshLandmarker(), topology()[0], DlibScores()
    pulls = {"mesh": "none", "mesh onto the 68, exact": 0.0, "mesh onto the 68, lambda 0.01": 1e-2,
             "mesh onto the 68, lambda 0.1": 1e-1, "mesh onto the 68, one similarity": None,
             "mesh's motion onto the 68's, lambda 0.1": "motion"}
    rows = {"real frames": [], "68-point warp": [], **{k: [] for k in pulls}}
    mouths = {"mesh + own mouths at the 68 points": [], "mesh + own mouths where the mesh put them": []}
    for i in tqdm(range(len(clips)), desc="clips"):
        clip = clips[i]
        real, lms = np.stack([to_image(f) for f in clip["frames"]]), clip["landmarks"].numpy()
        side = real.shape[1]
        meshes = np.stack([mesher(f, t) for f, t in zip(real, lms)])
        frames = {"real frames": real, "68-point warp": np.stack(
            [mesh_warp(real[0], meshes[0], m, lms[0], t, triangles[:0]) for m, t in zip(meshes, lms)])}
        offset = lms[0] - meshes[0][IBUG, :2]  # the source frame's 68 points from their vertices
        for name, lam in pulls.items():
            if lam == "motion":
                frames[name] = np.stack([mesh_warp(real[0], meshes[0], pulled(m, t - offset, side, 1e-1), lms[0], t,
                                                   triangles, mirror=MIRROR) for m, t in zip(meshes, lms)])
                continue
            move = (lambda m, t: m) if lam == "none" else (lambda m, t, lam=lam, side=side: pulled(m, t, side, lam))
            source = move(meshes[0], lms[0])
            frames[name] = np.stack([mesh_warp(real[0], source, move(m, t), lms[0], t, triangles, mirror=MIRROR)
                                     for m, t in zip(meshes, lms)])
        found = {name: np.stack([dlib.detect(*dlib.upscale(x, t)) for x, t in zip(f, lms)])
                 for name, f in frames.items()}
        for name, f in frames.items():
            rows[name].append((normalised_error(found[name], lms), normalised_error(found[name], found["real frames"]),
                               face_psnr(f, real, lms)[1:]))
        bank = own_bank(clips, i)
        if bank is None:
            continue
        carried = [carry(lms[0], meshes[0], m, triangles) for m in meshes]
        carried = [np.where(np.isfinite(c), c, t) for c, t in zip(carried, lms)]
        for name, points in zip(mouths, (lms, carried)):
            fill = RealMouths(real[0], lms[0], bank)
            mouths[name].append(pixel_series(np.stack([fill(x, p) for x, p in zip(frames["mesh"], points)]),
                                             real, lms))
    print(f"{'row':40s} AUC@0.1  against the real frame's  face PSNR")
    for name, per in rows.items():
        auc, own = (M.auc(np.concatenate([p[k] for p in per])) for k in (0, 1))
        face = "" if name == "real frames" else f"{np.mean(np.concatenate([p[2] for p in per])):9.2f}"
        print(f"{name:40s} {auc:7.2f}  {own:23.2f}  {face}")
    print(f"\n{'row':44s} open-mouth PSNR  SSIM   sharpness")
    for name, per in mouths.items():
        def pooled(key, per=per):
            return np.mean(np.concatenate([np.asarray(p[key])[np.asarray(p["open_mouth"], bool)] for p in per]))
        print(f"{name:44s} {pooled('mouth_psnr'):15.2f}  {pooled('mouth_ssim'):.3f}  "
              f"{pooled('mouth_sharpness'):.2f}")


if __name__ == "__main__":
    main()
