"""Speech-to-landmarks speed on CPU (one thread and the default), and peak memory; prints JSON.

    python benchmarks/speech.py [--seconds 60] [--fps 25] [--speech-model PATH]

Figures: for a synthetic recording of ``--seconds`` (noise bursts shaped like syllables), the time to
compute log-mel features, the time to predict the landmark track, their sum over the recording's length
(the real-time factor; below 1 is faster than real time) and the peak resident memory.
The held-out accuracy figures come from ``motiongan evaluate-speech`` (see the README).
"""
import argparse
import json
import resource
import time

import numpy as np
import torch

from motiongan.models import load_speech_model
from motiongan.speech.audio import SAMPLE_RATE, Speech


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--speech-model", default=None)
    args = ap.parse_args()
    model = load_speech_model(args.speech_model)
    rng = np.random.default_rng(0)
    n = int(args.seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    wave = (rng.normal(0, 0.1, n) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) ** 2).astype(np.float32)
    Speech.from_wave(wave[:SAMPLE_RATE])  # librosa's first call compiles (numba): not timed
    out = {"seconds_of_speech": args.seconds, "fps": args.fps}
    for threads in (1, torch.get_num_threads()):
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        speech = Speech.from_wave(wave)
        t1 = time.perf_counter()
        track = model.displacements(speech, args.fps)
        t2 = time.perf_counter()
        out[f"threads_{threads}"] = {"features_s": round(t1 - t0, 3), "predict_s": round(t2 - t1, 3),
                                     "frames": len(track), "real_time_factor": round((t2 - t0) / args.seconds, 4)}
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
