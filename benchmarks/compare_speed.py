"""Seconds and frames/s of ``motiongan compare`` (the relay's gate) on a prepared cache, cold and warm; JSON.

    python benchmarks/compare_speed.py --data /work/cache/all [--new warp|PATH] [--old warp|PATH] [--max-frames 40]
                                       [--keep FOLDER [--runs warm]]

*cold*: an empty score cache, so every row is generated and scored: real video, copy source, landmark
warp, NEW and OLD (OLD = warp: one row less). *warm*: the same cache again, as in the next relay round:
the reference rows and OLD are read from it. A checkpoint given as NEW is re-exported with one weight
nudged by 1e-6 before each run, so NEW is never read from the cache (a relay round's NEW is always new);
``--new warp`` is read from it like the other reference rows. Frames/s counts each clip frame once
(``frames`` / seconds) and per scored row (``row_frames`` / seconds: the rows generated and scored);
``cpu_seconds`` is the process's CPU time (all threads), which other jobs on the machine do not inflate
the way they inflate wall time (``load_average``: the 1-minute load before and after).
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from motiongan.evaluation.compare import CompareOptions, compare
from motiongan.models import WARP, load_generator

RUNS = ("cold", "warm")


def nudged(path: str, folder: Path, run: str) -> str:
    """A copy of the generator at ``path`` with one weight moved (by 1e-6 cold, 2e-6 warm): new content
    for each run, same speed."""
    if path == WARP:
        return path
    model = load_generator(path)
    with torch.no_grad():
        next(p for p in model.G.parameters()).view(-1)[0] += 1e-6 * (1 + RUNS.index(run))
    out = folder / f"new-{run}.safetensors"
    model.export(out)
    return str(out)


def timed(new: str, old: str, args, cache: Path, folder: Path, run: str) -> dict:
    opts = CompareOptions(max_frames=args.max_frames, test_list=args.test_list, score_cache=str(cache))
    t, cpu, load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    report = compare(new, old, args.data, str(folder / run), opts, device=args.device, progress=False)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    meta = json.loads((folder / run / "table.json").read_text())
    rows = meta["scored_clips"] / max(meta["clips"], 1)  # rows scored per clip (equal for every clip)
    return {"seconds": round(seconds, 1), "frames": report["frames"], "clips": report["clips"],
            "frames_per_s": round(report["frames"] / seconds, 2), "rows_scored": rows,
            "row_frames_per_s": round(report["frames"] * rows / seconds, 2), "cached_clips": meta["cached_clips"],
            "better": report["better"], "cpu_seconds": round(cpu, 1),
            "load_average": [round(load, 2), round(os.getloadavg()[0], 2)]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="a prepared cache holding the test people")
    ap.add_argument("--new", default=WARP, help="NEW: warp or a generator export")
    ap.add_argument("--old", default=WARP, help="OLD: warp or a generator export")
    ap.add_argument("--max-frames", type=int, default=40)
    ap.add_argument("--test-list", default="v1")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--keep", default=None, help="a folder to keep the outputs and the score cache in (default: "
                                                 "a temporary one)")
    ap.add_argument("--runs", nargs="+", default=list(RUNS), choices=RUNS,
                    help="'warm' alone: again on the score cache that an earlier cold run left in --keep")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        cache = folder / "scores"
        if cache.exists() == ("cold" in args.runs):
            sys.exit(f"{cache}: a cold run needs no score cache there, a warm run alone one from a cold run")
        out = {"new": args.new, "old": args.old, "max_frames": args.max_frames, "device": args.device,
               "threads": torch.get_num_threads(), "cpus": os.cpu_count()}
        for run in args.runs:
            out[run] = timed(nudged(args.new, folder, run), args.old, args, cache, folder, run)
            print(run, out[run], file=sys.stderr, flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
