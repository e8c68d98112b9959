"""An untrained ``warp`` G scores as the landmark warp does (issue 22), beside the reference rows and the
paper-configuration generator of round 1, on the fixed test people.

    python benchmarks/untrained_warp.py --data cache/all [--max-frames 40] [--out runs/untrained_warp]
                                        [--config warp] [--no-paper]

Builds the ``--config`` generator untrained (seed 0; its mask starts at sigmoid(mask_bias), so it returns
the warp up to 1 - sigmoid(mask_bias)), exports it and runs ``motiongan evaluate`` on it, on ``paper`` (the
shipped round 1, unless ``--no-paper``) and the reference rows. Prints the table's main columns, then every
metric's difference untrained G - landmark warp with its noise (95 % half-width of the paired bootstrap over
clips, as ``compare`` computes it) and whether it lies within the noise (or within 0.001, below the
table's digits, where the noise is about 0). Slow on CPU: both generators are
paper-size (about 1.6 s a frame each on 2 cores); ``--max-frames 10`` gives a quicker look.
"""
import argparse
import sys
import tempfile
from pathlib import Path

import torch

from motiongan.assets import generator_source
from motiongan.checkpoint import save_generator
from motiongan.config import load_config
from motiongan.evaluation.compare import differences
from motiongan.evaluation.evaluate import WARP_ROW, EvaluateOptions, evaluate
from motiongan.networks import build_generator

COLUMNS = ("PSNR", "SSIM", "open-mouth PSNR", "sharpness", "AUC@0.1", "FR@0.1", "same person (dlib) %")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--max-frames", type=int, default=40)
    ap.add_argument("--out", default="runs/untrained_warp")
    ap.add_argument("--config", default="warp")
    ap.add_argument("--no-paper", action="store_true")
    args = ap.parse_args()
    cfg = load_config(args.config)
    torch.manual_seed(0)
    G = build_generator(cfg.generator_kwargs()).eval()
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / f"untrained-{args.config}.safetensors"
        save_generator(export, G, cfg.to_json(), 0)
        checkpoints = [str(export)] + ([] if args.no_paper else [generator_source("paper")])
        res = evaluate(checkpoints, args.data, args.out, EvaluateOptions(split="test", max_frames=args.max_frames))
    untrained = res["names"][0]
    print(f"{res['meta']['clips']} clips, {res['meta']['frames']} frames of the fixed test people "
          f"(--max-frames {args.max_frames}); table in {args.out}/table.md\n")
    print("| row | " + " | ".join(COLUMNS) + " |\n|---|" + "---|" * len(COLUMNS))
    for name, row in res["table"].items():
        cells = ["—" if row.get(c) is None else f"{row[c]:.3f}" for c in COLUMNS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\n{untrained} - {WARP_ROW}: difference (noise)")
    inside = True
    for name, d in differences(res["rows"][untrained], res["rows"][WARP_ROW]).items():
        if d["diff"] is None or d["noise"] is None:
            continue
        ok = abs(d["diff"]) <= d["noise"] + 1e-3  # or below the table's digits, where the noise is ~0
        inside &= ok
        print(f"  {name:24s} {d['diff']:+.4f} ({d['noise']:.4f}) {'within noise' if ok else 'BEYOND NOISE'}")
    print("untrained G = landmark warp within noise on every metric" if inside else "untrained G differs")
    return 0 if inside else 1


if __name__ == "__main__":
    sys.exit(main())
