"""Speed and accuracy of the thin-plate spline motion (motiongan.motion) on CPU; prints a table, then JSON.

    python benchmarks/motion.py [--batch 16] [--threads 2] [--cache /work/cache/all] [--pairs 640] [--json PATH]

Speed: ms per frame, for a batch of frames, of the fit (``TPS``), the sampling grid (``TPS.grid``, full
resolution or ``coarse`` 32 / 64 / 128 points a side) and ``grid_sample``, at 128 and 512 px; the least
and the median wall time of ``--repeats`` runs, and the least CPU time of the process (the least is the
one to compare: other processes on the machine only ever add to it; the load average is printed. With
``--threads 1`` the CPU time is what the work costs on an idle core; with more threads, torch's threads
wait on one another at each operation, a scheduler time slice each when the cores are shared).

Accuracy: how far the coarse grids sample from where the full grid does, in pixels of the image
(mean, 99th percentile, max), over all pixels and over the face (the target landmarks' bounding box).

The motion is real where a prepared cache is found (``--cache``, default /work/cache/all): pairs of frames
of one clip, the source frame's landmarks moved onto the target frame's (128 px crop coordinates). Without
one, the iBUG mean shape of ../shared/data/stills68 is moved as a talking face moves (jaw and lips open,
head turned and shifted, jitter).
"""
import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from motiongan.motion import TPS, normalise

ROOT = Path(__file__).resolve().parents[1]
MEAN_SHAPE = ROOT.parent / "shared" / "data" / "stills68" / "mean_ibug_lfpw_68.txt"
SIZE = 128  # the landmarks' crop
COARSE = (None, 32, 64, 128)
TARGET_MS = 5.0  # per frame at 128 px
SUB_PIXEL = 0.25  # the 99th percentile a coarse grid must stay under, in pixels
DRAW = 640  # pairs drawn at least (the timed batch is the first ones)


def cache_pairs(root: Path, n: int, rng: np.random.Generator):
    """(source, target) landmarks (n, 68, 2) from frame pairs of the cache's clips (at least 2 frames)."""
    from motiongan.data import Cache

    cache = Cache(root)
    if cache.size != SIZE:
        raise SystemExit(f"{root}: a cache of {cache.size} px crops; this benchmark expects {SIZE}")
    clips = [i for i, c in enumerate(cache.clips) if c["frames"] >= 2]
    src, tgt = [], []
    for k in range(n):
        lms = cache.clip(clips[k % len(clips)] if k < len(clips) else int(rng.choice(clips))).landmarks
        a, b = rng.choice(len(lms), 2, replace=False)
        src.append(lms[a])
        tgt.append(lms[b])
    return np.stack(src), np.stack(tgt), f"{root}: frame pairs of {len(clips)} clips"


def mean_shape_pairs(n: int, rng: np.random.Generator):
    """The mean shape (as a 128 px crop holds a face) moved as a talking head moves."""
    if not MEAN_SHAPE.is_file():
        raise SystemExit(f"no prepared cache and no mean shape at {MEAN_SHAPE}: nothing to move")
    face = np.loadtxt(MEAN_SHAPE, delimiter=",").reshape(2, 68).T * 85 + (63.0, 50.0)

    def pose():
        p = face.copy()
        jaw = rng.uniform(0, 6)
        p[5:12, 1] += jaw * np.array([0.2, 0.5, 0.8, 1.0, 0.8, 0.5, 0.2])
        p[[56, 57, 58, 65, 66, 67], 1] += jaw * 0.8
        p[[48, 54], 0] += rng.uniform(-2, 2) * np.array([-1, 1])  # smile / pucker
        a, s = np.deg2rad(rng.uniform(-5, 5)), rng.uniform(0.97, 1.03)
        rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        c = p.mean(0)
        return (p - c) @ rot.T + c + rng.uniform(-3, 3, 2) + rng.normal(0, 0.5, p.shape)

    src = np.stack([pose() for _ in range(n)])
    tgt = np.stack([pose() for _ in range(n)])
    return src.astype(np.float32), tgt.astype(np.float32), f"{MEAN_SHAPE.name} moved as a talking face (synthetic)"


