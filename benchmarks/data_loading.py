"""Training samples per second read from a prepared cache through a DataLoader; prints JSON.

    python benchmarks/data_loading.py CACHE [--workers 2] [--T 4] [--batch 16] [--seconds 10]
"""
import argparse
import json
import time

import torch
from torch.utils.data import DataLoader

from motiongan.data import Cache, TrainingClips


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cache")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--T", type=int, default=4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    ds = TrainingClips(Cache(args.cache), "all", T=args.T)
    loader = DataLoader(ds, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                        persistent_workers=args.workers > 0)
    it = iter(loader)
    next(it)  # start-up
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < args.seconds:
        b = next(it, None)
        if b is None:
            it = iter(loader)
            continue
        n += b["frames"].shape[0]
    dt = time.perf_counter() - t
    print(json.dumps({"samples_per_s": round(n / dt, 1), "frames_per_s": round(n * (args.T + 1) / dt, 1),
                      "workers": args.workers, "T": args.T, "batch": args.batch, "size": ds.size,
                      "torch_threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
