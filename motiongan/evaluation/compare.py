"""``motiongan compare NEW [OLD]``: the gate of the relay (issues 15, 22 and 23).

NEW, OLD and the "landmark warp" (the source's pixels moved by the thin-plate spline of its landmarks, no
network) animate the same clips and frames of the fixed test people. NEW is BETTER only if

- against OLD and against the landmark warp, none of PSNR, landmark AUC@0.1 and the same-person rate drops
  beyond noise;
- against the landmark warp, the open-mouth PSNR (the mouth box, on frames whose mouth opens wider than in
  the source: what the warp cannot show) rises beyond noise;
- against OLD, at least one of AUC@0.1, the same-person rate, PSNR and the open-mouth PSNR rises beyond
  noise.

When OLD is the landmark warp the two comparisons are one. With ``--mouths own`` all three fill their mouths and
closing eyes from the same donors (each clip's frames after the scored window; the rows "+ own mouths" of
:mod:`motiongan.evaluation.evaluate`), so that the generators are compared, not the donors: gated against
the plain warp, the warp with own mouths passed by its mouths alone (+1.98 dB open-mouth PSNR).
Noise is the 95 % half-width of a paired
bootstrap over clips (the clips, not the frames, are the independent samples: frames of one clip are
strongly correlated). The former 0.2 dB allowance for a PSNR drop is gone: PSNR, like the other guarded
figures, may not drop beyond its own noise. Every registered metric's difference is reported
(``verdict.json``); the rules read only the ones above.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..media import atomic_write_bytes
from ..options import option
from .evaluate import OWN_MOUTHS, WARP_ROW, EvaluateOptions, ScoringOptions, evaluate
from .registry import AUC, METRICS, OPEN_MOUTH_PSNR, PSNR, SAME_PERSON, metric

GUARDED = (PSNR.name, AUC.name, SAME_PERSON.name)  # may not drop beyond noise, against OLD and the warp
RISING = (AUC.name, SAME_PERSON.name, PSNR.name, OPEN_MOUTH_PSNR.name)  # one must rise beyond noise vs OLD
OVER_WARP = OPEN_MOUTH_PSNR.name  # must rise beyond noise against the landmark warp


def pooled(per_clip: list[dict], key: str) -> float | None:
    """A table value (the registered metric ``key``) from per-frame scores pooled over clips."""
    return metric(key)(per_clip)[0]


def paired_bootstrap(new: list[dict], old: list[dict], key: str, n: int = 1000, seed: int = 0) -> dict:
    """The difference new - old of a pooled metric and the 95 % half-width of its bootstrap over clips
    (resampled clips that give a side no frames are left out; None where there is nothing to compare)."""
    m = metric(key)
    new, old = _arrays(new), _arrays(old)
    rng, diffs = np.random.default_rng(seed), []
    for _ in range(n):
        idx = rng.integers(len(new), size=len(new))
        a, b = m([new[i] for i in idx])[0], m([old[i] for i in idx])[0]
        diffs.append(np.nan if a is None or b is None else a - b)
    a, b = m(new)[0], m(old)[0]
    diff = None if a is None or b is None else a - b
    noise = None
    if diff is not None and np.isfinite(diffs).any():
        lo, hi = np.nanpercentile(diffs, [2.5, 97.5])
        noise = float((hi - lo) / 2)
    return {"new": a, "old": b, "diff": diff, "noise": noise}


def _arrays(per_clip: list[dict]) -> list[dict]:
    return [{k: v if np.isscalar(v) else np.asarray(v) for k, v in c.items()} for c in per_clip]


def differences(new: list[dict], old: list[dict], n: int = 1000) -> dict:
    """Every registered metric's paired bootstrap difference, the same clips resampled for each."""
    return {name: paired_bootstrap(new, old, name, n) for name in METRICS}


def _drops(d: dict) -> bool:
    return d["diff"] is None or d["noise"] is None or d["diff"] < -d["noise"]


def _rises(d: dict) -> bool:
    return d["diff"] is not None and d["noise"] is not None and d["diff"] > d["noise"]


