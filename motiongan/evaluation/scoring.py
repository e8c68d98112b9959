"""Per-frame scores of a generated (or reference) clip against the real one: the *series* that the metrics
of :mod:`motiongan.evaluation.registry` pool.

Per frame: ``landmark_error`` (dlib's 68 points fitted in the target's box on the frame upscaled x2, mean
error over the target's inter-ocular distance), ``id_cosine`` (SFace V's cosine to the real first frame),
``same_person`` (the dlib ResNet judge: descriptor distance < 0.6 to the real first frame's), ``open_mouth``
and ``closing_eye`` (the target's mouth opens, an eye closes, past the source's: frame 0); and, against the
real frame's pixels, ``psnr``, ``ssim``, ``mouth_psnr`` and ``mouth_ssim`` (in the mouth box alone, clipped to
the frame; SSIM's map over the whole box, borders reflected, so pixels outside the box never count) and
``sharpness`` (Laplacian variance of the grey face box, the bounding box of the target landmarks, over the
real frame's), ``mouth_sharpness`` (the same in the mouth box), ``eye_psnr`` (both eye boxes). Per clip:
``jitter`` (mean acceleration of the detected landmarks) and ``mouth_flicker`` (the mean frame-to-frame
change of the mouth box's pixels, generated over real: above 1, the mouth changes more between frames than
the real one does). The rules, the boxes and their constants live with the face regions in
:mod:`motiongan.landmarks` (``open_mouth``, ``closing_eye``, ``mouth_box``, ``eye_boxes``).

V's embeddings of all rows' frames of a clip are computed in one batch (:meth:`Scorer.score_rows`), by a
copy of V with its batch norms folded into the convolutions (:func:`fused`).
"""
from __future__ import annotations

import copy
import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..convention import to_pixels, to_tensor
from ..errors import note
from ..face import FaceJudge, FaceLandmarker, Verification, align_faces, jitter
from ..landmarks import closing_eye, eye_boxes, grown_box, mouth_box, normalised_error, open_mouth
from . import metrics as M

VERSION = 3  # of the series' meaning: bump when a series changes (invalidates cached scores)
UPSCALE = 2


def image_scores(frames: np.ndarray, real: np.ndarray, lms: np.ndarray) -> dict:
    """The pixel series of each generated frame against its real one (RGB uint8, (T, H, W, 3))."""
    out = {k: [] for k in ("psnr", "ssim", "mouth_psnr", "mouth_ssim", "sharpness", "mouth_sharpness", "eye_psnr")}
    change = np.zeros(2)  # the mouth box's frame-to-frame change: generated, real
    for i, (g, r, t) in enumerate(zip(frames, real, lms)):
        mouth = mouth_box(t, g.shape)
        face = grown_box(t, 0.0, g.shape)
        out["psnr"].append(M.psnr(g, r))
        out["ssim"].append(M.ssim(g, r))
        out["mouth_psnr"].append(M.psnr(g[mouth], r[mouth]))
        out["mouth_ssim"].append(float(M.ssim_map(g[mouth], r[mouth]).mean()))
        out["sharpness"].append(M.sharpness(g[face], r[face]))
        out["mouth_sharpness"].append(M.sharpness(g[mouth], r[mouth]))
        eyes = eye_boxes(t, g.shape)
        out["eye_psnr"].append(M.psnr(np.concatenate([g[e].reshape(-1, 3) for e in eyes]),
                                      np.concatenate([r[e].reshape(-1, 3) for e in eyes])))
        if i:
            change += [np.abs(x[i][mouth].astype(np.float32) - x[i - 1][mouth]).mean() for x in (frames, real)]
    out["mouth_flicker"] = float(change[0] / change[1]) if change[1] > 0 else float("nan")
    return out


