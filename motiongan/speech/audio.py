"""Reading speech from any file ffmpeg reads, and log-mel features aligned to video frame times.

Audio is decoded by the ``ffmpeg`` binary of ``imageio-ffmpeg`` (wav, mp3, m4a, flac, the audio track of a
video ...) to 16 kHz mono float32. Features are librosa log-mel spectrograms (25 ms windows every 10 ms),
normalised per recording; frame ``t`` of a video at ``fps`` sees a fixed window of audio centred on its
time, so the same model serves any frame rate.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MotionGANError
from ..media import MediaError, ffmpeg_exe

SAMPLE_RATE = 16000
HOP = 160  # 10 ms
N_FFT = 400  # 25 ms
N_MELS = 40
SILENCE_DBFS = -60.0  # a recording whose peak is below this is treated as silent
MAX_SECONDS = 600.0


class AudioError(MediaError):
    """Audio that cannot be used for speech; the message names the file."""


class TooLongError(AudioError):
    """A recording longer than the limit; its hint says how to raise the limit (a page gives its own)."""


LIMIT_HINT = "raise the limit with --max-seconds"


def load_audio(path: str | os.PathLike, max_seconds: float = MAX_SECONDS, check_silence: bool = True) -> np.ndarray:
    """Mono float32 samples at 16 kHz in [-1, 1], from any file with an audio stream.

    Raises :class:`AudioError` (naming the file) for a missing or empty file, a file with no audio stream,
    audio longer than ``max_seconds`` (:class:`TooLongError`; decoding stops there, so memory stays
    bounded) or silence.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError("no such file", path=path)
    if path.stat().st_size == 0:
        raise AudioError("empty file (0 bytes)", path=path)
    stated = _stated_seconds(path)
    if stated is not None and stated > max_seconds + 1.0:  # the header says so: no need to decode
        raise TooLongError(f"{stated:.0f} s long, more than {max_seconds:g} s", path=path, hint=LIMIT_HINT)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:a:0",
           "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-t", f"{max_seconds + 1.0:.3f}", "-f", "f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        if any("matches no streams" in e for e in err):
            raise AudioError("has no audio stream", path=path)
        detail = err[-1].removeprefix(f"{path}: ") if err else "ffmpeg failed"  # the path is said once
        raise AudioError(f"cannot be decoded as audio ({detail})", path=path)
    wave = np.frombuffer(proc.stdout, np.float32)
    if wave.size == 0:
        raise AudioError("has no audio samples", path=path)
    if wave.size > max_seconds * SAMPLE_RATE:
        raise TooLongError(f"longer than {max_seconds:g} s", path=path, hint=LIMIT_HINT)
    if check_silence:
        peak = float(np.abs(wave).max())
        if peak <= 10 ** (SILENCE_DBFS / 20):
            raise AudioError(f"the audio is silent (peak {20 * math.log10(max(peak, 1e-12)):.0f} dBFS)", path=path)
    return wave.copy()


def _stated_seconds(path: Path) -> float | None:
    """The duration a media file's header states, if any (decoding still stops at the limit)."""
    err = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True,
                         text=True, errors="replace").stderr
    m = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", err)
    return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else None


def _librosa():
    try:
        import librosa
    except ImportError:
        raise MotionGANError("speech features need librosa", hint="pip install 'motiongan[speech]' "
                             "(pinned: librosa==0.11.0)") from None
    return librosa


def n_video_frames(n_samples: int, fps: float) -> int:
    """Frames of a video at ``fps`` covering ``n_samples`` of audio: one per 1/fps, the last one partial."""
    return max(1, math.ceil(n_samples / SAMPLE_RATE * fps - 1e-3))


def log_mel(wave: np.ndarray) -> np.ndarray:
    """(n_mel_frames, 40) log-mel spectrogram, one row every 10 ms, each band normalised to zero mean and
    unit variance over the recording (so level and channel differences matter less)."""
    mel = _librosa().feature.melspectrogram(y=np.asarray(wave, np.float32), sr=SAMPLE_RATE, n_fft=N_FFT,
                                         hop_length=HOP, n_mels=N_MELS, fmin=50.0, fmax=SAMPLE_RATE / 2)
    logm = np.log(mel + 1e-6).T.astype(np.float32)
    return (logm - logm.mean(0)) / (logm.std() + 1e-5)


def loudness(wave: np.ndarray) -> np.ndarray:
    """Log RMS energy per 10 ms hop, aligned with :func:`log_mel` rows."""
    rms = _librosa().feature.rms(y=np.asarray(wave, np.float32), frame_length=N_FFT, hop_length=HOP)[0]
    return np.log(rms + 1e-5).astype(np.float32)


@dataclass
class Speech:
    """A recording's per-hop features, and their windows at video frame times."""

    mel: np.ndarray  # (n_hops, n_mels)
    energy: np.ndarray  # (n_hops,)
    n_samples: int

    @classmethod
    def from_wave(cls, wave: np.ndarray) -> "Speech":
        return cls(log_mel(wave), loudness(wave), len(wave))

    @classmethod
    def from_file(cls, path, max_seconds: float = MAX_SECONDS) -> "Speech":
        return cls.from_wave(load_audio(path, max_seconds))

    @property
    def seconds(self) -> float:
        return self.n_samples / SAMPLE_RATE

    def n_frames(self, fps: float) -> int:
        return n_video_frames(self.n_samples, fps)

    def hop_index(self, n_frames: int, fps: float, context: int, start: int = 0, stop: int | None = None):
        """(frames, 2 * context + 1) row indices of the hops around the centre times of frames
        ``start:stop`` of ``n_frames`` at ``fps``."""
        stop = n_frames if stop is None else min(n_frames, stop)
        centre = (np.arange(start, stop) + 0.5) / fps * SAMPLE_RATE / HOP
        idx = np.round(centre)[:, None].astype(np.int64) + np.arange(-context, context + 1)[None]
        return np.clip(idx, 0, len(self.mel) - 1)

    def windows(self, n_frames: int, fps: float, context: int, start: int = 0, stop: int | None = None):
        """(frames, 2 * context + 1, n_mels) log-mel windows of frames ``start:stop`` of a video at ``fps``."""
        return self.mel[self.hop_index(n_frames, fps, context, start, stop)]

    def frame_energy(self, n_frames: int, fps: float) -> np.ndarray:
        """Loudness at each frame's centre (mean over +-2 hops)."""
        return self.energy[self.hop_index(n_frames, fps, 2)].mean(1)
