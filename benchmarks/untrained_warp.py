"""An untrained ``warp`` G scores as the landmark warp does (issue 22), beside the reference rows and the
paper-configuration generator of round 1, on the fixed test people.

    python benchmarks/untrained_warp.py --data cache/all [--max-frames 40] [--out runs/untrained_warp]
                                        [--config warp] [--no-paper] [--scored]

Builds the ``--config`` generator untrained (seed 0; its mask starts at sigmoid(mask_bias), so it returns
the warp up to 1 - sigmoid(mask_bias)), exports it and runs ``motiongan evaluate`` on it, on ``paper`` (the
shipped round 1, unless ``--no-paper``) and the reference rows. Prints the table's main columns, then every
metric's difference untrained G - landmark warp, and whether it lies within the noise of the figure: the 95 %
half-width of the landmark warp's own figure bootstrapped over clips (how far the row moves with the clips
it is scored on). The paired bootstrap's half-width (what ``compare`` tests against) is printed beside it:
for two generators whose frames differ by at most 1 - sigmoid(mask_bias) it is near 0, and a difference of
a hundredth of a point can exceed it. Slow on CPU: both generators are paper-size (about 40 minutes at 40
frames on 2 cores); ``--max-frames 10`` gives a quicker look; ``--scored`` reads the per-clip scores an
earlier run left in ``--out`` instead of evaluating again. It prints figures and is no gate (exit status 0
whatever the differences): the fast pass/fail check that an untrained warp G returns the landmark warp is
``tests/test_warp_generator.py``.
"""
import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from motiongan.checkpoint import save_generator
from motiongan.config import load_config
from motiongan.evaluation.compare import differences
from motiongan.evaluation.evaluate import WARP_ROW, EvaluateOptions, evaluate
from motiongan.evaluation.registry import metric
from motiongan.models import generator_source
from motiongan.networks import build_generator

COLUMNS = ("PSNR", "SSIM", "open-mouth PSNR", "sharpness", "AUC@0.1", "FR@0.1", "same person (dlib) %")


def own_noise(per_clip: list[dict], name: str, n: int = 1000) -> float | None:
    """The 95 % half-width of a row's figure bootstrapped over its clips."""
    m, rng = metric(name), np.random.default_rng(0)
    values = [m([per_clip[i] for i in rng.integers(len(per_clip), size=len(per_clip))])[0] for _ in range(n)]
    values = np.array([np.nan if v is None else v for v in values], float)
    if not np.isfinite(values).any():
        return None
    lo, hi = np.nanpercentile(values, [2.5, 97.5])
    return float((hi - lo) / 2)


def scored(out: Path) -> dict:
    """What ``evaluate`` returned, read back from the per-clip ``metrics.json`` files and the table it wrote."""
    table = json.loads((out / "table.json").read_text())
    rows = {name: [json.loads(p.read_text())["per_frame"] for p in sorted((out / name).glob("*/metrics.json"))]
            for name in table["rows"] if (out / name).is_dir()}
    return {"table": table["rows"], "rows": rows, "names": [n for n in rows if n.startswith("untrained")],
            "meta": table}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--max-frames", type=int, default=40)
    ap.add_argument("--out", default="runs/untrained_warp")
    ap.add_argument("--config", default="warp")
    ap.add_argument("--no-paper", action="store_true")
    ap.add_argument("--scored", action="store_true")
    args = ap.parse_args()
    res = scored(Path(args.out)) if args.scored else run(args)
    if not res["names"]:
        ap.error(f"--scored: {args.out} holds no untrained generator's row")
    untrained = res["names"][0]
    print(f"{res['meta']['clips']} clips, {res['meta']['frames']} frames of the fixed test people "
          f"(--max-frames {args.max_frames}); table in {args.out}/table.md\n")
    print("| row | " + " | ".join(COLUMNS) + " |\n|---|" + "---|" * len(COLUMNS))
    for name, row in res["table"].items():
        cells = ["—" if row.get(c) is None else f"{row[c]:.3f}" for c in COLUMNS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\n{untrained} - {WARP_ROW}: difference, the {WARP_ROW} figure's own noise, the paired noise")
    inside = True
    for name, d in differences(res["rows"][untrained], res["rows"][WARP_ROW]).items():
        noise = own_noise(res["rows"][WARP_ROW], name)
        if d["diff"] is None or noise is None:
            continue
        ok = abs(d["diff"]) <= noise
        inside &= ok
        paired = "—" if d["noise"] is None else f"{d['noise']:.4f}"
        print(f"  {name:24s} {d['diff']:+.4f}  {noise:.4f}  {paired}  {'within noise' if ok else 'BEYOND'}")
    print("untrained G = landmark warp within noise on every metric" if inside else "untrained G differs")


def run(args) -> dict:
    """Evaluate the untrained G (and ``paper``) beside the reference rows."""
    cfg = load_config(args.config)
    torch.manual_seed(0)
    G = build_generator(cfg.generator_kwargs()).eval()
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / f"untrained-{args.config}.safetensors"
        save_generator(export, G, cfg.to_json(), 0)
        checkpoints = [str(export)] + ([] if args.no_paper else [generator_source("paper")])
        return evaluate(checkpoints, args.data, args.out, EvaluateOptions(split="test", max_frames=args.max_frames))


if __name__ == "__main__":
    main()