def pixel_series(frames: np.ndarray, real: np.ndarray, lms: np.ndarray) -> dict:
    """The pixel series (:func:`image_scores`) and ``open_mouth`` of frames 1.. of a clip, frame 0 the source
    (left out: it is the source itself): what the registry's image metrics (``PSNR``, ``open-mouth PSNR``, ...)
    pool, without the dlib and V halves of :class:`Scorer` (seconds a clip, not minutes)."""
    series = image_scores(frames[1:], real[1:], lms[1:])
    series["open_mouth"] = open_mouth(lms[1:], lms[0]).tolist()
    return series


def fused(V: Verification) -> Verification:
    """A copy of V for inference only: each batch norm that follows a convolution folded into it, weights
    channels-last (same embeddings to ~1e-6; about twice as fast on a CPU)."""
    layers, out = list(V.net), []
    for layer in layers:
        if isinstance(layer, nn.BatchNorm2d) and out and isinstance(out[-1], nn.Conv2d):
            out[-1] = fuse_conv_bn_eval(out[-1], layer)
        else:
            out.append(layer)
    W = copy.deepcopy(V)
    W.net = nn.Sequential(*out)
    return W.to(memory_format=torch.channels_last)


class DlibScores:
    """The dlib half of the scores (landmarks fitted on each frame, the judge's same-person decision): what
    worker processes run (:class:`Scorer` with ``workers``)."""

    def __init__(self):
        self.lm, self.judge = FaceLandmarker(), FaceJudge()

    @staticmethod
    def upscale(frame: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The frame x UPSCALE (the dlib models see faces of a usual size) and its points there."""
        big = cv2.resize(frame, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
        return big, (points + 0.5) * UPSCALE - 0.5

    def detect(self, big: np.ndarray, big_target: np.ndarray) -> np.ndarray:
        """68 landmarks fitted in the target's box on an upscaled frame, in the frame's coordinates."""
        box = (*big_target.min(0), *big_target.max(0))
        return (self.lm.fit(big, box) + 0.5) / UPSCALE - 0.5

    def descriptor(self, frame: np.ndarray, lms: np.ndarray) -> np.ndarray:
        return self.judge.descriptor(*self.upscale(frame, lms))

    def __call__(self, frames: np.ndarray, lms: np.ndarray, ref_desc: np.ndarray) -> tuple[np.ndarray, list]:
        """Detected landmarks (T, 68, 2) and same-person decisions of frames with their target landmarks."""
        detected, same = [], []
        for f, t in zip(frames, lms):
            big, big_t = self.upscale(f, t)  # once per frame, for both dlib models
            detected.append(self.detect(big, big_t))
            same.append(bool(self.judge.same_person(self.judge.descriptor(big, big_t), ref_desc)))
        return np.stack(detected), same


_WORKER: DlibScores | None = None


def _start_worker():
    global _WORKER
    torch.set_num_threads(1)
    _WORKER = DlibScores()
    parent = os.getppid()

    def orphaned():  # a parent killed outright (SIGKILL) cannot end its workers: they end themselves
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)
    threading.Thread(target=orphaned, daemon=True).start()


def _in_worker(frames, lms, ref_desc):
    return _WORKER(frames, lms, ref_desc)


class _Done:
    """A result at hand, read like a future's."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


class Scorer(DlibScores):
    """Per-frame scores of a generated (or reference) clip against the real one. With ``workers`` > 0 the
    dlib half (single-threaded, about 0.14 s of CPU a frame, most of the work) runs in that many processes
    while this one runs V and the pixel scores (and the caller generates the next clip): :meth:`start`.
    ``close()`` (or ``with``) ends them."""

    def __init__(self, device: str = "cpu", workers: int = 0):
        super().__init__()
        self.V, self.device, self.workers, self.pool = fused(Verification()).to(device), device, workers, None
        if workers > 0:
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context

            self.pool = ProcessPoolExecutor(workers, get_context("spawn"), initializer=_start_worker)

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def embed(self, frames: np.ndarray, lms: np.ndarray, batch: int = 128) -> np.ndarray:
        """Unit SFace embeddings (T, 128) of RGB frames with their landmarks, ``batch`` frames at a time."""
        out = []
        for i in range(0, len(frames), batch):
            x = to_tensor(frames[i:i + batch]).to(self.device)
            with torch.no_grad():
                faces = align_faces(x, torch.from_numpy(np.asarray(lms[i:i + batch], np.float32)).to(self.device))
                faces = to_pixels(faces.float()).contiguous(memory_format=torch.channels_last)
                out.append(F.normalize(self.V(faces), dim=-1).cpu().numpy())
        return np.concatenate(out)

    def references(self, real: np.ndarray, lms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What identity is judged against: V's embedding and dlib's descriptor of the real first frame."""
        return self.embed(real[:1], lms[:1])[0], self.descriptor(real[0], lms[0])

    def score(self, frames: np.ndarray, real: np.ndarray, lms: np.ndarray, ref_emb, ref_desc,
              with_images: bool = True) -> dict:
        """Every series of a clip; ``with_images=False`` (the real video itself) leaves out the pixel ones."""
        dlib = self(frames, lms, ref_desc)
        return _series(dlib, self.embed(frames, lms) @ ref_emb, lms, image_scores(frames, real, lms)
                       if with_images else {})

    def score_rows(self, rows: dict[str, tuple[np.ndarray, bool]], real: np.ndarray, lms: np.ndarray) -> dict:
        """:meth:`score` of several rows' frames of one clip (``{name: (frames, with_images)}``)."""
        return self.start(rows, real, lms)()

    def start(self, rows: dict[str, tuple[np.ndarray, bool]], real: np.ndarray, lms: np.ndarray):
        """Begin scoring several rows' frames of one clip: the dlib half goes to the workers, V runs over
        all rows and the real first frame in one batch; returns a function that waits for the rest and
        gives ``{name: series}``."""
        names, ref_desc = list(rows), self.descriptor(real[0], lms[0])
        dlib = {n: self._dlib(rows[n][0], lms, ref_desc) for n in names}
        emb = self.embed(np.concatenate([real[:1]] + [rows[n][0] for n in names]),
                         np.concatenate([lms[:1]] + [lms] * len(names)))
        cosine = {n: emb[1 + k * len(lms): 1 + (k + 1) * len(lms)] @ emb[0] for k, n in enumerate(names)}
        pixels = {n: image_scores(rows[n][0], real, lms) if rows[n][1] else {} for n in names}

        def finish() -> dict:
            out = {}
            for n in names:
                parts = [self._result(job) for job in dlib[n]]
                detected = np.concatenate([d for d, _ in parts])
                out[n] = _series((detected, [s for _, ss in parts for s in ss]), cosine[n], lms, pixels[n])
            return out
        return finish

    def _dlib(self, frames, lms, ref_desc) -> list:
        """The dlib half of a row's frames, in chunks of (future, arguments)."""
        step = len(frames) if self.pool is None else -(-len(frames) // self.workers)
        jobs = [(frames[i:i + step], lms[i:i + step], ref_desc) for i in range(0, len(frames), step)]
        try:
            return [(_Done(self(*a)) if self.pool is None else self.pool.submit(_in_worker, *a), a) for a in jobs]
        except BrokenProcessPool:
            return [(self._broken(), a) for a in jobs]

    def _result(self, job):
        future, args = job
        try:
            return future.result() if future is not None else self(*args)
        except BrokenProcessPool:  # e.g. a script without ``if __name__ == "__main__":`` cannot spawn
            self._broken()
            return self(*args)

    def _broken(self):
        if self.pool is not None:
            note("the dlib worker processes failed (a script that calls evaluate needs an "
                 "'if __name__ == \"__main__\":' guard to start them); scoring in this process")
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


def _series(dlib, cosine, lms, pixels: dict) -> dict:
    detected, same = dlib
    return {"landmark_error": normalised_error(detected, lms).tolist(), "id_cosine": cosine.tolist(),
            "same_person": same, "jitter": float(jitter(detected)), "open_mouth": open_mouth(lms, lms[0]).tolist(),
            "closing_eye": closing_eye(lms, lms[0]).tolist(),
            **pixels}