def timed(fn, repeats: int, *args, **kwargs):
    """(least wall time, median wall time, least CPU time of the process) of ``repeats`` calls, seconds."""
    fn(*args, **kwargs)  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn(*args, **kwargs)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), statistics.median(wall), min(cpu)


def sample(image, grid):
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)


def fit_grid_sample(target, source, image, coarse):
    """What ``motion.warp`` does, on normalised landmarks."""
    return sample(image, TPS(target, source).grid(*image.shape[-2:], coarse=coarse))


def speed(src, tgt, batch: int, repeats: int):
    s, t = torch.from_numpy(src[:batch]), torch.from_numpy(tgt[:batch])
    tn, sn = normalise(t, SIZE), normalise(s, SIZE)
    per = 1e3 / batch
    fit = timed(TPS, repeats, tn, sn)
    rows = []
    tps = TPS(tn, sn)
    for res in (128, 512):
        image = torch.rand(batch, 3, res, res)
        sampling = timed(sample, repeats, image, tps.grid(res, res))
        for coarse in COARSE:
            if coarse is not None and coarse >= res:
                continue
            grid = timed(tps.grid, repeats, res, res, coarse=coarse)
            total = timed(fit_grid_sample, repeats, tn, sn, image, coarse)
            rows.append({"resolution": res, "coarse": coarse, "fit_ms": fit[0] * per, "grid_ms": grid[0] * per,
                         "sample_ms": sampling[0] * per, "total_ms": total[0] * per,
                         "total_median_ms": total[1] * per, "total_cpu_ms": total[2] * per})
    return rows


