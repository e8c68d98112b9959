"""The model card's training curve of a warp_cpu round: PSNR and open-mouth box PSNR against the step, with
the landmark warp and the one-colour fill as lines.

    python scripts/plot_round_curve.py [docs/warp_cpu_round4_curve.csv] [--out docs/warp_cpu_round4_curve.png]

The CSV holds one row per checkpoint, each scored by ``python scripts/warp_rounds_psnr.py CHECKPOINT --data
cache/all`` while the round trained (a run keeps only its last two checkpoints, so the scores are recorded
as they come). The reference lines are ``scripts/paint_oracle.py``'s rows.
"""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

WARP = (24.728, 21.820)  # landmark warp: PSNR, open-mouth box PSNR (warp_rounds_psnr.py)
ONE_COLOUR = (24.757, 22.074)  # the stretch-gated region filled with one colour (paint_oracle.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", nargs="?", default="docs/warp_cpu_round4_curve.csv")
    ap.add_argument("--out", default="docs/warp_cpu_round4_curve.png")
    args = ap.parse_args()
    with open(args.csv) as f:
        rows = list(csv.DictReader(f))
    steps = [int(r["step"]) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key, i, title in ((axes[0], "psnr", 0, "PSNR, all frames"),
                              (axes[1], "open_mouth_box_psnr", 1, "open-mouth box PSNR (253 frames)")):
        ax.plot(steps, [float(r[key]) for r in rows], "o-", label="round 4 (step 0: round 3, stretch-gated)")
        ax.axhline(WARP[i], color="grey", ls="--", label="landmark warp")
        ax.axhline(ONE_COLOUR[i], color="tab:orange", ls=":", label="one-colour fill, no network")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step (4 clips x 4 frames)")
        ax.set_ylabel("dB")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(args.out)


if __name__ == "__main__":
    main()
