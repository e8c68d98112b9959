"""The landmark warp's resampling and output size, measured: how sharp, how close and how fast.

    python benchmarks/resampling.py --data cache/all256 [--max-frames 40]

On the fixed test people of a cache prepared at 256 px (``motiongan prepare ... --size 256``), frame 0 the
source and every frame a target, the warp renders each frame four ways and each is compared with the real
256 px frame, as a viewer sees a face pasted into a photo at that size:

- at 128 px (the model size), bilinear or bicubic, then shown at 256 (bilinear upscaling, as paste-back);
- at 256 px from the 256 px source, bilinear or bicubic.

Columns: PSNR (whole crop, against the real 256 px frame), sharpness (Laplacian variance of the face box
over the real's, mean), and the warp's own time per frame (one thread, the frames of a clip in one batch).
"""
import argparse
import time

import cv2
import numpy as np
import torch

from motiongan.convention import to_image, to_tensor
from motiongan.data import Cache, EvalClips
from motiongan.evaluation import metrics as M
from motiongan.landmarks import grown_box
from motiongan.motion import warp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a cache prepared at 256 px holding the test people")
    ap.add_argument("--max-frames", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cache = Cache(args.data)
    if cache.size != 256:
        raise SystemExit(f"{args.data}: prepared at {cache.size} px; this benchmark needs 256")
    clips = EvalClips(cache, "test", max_frames=args.max_frames)
    rows = {f"{size} px {mode}": {"psnr": [], "sharp": [], "s": 0.0, "n": 0}
            for size in (128, 256) for mode in ("bilinear", "bicubic")}
    for i in range(len(clips)):
        clip = clips[i]
        real = np.stack([to_image(f) for f in clip["frames"]])
        lms = clip["landmarks"]
        for name, r in rows.items():
            size, mode = int(name.split()[0]), name.split()[-1]
            src = real[0] if size == 256 else cv2.resize(real[0], (128, 128), interpolation=cv2.INTER_AREA)
            pts = lms if size == 256 else (lms + 0.5) / 2 - 0.5
            t = time.perf_counter()
            out = warp(to_tensor(src)[None].repeat(len(pts), 1, 1, 1), pts[:1].repeat(len(pts), 1, 1), pts, size,
                       resample=mode).clamp(-1, 1)
            r["s"] += time.perf_counter() - t
            r["n"] += len(pts)
            gen = np.stack([to_image(f) for f in out])
            if size != 256:
                gen = np.stack([cv2.resize(g, (256, 256), interpolation=cv2.INTER_LINEAR) for g in gen])
            for g, f, p in zip(gen[1:], real[1:], lms[1:].numpy()):
                box = grown_box(p, 0.0, g.shape)
                r["psnr"].append(M.psnr(g, f))
                r["sharp"].append(M.sharpness(g[box], f[box]))
    n = rows["128 px bilinear"]["n"] - len(clips)
    print(f"{len(clips)} test clips, {n} frames, against the real 256 px frames")
    print(f"{'warp':20} {'PSNR':>6} {'sharpness':>9} {'ms/frame':>8}")
    for name, r in rows.items():
        print(f"{name:20} {np.mean(r['psnr']):6.2f} {np.nanmean(r['sharp']):9.3f} {1000 * r['s'] / r['n']:8.2f}")


if __name__ == "__main__":
    main()