def errors(src, tgt, res: int, chunk: int = 32):
    """Per coarse grid: pixel distances to the full grid's sampling positions, all pixels and the face."""
    out = {c: {"all": [], "face": []} for c in COARSE[1:] if c < res}
    yy, xx = np.meshgrid(np.arange(res), np.arange(res), indexing="ij")
    for k in range(0, len(src), chunk):
        s, t = torch.from_numpy(src[k:k + chunk]), torch.from_numpy(tgt[k:k + chunk])
        tps = TPS(normalise(t, SIZE), normalise(s, SIZE))
        full = tps.grid(res, res)
        lo, hi = (t.amin(1).numpy() + 0.5) * res / SIZE - 0.5, (t.amax(1).numpy() + 0.5) * res / SIZE - 0.5
        face = ((xx >= lo[:, None, None, 0]) & (xx <= hi[:, None, None, 0])
                & (yy >= lo[:, None, None, 1]) & (yy <= hi[:, None, None, 1]))
        for c in out:
            d = ((tps.grid(res, res, coarse=c) - full).norm(dim=-1) * res / 2).numpy()  # image pixels
            out[c]["all"].append(d.ravel())
            out[c]["face"].append(d[face])
    stats = {}
    for c, parts in out.items():
        stats[c] = {}
        for where, ds in parts.items():
            d = np.concatenate(ds)
            stats[c][where] = {"mean": float(d.mean()), "p99": float(np.percentile(d, 99)), "max": float(d.max())}
    return stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--cache", type=Path, default=Path("/work/cache/all"))
    ap.add_argument("--pairs", type=int, default=640, help="frame pairs the 128 px errors are measured on (0: none)")
    ap.add_argument("--pairs-512", type=int, default=64, help="frame pairs the 512 px errors are measured on (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the summary here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    n = max(args.pairs, args.pairs_512, args.batch, DRAW)  # the same pairs whatever is measured
    if (args.cache / "manifest.json").is_file():
        src, tgt, origin = cache_pairs(args.cache, n, rng)
    else:
        src, tgt, origin = mean_shape_pairs(n, rng)
    order = rng.permutation(n)  # the timed batch: pairs of different clips
    src, tgt = src[order], tgt[order]
    shown = max(args.pairs, args.batch)
    moved = np.linalg.norm(src[:shown] - tgt[:shown], axis=-1)
    load = os.getloadavg()
    print(f"motion: {origin}; {shown} pairs, landmarks move {moved.mean():.2f} px on average (99th percentile "
          f"{np.percentile(moved, 99):.1f}) in the {SIZE} px crop")
    print(f"CPU, torch {torch.__version__}, {args.threads} threads, batch {args.batch}; "
          f"load average {load[0]:.1f} on {os.cpu_count()} cores\n")

    rows = speed(src, tgt, args.batch, args.repeats)
    print(f"ms per frame, least of {args.repeats} runs (total: also the median, and the process's CPU time, "
          f"which waiting for a core does not count)")
    print(f"{'px':>4} {'grid':>5} {'fit':>6} {'grid':>7} {'sample':>7} {'total':>7} {'median':>7} {'CPU':>7}")
    for r in rows:
        name = "full" if r["coarse"] is None else f"c{r['coarse']}"
        print(f"{r['resolution']:>4} {name:>5} {r['fit_ms']:6.2f} {r['grid_ms']:7.2f} {r['sample_ms']:7.2f} "
              f"{r['total_ms']:7.2f} {r['total_median_ms']:7.2f} {r['total_cpu_ms']:7.2f}")

    pairs = {128: args.pairs, 512: args.pairs_512}
    err = {res: errors(src[:k], tgt[:k], res) for res, k in pairs.items() if k > 0}  # 0 pairs: speed only
    print("\ncoarse grid vs full grid: distance between their sampling positions, pixels of the image")
    print(f"{'px':>4} {'grid':>5} {'pairs':>6} {'mean':>7} {'p99':>7} {'max':>7}   "
          f"{'face mean':>9} {'p99':>7} {'max':>7}")
    for res, per in err.items():
        for c, st in per.items():
            a, f = st["all"], st["face"]
            print(f"{res:>4} {'c' + str(c):>5} {pairs[res]:>6} {a['mean']:7.3f} {a['p99']:7.3f} {a['max']:7.2f}   "
                  f"{f['mean']:9.3f} {f['p99']:7.3f} {f['max']:7.2f}")

    full128 = next(r for r in rows if r["resolution"] == 128 and r["coarse"] is None)
    # the cost: the wall time, or the CPU time where waiting for a core made the wall time longer
    full128_ms = min(full128["total_ms"], full128["total_cpu_ms"])
    sub_pixel = [c for c, st in err.get(128, {}).items()
                 if st["all"]["p99"] < SUB_PIXEL and st["face"]["p99"] < SUB_PIXEL]
    recommended = None if full128_ms <= TARGET_MS else (min(sub_pixel) if sub_pixel else None)
    summary = {"origin": origin, "pairs": {str(k): v for k, v in pairs.items()}, "batch": args.batch,
               "threads": args.threads, "load_average": round(load[0], 2), "cpus": os.cpu_count(),
               "ms_per_frame": {f"{r['resolution']}/{r['coarse'] or 'full'}": round(r["total_ms"], 3) for r in rows},
               "cpu_ms_per_frame": {f"{r['resolution']}/{r['coarse'] or 'full'}": round(r["total_cpu_ms"], 3)
                                    for r in rows},
               "fit_ms_per_frame": round(rows[0]["fit_ms"], 3),
               "coarse_error_px": {f"{res}/{c}": {w: {k: round(v, 4) for k, v in s.items()} for w, s in st.items()}
                                   for res, per in err.items() for c, st in per.items()},
               "full_128_within_target": full128_ms <= TARGET_MS,
               "recommended_coarse_at_128": recommended}
    print("\n" + json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
