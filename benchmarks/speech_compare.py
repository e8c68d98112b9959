"""Two speech models clip by clip on the held-out test groups: differences with their noise; prints JSON.

    python benchmarks/speech_compare.py NEW.safetensors [--old OLD.safetensors] [--data ../shared/data]

For every test group and figure (mouth error / IOD, mouth-opening correlation, amplitude): both models'
means, the mean of the per-clip differences (new - old) and its standard error (paired over the same clips),
so a difference within about two standard errors is noise; and the new model's error minus the mean track's.
The amplitude counts only the clips whose real mouth moves (``evaluate.AMPLITUDE_FLOOR``; "clips" there).
``--old`` defaults to the shipped model.
"""
import argparse
import json

import numpy as np
import torch

from motiongan.models import load_speech_model
from motiongan.speech.data import GROUPS, find_clips, load_clips
from motiongan.speech.evaluate import evaluate_clip


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("new")
    ap.add_argument("--old", default=None)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--tracks", default="runs/speech-tracks")
    args = ap.parse_args()
    torch.set_num_threads(1)
    new = load_speech_model(args.new)
    old = load_speech_model(args.old)
    clips = load_clips([r for r in find_clips(args.data) if r.split in GROUPS], args.tracks, 1, progress=False)
    out = {}
    for group in GROUPS:
        rows = [(evaluate_clip(new, c)[0], evaluate_clip(old, c)[0]) for c in clips if c.ref.split == group]
        a, b = np.array([n["speech model"] for n, _ in rows]), np.array([o["speech model"] for _, o in rows])
        out[group] = {}
        for i, f in enumerate(("error", "corr", "amplitude")):
            ok = np.isfinite(a[:, i]) & np.isfinite(b[:, i])  # the amplitude: NaN on a still real mouth
            x, y = a[ok, i], b[ok, i]
            se = (x - y).std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")
            out[group][f] = {"new": round(float(x.mean()), 4), "old": round(float(y.mean()), 4),
                             "diff": round(float((x - y).mean()), 4), "se": round(float(se), 4)}
            if f == "amplitude":
                out[group][f]["clips"] = int(ok.sum())
        dm = a[:, 0] - np.array([n["mean track"][0] for n, _ in rows])
        out[group]["new_error_minus_mean_track"] = {"diff": round(float(dm.mean()), 4),
                                                    "se": round(float(dm.std(ddof=1) / np.sqrt(len(dm))), 4)}
        out[group]["clips"] = len(a)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