def _said(name: str, d: dict) -> str:
    if d["diff"] is None or d["noise"] is None:
        return f"{name} cannot be measured (no frames)"
    return f"{name} {d['diff']:+.2f} (noise {d['noise']:.2f})"


def verdict(vs_old: dict, vs_warp: dict) -> tuple[bool, list[str]]:
    """Better or not, and why, from NEW's differences against OLD and against the landmark warp (each
    ``{metric: {"diff", "noise", ...}}``; pass the same dict twice when OLD is the landmark warp)."""
    one = vs_warp is vs_old
    against = {"OLD (the landmark warp)": vs_old} if one else {"OLD": vs_old, "the landmark warp": vs_warp}
    reasons = [f"against {who}: {_said(name, d[name])}: drops beyond noise"
               for who, d in against.items() for name in GUARDED if _drops(d[name])]
    if not _rises(vs_warp[OVER_WARP]):
        reasons.append(f"against the landmark warp: {_said(OVER_WARP, vs_warp[OVER_WARP])}: does not rise beyond "
                       "noise")
    if not any(_rises(vs_old[name]) for name in RISING):
        reasons.append(f"against OLD: none of {', '.join(RISING)} rises beyond noise")
    return not reasons, reasons


@dataclass
class CompareOptions(ScoringOptions):
    """Which test clips and frames ``compare`` scores (the CLI's flags are made from these fields)."""

    max_frames: int | None = option(40, "frames per clip (the same for every generator)")
    videos: bool = option(False, "also write each clip's videos (generated, real, side by side) per generator")
    mouths: str = option("none", "own: NEW, OLD and the warp each with their mouths and closing eyes filled from "
                                 "the same donors, each clip's frames after the scored window (evaluate --mouths "
                                 "own)", choices=["none", "own"])

    def evaluate_options(self) -> EvaluateOptions:
        """The evaluation these options ask for: the test split, every other setting as given."""
        return EvaluateOptions(split="test", **dataclasses.asdict(self))


def compare(new: str, old: str, data: str, out: str, options: CompareOptions | None = None, device: str = "cpu",
            progress: bool = True) -> dict:
    """Evaluate ``new``, ``old`` and the landmark warp on the same clips and frames, and decide whether
    ``new`` is better (``verdict.json`` in ``out``: the verdict, the reasons and every difference)."""
    o = options or CompareOptions()
    res = evaluate([new, old], data, out, o.evaluate_options(), device, progress)
    rows, names = res["rows"], res["names"]
    n_name, o_name, w_name = (name + (OWN_MOUTHS if o.mouths == "own" else "") for name in (*names, WARP_ROW))
    vs_old = differences(rows[n_name], rows[o_name])
    vs_warp = vs_old if o_name == w_name else differences(rows[n_name], rows[w_name])
    better, reasons = verdict(vs_old, vs_warp)
    against = {"OLD": vs_old} if vs_warp is vs_old else {"OLD": vs_old, "landmark warp": vs_warp}
    report = {"new": new, "old": old, "rows": {"new": n_name, "old": o_name}, "better": better, "reasons": reasons,
              "differences": {f"{name} vs {who}": _numbers(d[name]) for who, d in against.items()
                              for name in dict.fromkeys(GUARDED + RISING)},
              "comparisons": against, "clips": res["meta"]["clips"], "frames": res["meta"]["frames"],
              "open-mouth frames": res["table"][WARP_ROW]["open-mouth frames"], "table": res["table"]}
    atomic_write_bytes(Path(out) / "verdict.json", json.dumps(_json(report), indent=1).encode())
    return report


def _numbers(d: dict) -> dict:
    """A difference with NaN for what could not be measured (so that it prints as a number)."""
    return {k: math.nan if v is None else v for k, v in d.items()}


def _json(x):
    """NaN and infinity as null (strict JSON)."""
    if isinstance(x, dict):
        return {k: _json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json(v) for v in x]
    return None if isinstance(x, float) and not math.isfinite(x) else x
