"""Peak memory of ``motiongan prepare`` on a long clip and on a 1080p clip, both made at run time from
real clips of ../shared/data in a temporary folder; prints JSON.

    python benchmarks/prepare_memory.py [--data ../shared/data] [--frames 2000] [--hd-frames 500]

The long clip loops GRID ``bbaf2n`` (360 x 288, 75 frames) to ``--frames`` frames; the 1080p clip loops
MEAD ``W040/spectre_level_3_happy_029`` (1920 x 1080, 165 frames) to ``--hd-frames``. Each is prepared
twice by the command line in a fresh cache: its first 25 frames (the baseline: Python, the libraries and
the landmarker) and all of it. ``peak_mib`` is the larger of the peak of the summed resident memory of the
command and every process under it (sampled every 20 ms) and the largest single process's own peak
(``wait4``, exact).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from motiongan.media import VideoWriter, iter_video, video_info


def loop_clip(src: Path, dst: Path, frames: int) -> dict:
    """``dst``: the frames of ``src`` played over and over, ``frames`` in all."""
    fps = video_info(src)["fps"]
    with VideoWriter(dst, fps) as w:
        n = 0
        while n < frames:
            for rgb in iter_video(src, frames - n):
                w.write(rgb)
                n += 1
    return video_info(dst)


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as f:
                rss[int(entry)] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def measure(video: Path, out: Path, max_frames: int | None) -> dict:
    cmd = [sys.executable, "-m", "motiongan.cli", "prepare", str(video.parent), "--layout", "videos",
           "--out", str(out), "--quiet"] + (["--max-frames", str(max_frames)] if max_frames else [])
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {proc.returncode}")
    manifest = json.loads((out / "manifest.json").read_text())
    tree, largest = peak / 2**20, usage.ru_maxrss / 1024
    return {"frames_prepared": manifest["frames"], "seconds": round(time.perf_counter() - t0, 1),
            "peak_mib": round(max(tree, largest), 1), "sampled_all_processes_mib": round(tree, 1),
            "largest_process_mib": round(largest, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--frames", type=int, default=2000, help="frames of the long clip")
    ap.add_argument("--hd-frames", type=int, default=500, help="frames of the 1080p clip")
    args = ap.parse_args()
    data = Path(args.data)
    cases = {"long": (data / "grid" / "bbaf2n.mpg", args.frames),
             "1080p": (data / "mead" / "W040" / "spectre_level_3_happy_029.mp4", args.hd_frames)}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (src, frames) in cases.items():
            folder = Path(tmp) / name
            folder.mkdir()
            info = loop_clip(src, folder / f"{name}.mp4", frames)
            results[name] = {"source": str(src.relative_to(data)), "video": info,
                             "baseline_25_frames": measure(folder / f"{name}.mp4", Path(tmp) / f"{name}-25", 25),
                             "whole_clip": measure(folder / f"{name}.mp4", Path(tmp) / f"{name}-all", None)}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
