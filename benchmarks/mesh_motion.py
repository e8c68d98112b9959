"""Mesh motion against the 68-point warp on the fixed test people: PSNR inside the face, where the head turns
and where the mouth opens, and the time per frame.

    python benchmarks/mesh_motion.py --data cache/all [--split test|train] [--max-clips N] [--frames 60]
        [--every 2] [--feather F] [--pictures DIR] [--readme PATH]

``--split train`` scores people the test list leaves out (held out from any choice made on the test people;
``--max-clips`` takes that many clips spread over the split). Rows: the 68-point spline, the mesh before issue 34's
second look (the mean of the model on five crops turned to level the eyes, the mouth a hole left to the spline),
the mesh now (three crops upright to 15 degrees of roll, each also mirrored, the mouth filled:
:mod:`motiongan.face.mesh`) without and with the far side of a turned head drawn from the near side mirrored
(``mesh_warp(..., mirror=MIRROR)``, as ``animate --motion mesh`` and ``evaluate --mesh`` draw it). Frame 0 of each
clip is the source; every ``--every``-th frame of the first ``--frames`` is a target, with the real frame's own 68
points and mesh (self-reenactment). Each motion warps the source crop; each is scored against the real frame inside
the target's 68-point face hull (its convex hull), on all frames, on frames whose head turned (the nose tip's
sideways offset from the eyes' midpoint, over the inter-ocular distance, moved by more than 0.1 from the source's),
and in the mouth box on frames whose mouth opens wider than the source's by 0.05 inter-ocular distances. The seam,
per frame: the mean gradient magnitude in a 3 px band across the target mesh's outline over the same in the face's
core (the mesh eroded by 4 px), on the warped image, divided by the same ratio on the real target frame (the face's
own outline is sharper than its inside: about 1.6 on real frames, printed too); averaged over the frames, for the
68-point spline and the mesh in the same bands (1: the outline, against the face's inside, no sharper than the real
face's own; above 1, a seam; the spline, which has no mesh outline, gives the scale).

``--readme PATH`` draws one picture (columns real | 68-point warp | mesh warp | mesh warp with real mouths
from the clip's own frames after the scored ones, as ``evaluate --mouths own``; each 128 px crop upscaled to
256 px with cubic interpolation) of typical frames, one row per group in this order: any frame; the mouth
opens (as above); the head turns (as above); a strong expression (the brows' and mouth corners' mean distance
from the source's, both laid on the source by their eye corners and nose bridge, over the inter-ocular
distance, in the top quarter of all frames); an eye closes (:func:`motiongan.landmarks.closing_eye`). Each row
is the group's frame, of a person no earlier row shows, whose mesh gain (the mesh's PSNR in the face hull minus
the spline's) is closest to the group's median gain; a line above each row names its group and gain.
"""
import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from motiongan.convention import to_image, to_tensor
from motiongan.data import Cache, EvalClips
from motiongan.evaluation import metrics as M
from motiongan.evaluation.evaluate import own_bank
from motiongan.face.mesh import CROP_SCALE, MIRROR, MeshError, MeshLandmarker, topology
from motiongan.landmarks import (
    EXPRESSION_STABLE,
    LEFT_BROW,
    MOUTH_CORNERS,
    RIGHT_BROW,
    closing_eye,
    interocular,
    mouth_box,
    open_mouth,
    to_canonical,
)
from motiongan.media import write_image
from motiongan.mesh_motion import FEATHER, front_triangle, mesh_warp
from motiongan.motion import warp
from motiongan.mouths import RealMouths


def yaw(points: np.ndarray) -> float:
    """A head-turn proxy: the nose tip's sideways offset from the eyes' midpoint, over the inter-ocular distance."""
    return float((points[30, 0] - (points[36, 0] + points[45, 0]) / 2) / interocular(points))


