"""How fast ``motiongan animate`` runs on CPU, end to end and per stage; prints a table, then JSON.

    python benchmarks/animate_speed.py [--checkpoint warp] [--frames 250] [--sizes 128 256 512]
                                       [--threads 2] [--driver VIDEO] [--json PATH]

The driver is a 640 x 480 video (by default ../shared/data/talking/d10.mp4 scaled into 640 x 480, its
first ``--frames`` frames, made once in a temporary folder); the source is scikit-image's astronaut.

- **end to end**: ``Animator.animate`` as the command runs it (decode, landmarks with tracking, One Euro
  filter, retargeting, motion and network, real mouths, compose, H.264 encode and write), model and source
  loaded beforehand; frames/s = driving frames / wall time. Once as the command's defaults (``--mouths
  auto``: the driver's mouths), once with ``--paste``, once with ``--mouths none`` and once with own mouths
  (mouth and eyes from a bank of the driver video's frames, built beforehand: the most filling work); with
  the landmark warp, also once with ``--motion mesh`` (the driver's face mesh, default mouths).
- **stages**, each timed alone over the same frames (ms per frame): decode; landmarks (tracked from the
  previous frame; how many frames ran the detector); filter and retarget; generate (motion and network);
  compose (pasted into the photo); encode and write (the pasted frames).
- **levers**, each against what it replaced (ms per frame): paste-back made per frame vs once per source;
  libx264 ``medium`` (its default) vs ``veryfast``; the tracker's check searching the whole frame vs
  around the face.
- **live**: the camera path (:class:`~motiongan.inference.driver.Capture` on the driver file): latency from
  a frame's arrival to its result handed to the encoder, mean and 95th percentile.

Sizes: ``--size`` of animate (128 is the default model's own size). ``--threads``: torch's threads (the
target machine has 2 cores).
"""
import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from motiongan.crop import PasteBack
from motiongan.face.landmarker import FaceLandmarker, _box_from_points
from motiongan.filtering import OneEuroFilter
from motiongan.inference.animate import AnimateOptions, Animator, RenderOptions, compose
from motiongan.inference.donors import bank_from_media
from motiongan.inference.driver import Capture, follow_driver
from motiongan.landmarks import interocular, retarget
from motiongan.media import VideoWriter, ffmpeg_exe, iter_video, write_image, write_video
from motiongan.models import load_generator

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def make_driver(src: Path, frames: int, folder: Path) -> Path:
    """``src`` scaled into 640 x 480 (letterboxed), its first ``frames`` frames, H.264."""
    out = folder / "driver_640x480.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(src), "-frames:v", str(frames), "-vf",
                    "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2",
                    "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


class Counting(FaceLandmarker):
    """A landmarker that counts its detector runs."""

    def __init__(self):
        super().__init__()
        self.detections = 0

    def detect(self, rgb, near=None):
        self.detections += 1
        return super().detect(rgb, near)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def stages(animator: Animator, landmarker: Counting, source, driver: Path, paste: bool, folder: Path) -> dict:
    """Each stage alone over the same frames: ms per frame."""
    frames, t_decode = timed(lambda: list(iter_video(driver)))
    n = len(frames)
    landmarker.detections = 0
    tracked, t_lms = timed(lambda: [p for _, p in landmarker.follow(frames)])
    found = [p for p in tracked if p is not None]

    def filter_retarget():
        f = OneEuroFilter(scale=float(interocular(found[0])))
        return [retarget(source.landmarks, f(p)[None], found[0])[0] for p in found]
    targets, t_filter = timed(filter_retarget)
    crops, t_gen = timed(lambda: list(animator.frames(source, targets)))
    how = RenderOptions(paste=paste)
    shown, t_compose = timed(lambda: [compose(source, c, t, i, how) for i, (c, t) in enumerate(zip(crops, targets))])
    _, t_write = timed(lambda: write_video(shown, folder / "stages.mp4", 25.0))
    ms = lambda t: 1000 * t / n  # noqa: E731
    return {"decode": ms(t_decode), "landmarks": ms(t_lms), "detector_frames": landmarker.detections,
            "filter_retarget": ms(t_filter), "generate": ms(t_gen), "compose": ms(t_compose),
            "encode_write": ms(t_write), "frames": n, "levers": levers(source, frames, found, crops, folder)}


