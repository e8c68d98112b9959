"""Dubbing against real video: does the dubbed mouth move as the real person's did saying the new sentence, does
the person stay themselves, and how fast is it?

    python benchmarks/dub.py [--data ../shared/data] [--pairs 20] [--speed-only]

**Lip sync** on GRID speaker s1's held-out sentences (every tenth by name, the speech model never trained on
them): the video of sentence A is dubbed with the audio of sentence B (the next held-out one); the dubbed
mouth's inner-lip opening (dlib's 68 points tracked on the output, as the tests detect them) is correlated
with the real video of B's, per clip, then averaged. Reference rows: "source video unchanged" (A's own mouth
against B's), "speak from a photo" (A's first frame made to say B by the landmark warp, today's photo path)
and "speech model's own track" (its predicted opening for B's audio against B's real track: the ceiling of
what rendering can keep). Also: the dlib descriptor distance of each output frame to A's first frame
(against the same for A's own frames), the mouth box's Laplacian sharpness over A's real mouths, its
frame-to-frame flicker over A's, and the largest change of any pixel outside the warped window (the seam:
0 means nothing outside moved but for the encoder).

**Speed**: end to end (decode, tracking, speech model, warp, own mouths, encode, mux) for a 360p source
(GRID, 360 x 288) and a 720p one (a talking-head clip scaled to 1280 x 720), frames per second of output; each
twice in one process: the first call also pays the process's one-off costs (imports, the first torch calls).
"""
import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from motiongan.evaluation import metrics as M
from motiongan.face import FaceJudge, FaceLandmarker
from motiongan.inference import MotionGAN
from motiongan.landmarks import INNER_MOUTH, mouth_box, opening
from motiongan.media import ffmpeg_exe, iter_video, write_image
from motiongan.models import load_speech_model
from motiongan.speech.audio import Speech
from motiongan.speech.canonical import mouth_opening
from motiongan.speech.data import HELD_SENTENCES, find_clips
from motiongan.speech.dub import dub, window
from motiongan.speech.speak import SpeakOptions, speak

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def corr(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def openings(frames, landmarker) -> tuple[np.ndarray, list]:
    pts = [p for _, p in landmarker.follow(frames)]
    return np.array([np.nan if p is None else opening(p, INNER_MOUTH) for p in pts]), pts


def lip_sync(args, landmarker, judge, model) -> None:
    held = [c.path for c in find_clips(args.data) if c.split == HELD_SENTENCES][: args.pairs + 1]
    rows = {k: [] for k in ("source video unchanged", "speak from a photo", "speech model's own track", "dubbed")}
    ident, own_ident, sharp, flicker, seam = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for a, b in zip(held, held[1:]):
            wav = tmp / "b.wav"
            subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(b), "-vn", "-ac", "1", str(wav)],
                           check=True)
            real_b, _ = openings(iter_video(b), landmarker)
            src = list(iter_video(a))
            real_a, pts_a = openings(src, landmarker)
            rows["source video unchanged"].append(corr(real_a, real_b))
            speech = Speech.from_file(wav)
            shapes = model.template[None] + model.displacements(speech, 25.0)
            rows["speech model's own track"].append(corr(mouth_opening(shapes), real_b))
            dub(a, wav, tmp / "d.mp4", model, SpeakOptions(), landmarker)
            dubbed = list(iter_video(tmp / "d.mp4"))
            got, pts_d = openings(dubbed, landmarker)
            rows["dubbed"].append(corr(got, real_b))
            photo = tmp / "a0.png"
            write_image(photo, src[0])
            speak(photo, wav, tmp / "p.mp4", options=SpeakOptions(mouths="none"), model=MotionGAN.landmark_warp(),
                  speech_model=model, landmarker=landmarker)
            rows["speak from a photo"].append(corr(openings(iter_video(tmp / "p.mp4"), landmarker)[0], real_b))
            ref = judge.descriptor(src[0], pts_a[0])
            for frames, pts, out in ((dubbed, pts_d, ident), (src, pts_a, own_ident)):
                out += [judge.distance(judge.descriptor(f, p), ref) for f, p in zip(frames, pts) if p is not None]
            n = min(len(dubbed), len(src))
            boxes = [mouth_box(p, src[0].shape) for p in pts_a[:n] if p is not None]
            sharp += [M.sharpness(dubbed[t][bx], src[t][bx]) for t, bx in zip(range(n), boxes)]
            flicker.append(_change(dubbed[:n], boxes[0]) / max(_change(src[:n], boxes[0]), 1e-6))
            seam.append(_outside_change(dubbed[:n], src[:n], pts_a[:n]))
    print(f"{len(rows['dubbed'])} held-out sentence pairs of GRID s1 (video of A, audio of B); mouth-opening "
          "correlation with the real video of B, mean over clips")
    for name, values in rows.items():
        print(f"  {name:28} {np.nanmean(values):.3f}")
    print(f"identity distance to A's first frame: dubbed {np.mean(ident):.3f}, A's own frames {np.mean(own_ident):.3f}"
          f"; mouth sharpness over A's {np.nanmedian(sharp):.2f}; mouth flicker over A's {np.mean(flicker):.2f}; "
          f"outside the window, mean change {np.mean(seam):.2f} grey levels (the encoder's)")


def _change(frames, box) -> float:
    """The mean frame-to-frame change of a box's pixels."""
    return float(np.mean([np.abs(frames[t][box].astype(float) - frames[t - 1][box]).mean()
                          for t in range(1, len(frames))]))


def _outside_change(dubbed, src, pts) -> float:
    diffs = []
    for d, s, p in zip(dubbed, src, pts):
        if p is None:
            continue
        x0, y0, side = window(p, s.shape)
        mask = np.ones(s.shape[:2], bool)
        mask[max(0, y0 - 2):y0 + side + 2, max(0, x0 - 2):x0 + side + 2] = False
        diffs.append(np.abs(d[mask].astype(float) - s[mask]).mean())
    return float(np.mean(diffs))


def speed(args, landmarker, model) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        grid = sorted((Path(args.data) / "grid_s1" / "s1").glob("*.mpg"))
        wav = tmp / "speech.wav"
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(grid[5]), "-vn", "-ac", "1", str(wav)],
                       check=True)
        hd = tmp / "720p.mp4"
        talking = Path(args.data) / "talking" / "d0.mp4"
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(talking), "-t", "3", "-vf",
                        "scale=1280:720", "-an", "-c:v", "libx264", "-crf", "18", str(hd)], check=True)
        for name, video in (("360p (GRID, 360 x 288)", grid[0]), ("720p (1280 x 720)", hd)):
            for run in ("first call", "again"):  # the first pays the process's one-off costs (imports, warm-up)
                t = time.perf_counter()
                res = dub(video, wav, tmp / "out.mp4", model, SpeakOptions(), FaceLandmarker())
                dt = time.perf_counter() - t
                print(f"speed, {name}, {run}: {res['written']} frames in {dt:.1f} s: "
                      f"{res['written'] / dt:.1f} frames/s end to end")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--pairs", type=int, default=19)
    ap.add_argument("--speed-only", action="store_true")
    args = ap.parse_args()
    landmarker, model = FaceLandmarker(), load_speech_model()
    speed(args, landmarker, model)
    if not args.speed_only:
        lip_sync(args, landmarker, FaceJudge(), model)


if __name__ == "__main__":
    main()
