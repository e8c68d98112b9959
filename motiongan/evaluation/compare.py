"""``motiongan compare NEW OLD``: the gate of the relay (issue 15). Both generators animate the same clips
and frames of the fixed test people; the verdict is "better" only if neither landmark AUC@0.1 nor the
same-person rate drops beyond noise, at least one of them rises beyond noise, and PSNR drops by no more
than 0.2 dB. Noise is the 95 % half-width of a paired bootstrap over clips (the clips, not the frames,
are the independent samples: frames of one clip are strongly correlated).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..media import atomic_write_bytes
from ..options import option
from . import metrics as M
from .evaluate import EvaluateOptions, evaluate

PSNR_TOLERANCE = 0.2  # dB


def pooled(per_clip: list[dict], key: str) -> float:
    """A table value from per-frame scores pooled over clips: AUC@0.1, same-person % or mean PSNR."""
    if key == "AUC@0.1":
        return M.auc(np.concatenate([c["landmark_error"] for c in per_clip]), 0.1)
    if key == "same person %":
        return float(np.concatenate([c["same_person"] for c in per_clip]).mean() * 100)
    p = np.concatenate([c["psnr"] for c in per_clip])
    return float(p[np.isfinite(p)].mean())


def paired_bootstrap(new: list[dict], old: list[dict], key: str, n: int = 1000, seed: int = 0) -> dict:
    """The difference new - old of a pooled metric and the 95 % half-width of its bootstrap over clips."""
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n):
        idx = rng.integers(len(new), size=len(new))
        diffs.append(pooled([new[i] for i in idx], key) - pooled([old[i] for i in idx], key))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {"new": pooled(new, key), "old": pooled(old, key), "diff": pooled(new, key) - pooled(old, key),
            "noise": float((hi - lo) / 2)}


def verdict(d: dict) -> tuple[bool, list[str]]:
    """Better or not, and why, from the differences of AUC@0.1, same person % and PSNR."""
    auc, same, psnr = d["AUC@0.1"], d["same person %"], d["PSNR"]
    reasons = []
    for name, x in (("AUC@0.1", auc), ("same person %", same)):
        if x["diff"] < -x["noise"]:
            reasons.append(f"{name} drops by {-x['diff']:.2f} (noise {x['noise']:.2f})")
    if psnr["diff"] < -PSNR_TOLERANCE:
        reasons.append(f"PSNR drops by {-psnr['diff']:.2f} dB (> {PSNR_TOLERANCE} dB)")
    if not any(x["diff"] > x["noise"] for x in (auc, same)):
        reasons.append("neither AUC@0.1 nor same person % rises beyond noise")
    return not reasons, reasons


@dataclass
class CompareOptions:
    """Which test clips and frames ``compare`` scores (the CLI's flags are made from these fields)."""

    max_frames: int | None = option(40, "frames per clip (the same for both generators)")
    test_list: str | None = option("v1", "the fixed test people (v1, or a file of person ids)")


def compare(new: str, old: str, data: str, out: str, options: CompareOptions | None = None, device: str = "cpu",
            progress: bool = True) -> dict:
    """Evaluate ``new`` and ``old`` on the same clips and frames, and decide whether ``new`` is better."""
    o = options or CompareOptions()
    res = evaluate([new, old], data, out, EvaluateOptions("test", o.max_frames, o.test_list), device, progress)
    n_name, o_name = res["names"]
    diffs = {k: paired_bootstrap(res["rows"][n_name], res["rows"][o_name], k)
             for k in ("AUC@0.1", "same person %", "PSNR")}
    better, reasons = verdict(diffs)
    report = {"new": new, "old": old, "better": better, "reasons": reasons, "differences": diffs,
              "clips": res["meta"]["clips"], "frames": res["meta"]["frames"], "table": res["table"]}
    atomic_write_bytes(Path(out) / "verdict.json", json.dumps(report, indent=1).encode())
    return report
