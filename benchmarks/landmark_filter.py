"""The One Euro filter's settings against real landmark tracks: how much jitter it removes, how far it
moves the points from the detections (its lag), per setting; prints a table, then JSON.

    python benchmarks/landmark_filter.py --data cache/all [--split train] [--frames 100]

The tracks are a prepared cache's raw dlib landmarks (``prepare`` smooths none by default), ``--frames``
per clip, of the ``--split`` people (train: tune there, then check once on the test people with
``motiongan evaluate --filter-targets``). Per setting: the target track's jitter (mean acceleration over the
inter-ocular distance, :func:`motiongan.face.jitter`) relative to the raw track's, and the filtered points'
mean distance from the raw ones over the inter-ocular distance (mean and 95th percentile over frames), the
share of frames moved by more than 0.05 inter-ocular distances, and AUC@0.1 of that deviation (100: the
filter never moves a point).
"""
import argparse
import itertools
import json

import numpy as np

from motiongan.data import Cache, EvalClips
from motiongan.evaluation.metrics import auc
from motiongan.face import jitter
from motiongan.filtering import filter_track
from motiongan.landmarks import interocular


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="train", choices=["train", "test"])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--min-cutoff", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.5, 1.0])
    ap.add_argument("--beta", type=float, nargs="+", default=[1.0, 4.0, 16.0, 64.0])
    ap.add_argument("--d-cutoff", type=float, nargs="+", default=[0.15, 1.0])
    args = ap.parse_args()
    cache = Cache(args.data)
    clips = EvalClips(cache, args.split, max_frames=args.frames)
    tracks = [np.asarray(cache.clip(i).landmarks[: args.frames], np.float32) for i in clips.clip_ids]
    tracks = [t for t in tracks if len(t) >= 10]
    raw = np.mean([jitter(t) for t in tracks])
    rows = []
    for mc, beta, dc in itertools.product(args.min_cutoff, args.beta, args.d_cutoff):
        jit, dev = [], []
        for t in tracks:
            f = filter_track(t, mc, beta, dc)
            jit.append(jitter(f))
            dev.append(np.linalg.norm(f - t, axis=-1).mean(-1) / interocular(t))
        dev = np.concatenate(dev)
        rows.append({"min_cutoff": mc, "beta": beta, "d_cutoff": dc, "jitter_ratio": float(np.mean(jit) / raw),
                     "deviation_mean": float(dev.mean()), "deviation_p95": float(np.percentile(dev, 95)),
                     "moved_over_0.05": float((dev > 0.05).mean() * 100), "auc_0.1": auc(dev)})
    print(f"{len(tracks)} clips of the {args.split} people, {sum(map(len, tracks))} frames; raw jitter {raw:.4f}")
    print(f"{'min_cutoff':>10} {'beta':>6} {'d_cutoff':>8} {'jitter/raw':>10} {'dev mean':>9} {'dev p95':>8} "
          f"{'>0.05 %':>8} {'AUC@0.1':>8}")
    for r in sorted(rows, key=lambda r: r["jitter_ratio"]):
        print(f"{r['min_cutoff']:>10g} {r['beta']:>6g} {r['d_cutoff']:>8g} {r['jitter_ratio']:>10.3f} "
              f"{r['deviation_mean']:>9.4f} {r['deviation_p95']:>8.4f} {r['moved_over_0.05']:>8.2f} "
              f"{r['auc_0.1']:>8.2f}")
    print(json.dumps({"raw_jitter": raw, "rows": rows}))


if __name__ == "__main__":
    main()
