"""The size/quality trade-off of a packed cache's JPEG quality: KiB per frame and PSNR against the
prepared (quality 95) frames, on every n-th frame of a cache; prints a Markdown table.

    python benchmarks/cache_quality.py CACHE [--every 25] [--qualities 95 90 85 80 75]
"""
import argparse

import numpy as np

from motiongan.data import Cache
from motiongan.data.cache import decode_jpeg, encode_jpeg
from motiongan.evaluation.metrics import psnr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cache")
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--qualities", type=int, nargs="+", default=[95, 90, 85, 80, 75])
    args = ap.parse_args()
    cache = Cache(args.cache)
    frames = [cache.clip(i).frame(j) for i in range(len(cache.clips))
              for j in range(0, len(cache.clip(i)), args.every)]
    print(f"{len(frames)} frames of {args.cache} ({cache.size} px)\n")
    print("| JPEG quality | KiB per frame | PSNR vs prepared frames (dB) |\n|---|---|---|")
    for q in args.qualities:
        blobs = [encode_jpeg(f, q) for f in frames]
        p = [psnr(decode_jpeg(np.frombuffer(b, np.uint8)), f) for b, f in zip(blobs, frames)]
        print(f"| {q} | {np.mean([len(b) for b in blobs]) / 1024:.2f} | {np.mean(p):.2f} |")


if __name__ == "__main__":
    main()
