"""Refit a speech model's output scale on the validation speakers and sentences, without training again, and
write the model with it: by amplitude (the predicted mouth opening varies as much as the real one) or by the
least mouth error (what ``train-speech`` fitted before ``--calibrate-by``).

    python scripts/speech_recalibrate.py [MODEL] -o OUT.safetensors [--by amplitude] [--data ../shared/data]

Prints each validation group's amplitude (or error) at the chosen scale; the file's validation figures are
measured again at it. Compare the held-out figures with
``motiongan evaluate-speech --speech-model OUT.safetensors``.
"""
import argparse
from pathlib import Path

import numpy as np

from motiongan.models import load_speech_model
from motiongan.speech.data import VALID_GROUPS, find_clips, load_clips
from motiongan.speech.evaluate import evaluate_clips, fit_amplitude, fit_scale

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default="default")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--by", choices=["amplitude", "error"], default="amplitude")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--tracks", default="runs/speech-tracks")
    args = ap.parse_args()
    model = load_speech_model(args.model)
    valid = load_clips([r for r in find_clips(args.data) if r.split in VALID_GROUPS], args.tracks, 2, True)
    before = model.scale
    model.scale, curves = (fit_amplitude if args.by == "amplitude" else fit_scale)(model, valid)
    model.info = {**model.info, "scale_curves": curves, "calibrated_by": args.by,
                  "recalibrated": f"scripts/speech_recalibrate.py --by {args.by} (scale {before:g} before)",
                  "validation": evaluate_clips(model, valid, VALID_GROUPS)}  # the figures at the new scale
    model.export(args.output)
    print(f"{args.output}: output scale {before:g} -> {model.scale:g} ({args.by}, {len(valid)} validation clips)")
    for group, c in curves.items():
        print(f"  {group}: {'amplitude' if args.by == 'amplitude' else 'mouth error'} at the scale "
              f"{c[model.scale]:.3f}; at scale 1 {c.get(1.0, np.nan):.3f}")


if __name__ == "__main__":
    main()