def levers(source, frames: list, found: list, crops: list, folder: Path, n: int = 40) -> dict:
    """Each speed lever against what it replaced, ms per frame over ``n`` frames: the paste-back made for
    every frame or once per source; libx264's default preset or veryfast on the generated crops (pasted,
    as ``--paste`` writes them); the tracker's check with a full-frame search or around the face only."""
    size = crops[0].shape[0]
    per = lambda t: 1000 * t / n  # noqa: E731
    _, t_fresh = timed(lambda: [PasteBack(source.image, source.out_matrix, size)(c) for c in crops[:n]])
    paste = PasteBack(source.image, source.out_matrix, size)
    pasted, t_once = timed(lambda: [paste(c) for c in crops[:n]])
    out = {"paste_per_frame": per(t_fresh), "paste_once": per(t_once)}
    def encode(preset):
        with VideoWriter(folder / f"{preset}.mp4", 25.0, preset=preset) as vw:
            for f in pasted:
                vw.write(f)
    for preset in ("medium", "veryfast"):
        out[f"encode_{preset}"] = per(timed(lambda: encode(preset))[1])  # noqa: B023 (called at once)
    lm = FaceLandmarker()
    out["detect_full"] = per(timed(lambda: [lm.detect(f) for f in frames[:n]])[1])
    out["detect_near"] = per(timed(lambda: [lm.detect(f, near=_box_from_points(p))
                                            for f, p in zip(frames[:n], found[:n])])[1])
    return out


def live_latency(animator: Animator, source, driver: Path, folder: Path) -> dict:
    """Arrival-to-encoder latency per frame on the camera path, driven by the file."""
    arrived, latency = [], []

    def stamped(frames):
        for f in frames:
            arrived.append(time.perf_counter())
            yield f
    driven = follow_driver(stamped(Capture(driver)), source.landmarks, animator.landmarker, animator.model.size)
    targets = (d.target for d in driven)
    with VideoWriter(folder / "live.mp4", 25.0) as vw:
        for i, crop in enumerate(animator.frames(source, targets)):
            vw.write(crop)
            latency.append(time.perf_counter() - arrived[i])
    ms = 1000 * np.array(latency)
    return {"mean_ms": float(ms.mean()), "p95_ms": float(np.percentile(ms, 95)), "frames": len(ms)}


def run(args, folder: Path) -> list[dict]:
    import skimage.data

    driver = Path(args.driver) if args.driver else make_driver(DATA / "talking" / "d10.mp4", args.frames, folder)
    photo = folder / "astronaut.png"
    write_image(photo, skimage.data.astronaut())
    landmarker = Counting()
    animator = Animator(load_generator(args.checkpoint, "cpu"), landmarker)
    bank = bank_from_media(driver, landmarker)
    bank.own = True
    rows = []
    for size in args.sizes:
        source = animator.source(photo, size=str(size))
        row = {"size": size, "checkpoint": args.checkpoint or "default"}
        runs = [("fps", AnimateOptions()), ("fps_paste", AnimateOptions(paste=True)),
                ("fps_no_mouths", AnimateOptions(mouths="none"))]
        if type(animator.model.G).__name__ == "LandmarkWarp":  # mesh motion moves the photo's own pixels
            runs.append(("fps_mesh", AnimateOptions(motion="mesh")))
        for key, options in runs:
            t = time.perf_counter()
            res = animator.animate(source, driver, folder / "e2e.mp4", options)
            row[key] = res["frames"] / (time.perf_counter() - t)
        t = time.perf_counter()
        res = animator.follow(source, driver, folder / "e2e.mp4", AnimateOptions(mouths="own"), bank=bank)
        row["fps_own_mouths"] = res["frames"] / (time.perf_counter() - t)
        row["stages_ms"] = stages(animator, landmarker, source, driver, True, folder)
        row["live"] = live_latency(animator, source, driver, folder)
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help="a shipped name or a file (default: the default model)")
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--driver", default=None, help="a driving video (default: a 640 x 480 one made from d10.mp4)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(args, Path(tmp))
    keys = ("decode", "landmarks", "filter_retarget", "generate", "compose", "encode_write")
    print(f"torch threads {args.threads}; ms per frame per stage; end to end frames/s")
    print(f"{'size':>5} {'e2e fps':>8} {'+paste':>7} {'no mouths':>9} {'own':>6} {'mesh':>6} "
          + " ".join(f"{k:>15}" for k in keys)
          + f" {'detector':>9} {'live ms':>8} {'p95':>6}")
    for r in rows:
        s = r["stages_ms"]
        print(f"{r['size']:>5} {r['fps']:>8.1f} {r['fps_paste']:>7.1f} {r['fps_no_mouths']:>9.1f} "
              f"{r['fps_own_mouths']:>6.1f} {r.get('fps_mesh', float('nan')):>6.1f} "
              + " ".join(f"{s[k]:>15.2f}" for k in keys)
              + f" {s['detector_frames']:>4}/{s['frames']:<4} {r['live']['mean_ms']:>8.1f} {r['live']['p95_ms']:>6.1f}")
    print("levers, ms per frame: paste per frame / once, encode medium / veryfast, detect full / near")
    for r in rows:
        v = r["stages_ms"]["levers"]
        print(f"{r['size']:>5} {v['paste_per_frame']:.2f} / {v['paste_once']:.2f}   {v['encode_medium']:.1f} / "
              f"{v['encode_veryfast']:.1f}   {v['detect_full']:.1f} / {v['detect_near']:.1f}")
    text = json.dumps(rows, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
