"""Produced docs/MODEL_CARD.md's round 4 curve (docs/warp_cpu_round4_curve.png) from its CSV.

A warp_cpu round's training curve: PSNR and open-mouth box PSNR against the step, with the landmark warp and
the one-colour fill as lines.

    python experiments/plot_round_curve.py [docs/warp_cpu_round4_curve.csv] [--out docs/warp_cpu_round4_curve.png]

The CSV holds one row per checkpoint, each scored by ``python experiments/warp_rounds_psnr.py CHECKPOINT --data
cache/all`` while the round trained (a run keeps only its last two checkpoints, so the scores are recorded
as they come), and, with no step, the two reference lines: the landmark warp (the same script) and the
one-colour fill (``experiments/paint_oracle.py``). Round 4's rows were scored with that script's earlier
mouth box (its docstring: about 0.2 dB above what it prints now); a new round's rows must all come from one.
"""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", nargs="?", default="docs/warp_cpu_round4_curve.csv")
    ap.add_argument("--out", default="docs/warp_cpu_round4_curve.png")
    args = ap.parse_args()
    with open(args.csv) as f:
        rows = list(csv.DictReader(f))
    (warp, one_colour), rows = [r for r in rows if not r["step"]], [r for r in rows if r["step"]]
    steps = [int(r["step"]) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key, title in ((axes[0], "psnr", "PSNR, all frames"),
                           (axes[1], "open_mouth_box_psnr", "open-mouth box PSNR (253 frames)")):
        ax.plot(steps, [float(r[key]) for r in rows], "o-", label="round 4 (step 0: round 3, stretch-gated)")
        ax.axhline(float(warp[key]), color="grey", ls="--", label="landmark warp")
        ax.axhline(float(one_colour[key]), color="tab:orange", ls=":", label="one-colour fill, no network")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step (4 clips x 4 frames)")
        ax.set_ylabel("dB")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(args.out)


if __name__ == "__main__":
    main()
