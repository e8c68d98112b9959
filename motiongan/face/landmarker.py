"""Face detection (dlib HOG) and 68-point landmarks (dlib's iBUG 300-W shape predictor).

The shape predictor was trained on iBUG 300-W, whose licence excludes commercial use.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ..crop import crop_box
from ..errors import MotionGANError, note
from ..landmarks import interocular

# a second face counts only with at least this share of the best face's detector score: the astronaut's mission
# patch scores 0.04-0.11 against her face's 1.6, while two real faces score alike (0.32 and 0.21 when small)
SECOND_FACE_SHARE = 0.3


class NoFaceError(MotionGANError):
    """No face was found; the message names the file."""


def _model_path(name: str) -> str:
    import face_recognition_models

    return str(Path(face_recognition_models.__file__).parent / "models" / name)


class FaceLandmarker:
    """Detect faces and fit 68 landmarks, on images or frame by frame over a video.

    ``upsample``: how many times dlib's detector upsamples the image (finds smaller faces, slower).
    """

    def __init__(self, upsample: int = 0, max_detect_side: int = 640):
        import dlib

        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(_model_path("shape_predictor_68_face_landmarks.dat"))
        self.upsample = upsample
        self.max_detect_side = max_detect_side

    # --------------------------------------------------------------------------------------- images
    def detect(self, rgb: np.ndarray, near=None) -> list[tuple[float, float, float, float]]:
        """Face boxes (left, top, right, bottom) in pixels, largest first. ``near``: a face box from a
        previous frame; only its surroundings (half its side around it) are searched, scaled so the face is
        about 120 px wide (dlib's detector finds faces from about 80 px): a check of a tracked face at a
        fraction of a full search's cost."""
        import cv2

        x0 = y0 = 0
        img, scale = rgb, min(1.0, self.max_detect_side / max(rgb.shape[:2]))
        if near is not None:
            side = near[2] - near[0]
            x0, y0 = (max(0, int(v - side / 2)) for v in near[:2])
            x1, y1 = (int(v + side / 2) + 1 for v in near[2:])
            img, scale = rgb[y0:y1, x0:x1], min(1.0, 120.0 / max(side, 1.0))
        if scale < 1.0:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return self._boxes(img, scale, x0, y0, self.upsample)

    def _boxes(self, img: np.ndarray, scale: float, x0: float, y0: float, upsample: int) -> list:
        """The detector's boxes on ``img`` (``rgb`` scaled by ``scale`` from (x0, y0)) in ``rgb``'s pixels,
        largest first; a face is kept only when the detector is nearly as sure of it as of the best one
        (``SECOND_FACE_SHARE``)."""
        rects, scores, _ = self.detector.run(np.ascontiguousarray(img), upsample, 0.0)
        found = sorted(zip(rects, scores), key=lambda rs: -rs[0].area())
        best = max(scores, default=0.0)
        boxes = [(x0 + r.left() / scale, y0 + r.top() / scale, x0 + r.right() / scale, y0 + r.bottom() / scale)
                 for r, sc in found if sc >= SECOND_FACE_SHARE * best]
        return boxes

    def fit(self, rgb: np.ndarray, box) -> np.ndarray:
        """68 landmarks (68, 2) float32 in the face ``box`` (left, top, right, bottom)."""
        rect = self._dlib.rectangle(*(int(round(v)) for v in box))
        shape = self.predictor(np.ascontiguousarray(rgb), rect)
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)

    def __call__(self, rgb: np.ndarray, name: str = "image") -> np.ndarray:
        """Landmarks of the largest face in an image; warns when there are several. A small image is searched
        again upsampled (the detector finds faces from about 80 px wide; upsampled twice, from about 20)."""
        boxes = self.detect(rgb)
        for upsample in (1, 2):
            if boxes or max(rgb.shape[:2]) * 2 ** upsample > 4 * self.max_detect_side:
                break
            boxes = self._boxes(rgb, 1.0, 0, 0, self.upsample + upsample)
        if not boxes:
            h, w = rgb.shape[:2]
            small = max(h, w) <= self.max_detect_side
            raise NoFaceError("no face was found", path=name,
                              hint=f"the image is {w} x {h} px; a face must be at least about 20 px wide, "
                                   "frontal and unoccluded" if small else None)
        if len(boxes) > 1:
            note(f"{name}: {len(boxes)} faces found, using the largest")
        return self.fit(rgb, boxes[0])

    # --------------------------------------------------------------------------------------- videos
    def follow(self, frames, redetect_every: int = 10) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Frame by frame, as the frames come (a live stream too): ``(frame, landmarks)`` with a (68, 2)
        array, or None where the face is lost.

        Each frame is fitted in the box of the previous frame's landmarks (about 2 ms, where the detector
        takes tens). The detector runs on the first frame, while the face is lost, when the box's content
        stops looking like the previous frame's (a cut, the face gone), when the fitted shape jumps or
        collapses, and every ``redetect_every`` frames (0: never); where it finds no face the frame is lost,
        so a track cannot drift off the face for long.
        """
        prev = patch = None
        for i, rgb in enumerate(frames):
            pts = None
            check = redetect_every and i % redetect_every == 0
            if prev is not None and not check:
                box = _box_from_points(prev)
                if _similarity(_patch(rgb, box), patch) >= SAME_FACE:
                    pts = self.fit(rgb, box)
                    if not _plausible(pts, prev):
                        pts = None
            if pts is None and check and prev is not None:  # the periodic check: near the tracked face
                boxes = self.detect(rgb, near=_box_from_points(prev))
                if boxes:
                    pts = self.fit(rgb, boxes[0])
            if pts is None:
                boxes = self.detect(rgb)
                if boxes:
                    near = min(boxes, key=lambda b: _box_distance(b, prev)) if prev is not None else boxes[0]
                    pts = self.fit(rgb, near)
            yield rgb, pts
            prev = pts
            patch = None if pts is None else _patch(rgb, _box_from_points(pts))

    def track(self, frames, name: str = "video", redetect_every: int = 10) -> list[np.ndarray | None]:
        """Landmarks of one face over a whole video (:meth:`follow`): a list with a (68, 2) array per frame,
        or None where lost. Raises NoFaceError if no frame has a face."""
        out = [pts for _, pts in self.follow(frames, redetect_every)]
        if all(p is None for p in out):
            raise NoFaceError(f"no face was found in any of its {len(out)} frames", path=name)
        return out


SAME_FACE = 0.5  # the least correlation of a tracked box's content with the previous frame's


def _patch(rgb: np.ndarray, box, n: int = 24) -> np.ndarray:
    """The box's content, grey, ``n`` x ``n``, zero mean and unit norm (zero where it is flat)."""
    import cv2

    left, top, right, bottom = box
    sx, sy = n / (right - left), n / (bottom - top)
    m = np.array([[sx, 0, -left * sx], [0, sy, -top * sy]])
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    p = cv2.warpAffine(grey, m, (n, n), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    p -= p.mean()
    norm = float(np.linalg.norm(p))
    return p / norm if norm > 1e-3 * n else np.zeros_like(p)


def _similarity(a: np.ndarray, b: np.ndarray | None) -> float:
    """Normalised cross-correlation of two :func:`_patch` es (0 if either is flat or missing)."""
    return 0.0 if b is None else float((a * b).sum())


def _box_from_points(points: np.ndarray):
    """A detector-like box from landmarks (dlib's boxes cover brows to chin, roughly)."""
    cx, cy, side = crop_box(points, scale=1.0)
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def _box_distance(box, prev: np.ndarray | None) -> float:
    if prev is None:
        return 0.0
    return float(np.hypot((box[0] + box[2]) / 2 - prev[:, 0].mean(), (box[1] + box[3]) / 2 - prev[:, 1].mean()))


def _plausible(pts: np.ndarray, prev: np.ndarray) -> bool:
    iod_prev = float(interocular(prev))
    iod = float(interocular(pts))
    if iod < 0.5 * iod_prev or iod > 2.0 * iod_prev:
        return False
    return float(np.abs(pts.mean(0) - prev.mean(0)).max()) < iod_prev


def fill_gaps(track: list) -> np.ndarray:
    """(T, 68, 2) array from a track with None gaps, each gap filled with the nearest found frame."""
    idx = [i for i, p in enumerate(track) if p is not None]
    if not idx:
        raise NoFaceError("the track has no landmarks at all")
    found = np.array(idx)
    nearest = found[np.abs(np.arange(len(track))[:, None] - found[None]).argmin(1)]
    return np.stack([track[j] for j in nearest]).astype(np.float32)


def jitter(track: np.ndarray) -> float:
    """Mean frame-to-frame acceleration of the points over the inter-ocular distance (lower is steadier)."""
    track = np.asarray(track, np.float64)
    if len(track) < 3:
        return 0.0
    acc = np.linalg.norm(track[2:] - 2 * track[1:-1] + track[:-2], axis=-1).mean(-1)
    return float((acc / interocular(track[1:-1])).mean())
