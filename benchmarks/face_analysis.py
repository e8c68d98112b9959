"""Speed of the face-analysis parts on this machine; prints JSON.

- detect + 68 landmarks per frame of a 640 x 360 video (a shared talking clip resized), with the detector
  on every frame and with tracking (detector only when the face is lost);
- V (SFace) per batch of 16 aligned faces, and the differentiable alignment in front of it.

    python benchmarks/face_analysis.py [--clip ../shared/data/talking/s18.mp4] [--frames 60]
"""
import argparse
import json
import time
from pathlib import Path

import cv2
import torch

from motiongan.face import FaceLandmarker, Verification, align_faces
from motiongan.media import iter_video


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/talking/s18.mp4")
    ap.add_argument("--frames", type=int, default=60)
    args = ap.parse_args()
    frames = [cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA) for f in iter_video(args.clip, args.frames)]
    lm = FaceLandmarker()
    t = time.perf_counter()
    for f in frames:
        lm(f)
    detect_each = (time.perf_counter() - t) / len(frames)
    t = time.perf_counter()
    lm.track(frames)
    tracked = (time.perf_counter() - t) / len(frames)

    torch.set_num_threads(torch.get_num_threads())
    v = Verification()
    faces = torch.rand(16, 3, 112, 112) * 255
    images, points = torch.rand(16, 3, 128, 128) * 2 - 1, torch.rand(16, 68, 2) * 60 + 30
    with torch.no_grad():
        v(faces)
        t = time.perf_counter()
        for _ in range(5):
            v(faces)
        v_ms = (time.perf_counter() - t) / 5 * 1000
        t = time.perf_counter()
        for _ in range(5):
            align_faces(images, points)
        align_ms = (time.perf_counter() - t) / 5 * 1000
    print(json.dumps({
        "frames": len(frames), "frame_size": "640x360", "threads": torch.get_num_threads(),
        "detect_and_landmarks_ms_per_frame": round(detect_each * 1000, 2),
        "tracked_landmarks_ms_per_frame": round(tracked * 1000, 2),
        "verification_ms_per_batch16": round(v_ms, 1),
        "alignment_ms_per_batch16": round(align_ms, 2),
    }, indent=1))


if __name__ == "__main__":
    main()
