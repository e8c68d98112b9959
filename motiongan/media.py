"""Reading images and videos, and writing videos (with an optional audio track) safely.

Images come back as (H, W, 3) uint8 RGB whatever they were on disk (grey, RGBA, 16-bit, EXIF-rotated).
Videos are written through the ``ffmpeg`` binary that ships inside ``imageio-ffmpeg``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import MotionGANError, note

# libav's own lines about a damaged video (read by OpenCV) are not printed: the commands say it in one line
# (iter_video's note); AV_LOG_FATAL, read when OpenCV first opens a video
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")


class MediaError(MotionGANError):
    """A file that cannot be read or written; the message names the file."""


class WriteError(MediaError):
    """An output that cannot be written (a full disk, a read-only file system ...): a command that writes
    many files stops at the first, as the rest would fail alike."""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read any common image file as (H, W, 3) uint8 RGB, honouring EXIF orientation."""
    path = Path(path)
    if not path.is_file():
        raise MediaError("no such file", path=path)
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
        raise MediaError(f"cannot be decoded as an image ({e})", path=path) from None


# the file kinds every command and the web page accept, by suffix (the one list of each)
VIDEO_SUFFIXES = {".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".webm", ".m4v"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp", ".gif"}
TRACK_SUFFIX = ".npy"  # a landmark track, N x 68 x 2


def check_output(path: str | os.PathLike, suffixes: set[str] | None = None, create_folder: bool = False) -> Path:
    """An output file name that can be written, checked before any heavy work: the right suffix, not a
    folder, in an existing writable folder (or one that can be created, with ``create_folder``)."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise MediaError(f"expected a file name ending in {' or '.join(sorted(suffixes))}", path=path)
    if path.is_dir():
        raise MediaError("is a folder; give a file name", path=path)
    folder = path.parent
    if create_folder:
        check_output_folder(folder)
    elif not folder.is_dir():
        raise MediaError(f"no such folder (for the output {path.name})", path=folder)
    elif not os.access(folder, os.W_OK | os.X_OK) or not _can_create(folder):
        raise MediaError(f"folder is not writable (for the output {path.name})", path=folder)
    if folder.is_dir():
        remove_stale_temporaries(folder, of=path.name)
    return path


def _can_create(folder: Path) -> bool:
    """Whether a file can really be created in ``folder`` (a permission check is not enough: /proc, a full or
    read-only file system): a probe file made and removed at once."""
    probe = folder / f".motiongan-probe-{os.getpid()}.tmp"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError:
        return False
    probe.unlink(missing_ok=True)
    return True


def check_output_folder(path: str | os.PathLike) -> Path:
    """An output folder that exists and is writable, or can be created."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MediaError("exists and is not a folder", path=path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK) or not _can_create(existing):
        raise MediaError(f"folder is not writable (for the output {path})", path=existing)
    return path


_TEMPORARY = re.compile(r"\..+\.tmp(\d+)(\.\w+)?")  # .NAME.tmpPID or .STEM.tmpPID.SUFFIX


def temporary_name(path: Path, keep_suffix: bool = False, pid: int | None = None) -> Path:
    """The hidden name beside ``path`` under which this process (or process ``pid``) writes it before
    renaming it into place."""
    pid = os.getpid() if pid is None else pid
    name = f".{path.stem}.tmp{pid}{path.suffix}" if keep_suffix else f".{path.name}.tmp{pid}"
    return path.with_name(name)


