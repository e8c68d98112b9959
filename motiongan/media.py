"""Reading images and videos, and writing videos (with an optional audio track) safely.

Images come back as (H, W, 3) uint8 RGB whatever they were on disk (grey, RGBA, 16-bit, EXIF-rotated).
Videos are written through the ``ffmpeg`` binary that ships inside ``imageio-ffmpeg``.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError


class MediaError(ValueError):
    """A file that cannot be read or written; the message names the file."""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read any common image file as (H, W, 3) uint8 RGB, honouring EXIF orientation."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64)
                arr = (arr / max(arr.max(), 1.0) * 255.0).round().astype(np.uint8)
                return np.repeat(arr[..., None], 3, axis=2)
            if im.mode in ("RGBA", "LA", "P", "PA"):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            return np.array(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise MediaError(f"{path}: cannot be decoded as an image ({e})") from None


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, then rename it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image atomically (format from the suffix)."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    Image.fromarray(rgb).save(tmp)
    os.replace(tmp, path)


def video_info(path: str | os.PathLike) -> dict:
    """Frame count, fps and size of a video, or a MediaError if it cannot be decoded."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    cap = cv2.VideoCapture(str(path))
    ok, _ = cap.read() if cap.isOpened() else (False, None)
    info = {
        "frames": int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
        "fps": float(cap.get(cv2.CAP_PROP_FPS)) or 25.0,
        "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    }
    cap.release()
    if not ok:
        raise MediaError(f"{path}: cannot be decoded as a video")
    return info


def iter_video(path: str | os.PathLike, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield the frames of a video as (H, W, 3) uint8 RGB."""
    video_info(path)
    cap = cv2.VideoCapture(str(path))
    n = 0
    try:
        while max_frames is None or n < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            n += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def has_audio(path: str | os.PathLike) -> bool:
    """Whether a media file has an audio stream (asks ffmpeg)."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return "Audio:" in out.stderr


class VideoWriter:
    """Write RGB frames to an H.264 MP4 as they come; the file appears only when closed without error.

    ``audio_from``: a media file whose audio track is copied into the result (trimmed to the video).
    """

    def __init__(self, path, fps: float, audio_from=None, crf: int = 18):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.tmp{os.getpid()}.mp4")
        self.fps, self.crf = fps, crf
        self.audio_from = audio_from if audio_from and has_audio(audio_from) else None
        self.proc = None

    def _start(self, h: int, w: int):
        cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{w}x{h}", "-r", f"{self.fps}", "-i", "-"]
        if self.audio_from:
            cmd += ["-i", str(self.audio_from), "-map", "0:v", "-map", "1:a?", "-c:a", "aac", "-af", "apad",
                    "-shortest"]  # audio padded with silence or cut: the video sets the length
        cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", str(self.crf), "-movflags", "+faststart",
                str(self.tmp)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, rgb: np.ndarray) -> None:
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        h, w = rgb.shape[:2]
        if h % 2 or w % 2:  # yuv420p needs even sizes
            rgb = np.ascontiguousarray(np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge"))
        if self.proc is None:
            self._start(*rgb.shape[:2])
        self.proc.stdin.write(rgb.tobytes())

    def close(self) -> None:
        if self.proc is None:
            raise MediaError(f"{self.path}: no frames were written")
        self.proc.stdin.close()
        err = self.proc.stderr.read().decode(errors="replace")
        if self.proc.wait() != 0:
            self.tmp.unlink(missing_ok=True)
            raise MediaError(f"{self.path}: ffmpeg failed: {err.strip()}")
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        else:
            self.abort()