def hull_psnr(gen, real, points) -> float:
    mask = np.zeros(gen.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    m = mask.astype(bool)
    return M.psnr(gen[m], real[m])


def expression(points: np.ndarray, source: np.ndarray) -> float:
    """The brows' and mouth corners' mean distance from the source's, the target laid on the source by its eye
    corners and nose bridge, over the inter-ocular distance."""
    idx = list(RIGHT_BROW + LEFT_BROW + MOUTH_CORNERS)
    moved = to_canonical(points, source, EXPRESSION_STABLE)
    return float(np.linalg.norm(moved[idx] - source[idx], axis=1).mean() / interocular(source))


def bands(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 3 px band across the outline of the mesh's triangle map ``ids`` and its core (eroded by 4 px)."""
    inside = (ids >= 0).astype(np.uint8)
    band = (cv2.dilate(inside, np.ones((3, 3))) - cv2.erode(inside, np.ones((3, 3)))).astype(bool)
    return band, cv2.erode(inside, np.ones((9, 9))).astype(bool)


def edge_ratio(image, band, core) -> float:
    """An image's mean gradient magnitude in ``band`` over the same in ``core``."""
    g = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mag = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    return float(mag[band].mean() / max(mag[core].mean(), 1e-6))


def readme_picture(path: str, frames: list[dict]) -> list[dict]:
    """Write the README picture of the module docstring to ``path``; the chosen frames, one per row."""
    strong = np.quantile([f["expression"] for f in frames], 0.75)
    groups = (("any frame", lambda f: True), ("mouth opens", lambda f: f["open"]),
              ("head turns", lambda f: f["turned"]), ("strong expression", lambda f: f["expression"] >= strong),
              ("eye closes", lambda f: f["closing"]))
    chosen, used = [], set()
    for name, member in groups:
        group = [f for f in frames if member(f)]
        free = [f for f in group if f["person"] not in used]
        if not free:
            continue
        median = float(np.median([f["gain"] for f in group]))
        pick = min(free, key=lambda f: abs(f["gain"] - median))
        used.add(pick["person"])
        chosen.append(dict(pick, group=name, median=median, size=len(group)))
    font, cell = cv2.FONT_HERSHEY_SIMPLEX, 256
    head = np.full((28, 4 * cell, 3), 255, np.uint8)
    for k, text in enumerate(("real", "68-point warp", "mesh warp", "mesh warp + own mouths")):
        cv2.putText(head, text, (k * cell + 8, 20), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    parts = [head]
    for c in chosen:
        label = np.full((22, 4 * cell, 3), 255, np.uint8)
        text = (f"{c['group']}: mesh {c['gain']:+.2f} dB over the 68-point warp in the face (group median "
                f"{c['median']:+.2f})")
        cv2.putText(label, text, (8, 16), font, 0.45, (80, 80, 80), 1, cv2.LINE_AA)
        big = [cv2.resize(im, (cell, cell), interpolation=cv2.INTER_CUBIC) for im in (*c["images"], c["mouths"])]
        parts += [label, np.concatenate(big, 1)]
    write_image(path, np.concatenate(parts))  # atomic: a temporary name beside it, then os.replace
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--every", type=int, default=2)
    ap.add_argument("--split", default="test", choices=["test", "train", "all"])
    ap.add_argument("--max-clips", type=int, default=None)
    ap.add_argument("--feather", type=float, default=FEATHER)
    ap.add_argument("--pictures", default=None)
    ap.add_argument("--readme", default=None, help="write the README picture (see above) to this path")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cache = Cache(args.data)
    clips = EvalClips(cache, args.split, max_frames=args.frames)
    mesher, (triangles, _) = MeshLandmarker(), topology()
    a = 0.03 / CROP_SCALE  # 3 % of the 68 points' extent
    first_mesh = MeshLandmarker(jitter=((0, 0), (a, 0), (-a, 0), (0, a), (0, -a)), upright=0, mirror=False)
    holed = topology(mouth=False)[0]

    MESH, FIRST, UNMIRRORED = "mesh, far side mirrored", "mesh before (5 level)", "mesh, depth order"
    rows = {k: {"all": [], "turn": [], "open": [], "ms": []} for k in ("68-point TPS", FIRST, UNMIRRORED, MESH)}
    seams, frames, lost, mesh_ms = {"68-point TPS": [], MESH: [], "real": []}, [], 0, []
    ids = range(len(clips))
    if args.max_clips and args.max_clips < len(clips):
        ids = [round(k) for k in np.linspace(0, len(clips) - 1, args.max_clips)]
    for i in ids:
        clip = clips[i]
        real = np.stack([to_image(f) for f in clip["frames"]])
        lms = clip["landmarks"].numpy()
        try:
            src_mesh, src_first = mesher(real[0], lms[0]), first_mesh(real[0], lms[0])
        except MeshError:
            continue
        om, ce = open_mouth(lms, lms[0]), closing_eye(lms, lms[0])
        bank = own_bank(clips, i)
        fill = None if bank is None else RealMouths(real[0], lms[0], bank)
        for t in range(args.every, len(real), args.every):
            try:
                t0 = time.perf_counter()
                tgt_mesh = mesher(real[t], lms[t])
                mesh_ms.append(1000 * (time.perf_counter() - t0))
                tgt_first = first_mesh(real[t], lms[t])
            except MeshError:
                lost += 1
                continue
            t0 = time.perf_counter()
            tps = to_image(warp(to_tensor(real[0])[None], torch.from_numpy(lms[:1]), torch.from_numpy(lms[t:t + 1]),
                                real.shape[1])[0].clamp(-1, 1))
            t1 = time.perf_counter()
            mesh = mesh_warp(real[0], src_mesh, tgt_mesh, lms[0], lms[t], triangles, args.feather, MIRROR)
            t2 = time.perf_counter()
            unmirrored = mesh_warp(real[0], src_mesh, tgt_mesh, lms[0], lms[t], triangles, args.feather)
            t2u = time.perf_counter()
            before = mesh_warp(real[0], src_first, tgt_first, lms[0], lms[t], holed, args.feather)
            t3 = time.perf_counter()
            turned = abs(yaw(lms[t]) - yaw(lms[0])) > 0.1
            box = mouth_box(lms[t], real[t].shape)
            for name, gen, dt in (("68-point TPS", tps, t1 - t0), (FIRST, before, t3 - t2u),
                                  (UNMIRRORED, unmirrored, t2u - t2), (MESH, mesh, t2 - t1)):
                r = rows[name]
                r["all"].append(hull_psnr(gen, real[t], lms[t]))
                r["ms"].append(1000 * dt)
                if turned:
                    r["turn"].append(r["all"][-1])
                if om[t]:
                    r["open"].append(M.psnr(gen[box], real[t][box]))
            band, core = bands(front_triangle(tgt_mesh[:, :2], tgt_mesh[:, 2], triangles, mesh.shape[:2]))
            own = edge_ratio(real[t], band, core)
            seams["real"].append(own)
            for name, gen in (("68-point TPS", tps), (MESH, mesh)):
                seams[name].append(edge_ratio(gen, band, core) / own)
            frames.append({"gain": rows[MESH]["all"][-1] - rows["68-point TPS"]["all"][-1], "person": clip["person"],
                           "clip": clip["clip_id"], "t": t, "open": bool(om[t]), "turned": turned,
                           "closing": bool(ce[t]), "expression": expression(lms[t], lms[0]),
                           "seam": (seams["68-point TPS"][-1], seams[MESH][-1]), "images": (real[t], tps, mesh),
                           "mouths": mesh if fill is None else fill(mesh, lms[t])})
    mean = lambda x: float(np.mean([v for v in x if np.isfinite(v)])) if x else float("nan")  # noqa: E731
    n = len(rows["68-point TPS"]["all"])
    print(f"{len(ids)} '{args.split}' clips, {n} target frames ({lost} left out: the mesh found no face); PSNR "
          f"inside the target's face hull; feather {args.feather:g}")
    print(f"{'motion':22} {'face':>6} {'turned':>7} {'open mouth':>10} {'ms/frame':>8}")
    for name, r in rows.items():
        print(f"{name:22} {mean(r['all']):6.2f} {mean(r['turn']):7.2f} {mean(r['open']):10.2f} "
              f"{np.median(r['ms']):8.2f}   ({len(r['turn'])} turned, {len(r['open'])} open-mouth frames)")
    for name in (FIRST, UNMIRRORED, MESH):
        d = np.array(rows[name]["all"]) - np.array(rows["68-point TPS"]["all"])
        print(f"{name} - TPS per frame: mean {d.mean():+.2f} dB, frames better {np.mean(d > 0) * 100:.0f} %")
    print(f"seam (outline band over face core, warped over real; 1: none added): 68-point TPS "
          f"{np.mean(seams['68-point TPS']):.2f}, mesh {np.mean(seams[MESH]):.2f} (the real frames' own ratio "
          f"{np.mean(seams['real']):.2f}); the mesh found on a frame: {np.median(mesh_ms):.1f} ms (median)")
    if args.pictures:
        picks = sorted(frames, key=lambda f: f["gain"])
        chosen = picks[:3] + picks[len(picks) // 2: len(picks) // 2 + 2] + picks[-3:]
        Path(args.pictures).mkdir(parents=True, exist_ok=True)
        write_image(Path(args.pictures) / "mesh_motion.png",
                    np.concatenate([np.concatenate(f["images"], 1) for f in chosen]))
        print(f"{args.pictures}/mesh_motion.png: real | 68-point TPS | mesh (worst three, two middle, best three)")
    if args.readme:
        print(f"{args.readme}: real | 68-point warp | mesh warp | + own mouths, one typical frame per group")
        for c in readme_picture(args.readme, frames):
            print(f"  {c['group']:18} {c['person']} ({c['clip']}) frame {c['t']}: mesh {c['gain']:+.2f} dB, "
                  f"median of its {c['size']} frames {c['median']:+.2f}; seam TPS {c['seam'][0]:.2f}, mesh "
                  f"{c['seam'][1]:.2f}")


if __name__ == "__main__":
    main()