def remove_stale_temporaries(folder: str | os.PathLike, of: str | None = None) -> list[Path]:
    """Remove the temporary files and folders in ``folder`` whose writing process is gone (what a killed
    command leaves), only those of the file named ``of`` if given; returns them. Those of running
    processes are left alone."""
    stale = []
    for p in Path(folder).glob(".*.tmp*"):
        m = _TEMPORARY.fullmatch(p.name)
        if m is None or _running(int(m.group(1))):
            continue
        if of is not None and p.name not in {temporary_name(Path(of), k, int(m.group(1))).name for k in (0, 1)}:
            continue
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        stale.append(p)
    return stale


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def _atomic(path: Path, write, keep_suffix: bool = False) -> None:
    """``write(tmp)`` to a hidden temporary name beside ``path``, then rename it into place; any failure
    leaves no temporary file and is reported as a MediaError naming ``path``."""
    tmp = temporary_name(path, keep_suffix)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"cannot be written ({e.strerror or e})", path=path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_file(path: str | os.PathLike, write) -> None:
    """``write(f)`` into a binary file under a temporary name beside ``path``, then rename it into place."""
    def to(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            write(f)

    _atomic(Path(path), to)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, then rename it into place."""
    _atomic(Path(path), lambda tmp: tmp.write_bytes(data))


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image atomically (format from the suffix)."""
    _atomic(Path(path), lambda tmp: Image.fromarray(rgb).save(tmp), keep_suffix=True)


def video_info(path: str | os.PathLike) -> dict:
    """Frame count, fps and size of a video, or a MediaError if it cannot be decoded."""
    path = Path(path)
    if not path.is_file():
        raise MediaError("no such file", path=path)
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
        raise MediaError("cannot be decoded as a video", path=path)
    return info


def iter_video(path: str | os.PathLike, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield the frames of a video as (H, W, 3) uint8 RGB. A video that ends well before the frame count its
    header states (a truncated or damaged file) says so in a warning, naming the frame it ended at."""
    stated = video_info(path)["frames"]
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
    wanted = stated if max_frames is None else min(stated, max_frames)
    if n < wanted - max(2, 0.05 * wanted):  # (a header's count of some formats is an estimate)
        note(f"{path}: the video ended at frame {n} of the {stated} its header states (truncated or damaged): the "
             "output has the frames up to there")


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def has_audio(path: str | os.PathLike) -> bool:
    """Whether a media file has an audio stream (asks ffmpeg)."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return "Audio:" in out.stderr


def variable_rate(path: str | os.PathLike, spread: float = 0.2, share: float = 0.01) -> float | None:
    """The nominal frame rate (that of the median interval between frames) of a variable-frame-rate video,
    else None: more than ``share`` of its intervals differ from the median by more than ``spread`` of it. The
    packets' timestamps are read without decoding (ffmpeg's ``framemd5`` of a stream copy)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0:v:0", "-c", "copy",
           "-f", "framemd5", "-"]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    base = re.search(r"#tb 0: (\d+)/(\d+)", out)
    pts = sorted(int(line.split(",")[2]) for line in out.splitlines() if line.strip() and line[0] != "#")
    steps = np.diff(pts)
    steps = steps[steps > 0]
    if base is None or len(steps) < 2:
        return None
    median = float(np.median(steps))
    if np.mean(np.abs(steps - median) > spread * median) <= share:
        return None
    rate = int(base[2]) / (int(base[1]) * median)
    return round(rate, 3) if 1 <= rate <= 120 else None


def to_constant_rate(path: str | os.PathLike, out: str | os.PathLike, fps: float) -> Path:
    """``path``'s video (no audio) at a constant ``fps``: each output time shows the frame on screen then
    (frames repeated or dropped by their timestamps), nearly lossless H.264."""
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(path), "-an", "-vf", f"fps={fps:g}", "-c:v",
           "libx264", "-crf", "10", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise MediaError(f"could not be resampled to a constant frame rate ({done.stderr.strip()[-200:]})", path=path)
    return Path(out)


class VideoWriter:
    """Write RGB frames to an H.264 MP4 as they come; the file appears only when closed without error.

    ``audio_from``: a media file whose audio track is copied into the result (trimmed to the video).
    ``preset``: libx264's speed preset; ``veryfast`` encodes about twice as fast as libx264's default
    ``medium`` at the same ``crf`` (``benchmarks/animate_speed.py``'s levers: 4.9 vs 9.2 ms a pasted
    512 x 512 frame on 2 cores).
    """

    def __init__(self, path, fps: float, audio_from=None, crf: int = 18, preset: str = "veryfast"):
        self.path = Path(path)
        self.tmp = temporary_name(self.path.with_suffix(".mp4"), keep_suffix=True)
        self.fps, self.crf, self.preset = fps, crf, preset
        self.audio_from = audio_from if audio_from and has_audio(audio_from) else None
        self.proc = None

    def _start(self, h: int, w: int):
        cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{w}x{h}", "-r", f"{self.fps}", "-i", "-"]
        if self.audio_from:
            cmd += ["-i", str(self.audio_from), "-map", "0:v", "-map", "1:a?", "-c:a", "aac", "-af", "apad",
                    "-shortest"]  # audio padded with silence or cut: the video sets the length
        cmd += ["-c:v", "libx264", "-preset", self.preset, "-pix_fmt", "yuv420p", "-crf", str(self.crf),
                "-movflags", "+faststart", str(self.tmp)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, rgb: np.ndarray) -> None:
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        h, w = rgb.shape[:2]
        if h % 2 or w % 2:  # yuv420p needs even sizes
            rgb = np.ascontiguousarray(np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge"))
        if self.proc is None:
            self._start(*rgb.shape[:2])
        try:
            self.proc.stdin.write(rgb.tobytes())
        except OSError:  # ffmpeg stopped: say why
            err = self.proc.stderr.read().decode(errors="replace").strip().splitlines()
            self.abort()
            raise MediaError(f"ffmpeg failed: {err[-1] if err else 'it stopped'}", path=self.path) from None

    def close(self) -> None:
        if self.proc is None:
            raise MediaError("no frames were written", path=self.path)
        self.proc.stdin.close()
        err = self.proc.stderr.read().decode(errors="replace")
        if self.proc.wait() != 0:
            self.tmp.unlink(missing_ok=True)
            raise MediaError(f"ffmpeg failed: {err.strip()}", path=self.path)
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stderr):
                try:
                    f.close()
                except OSError:
                    pass
        self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(frames, out, fps: float, audio=None, require_audio: bool = False, total: int | None = None,
                progress: bool = False, desc: str = "video") -> dict:
    """Write RGB ``frames`` to the MP4 ``out`` as they come (:class:`VideoWriter`), with ``audio``'s sound
    when it has some (required, checked before any frame, with ``require_audio``); a progress bar with
    ``progress``. Returns a summary: frames, fps, whether there is audio, the output."""
    from tqdm import tqdm

    n = 0
    with VideoWriter(out, fps, audio_from=audio) as vw:
        if require_audio and vw.audio_from is None:
            raise MediaError("ffmpeg found no audio stream to copy", path=audio)
        for frame in tqdm(frames, total=total, unit="frame", desc=desc, disable=not progress):
            vw.write(frame)
            n += 1
    return {"frames": n, "fps": fps, "audio": vw.audio_from is not None, "out": str(out)}
