"""Real pixels where the warp has none: the inside of an opened mouth, and closing eyes, filled from real
frames (donors) instead of the source's pixels stretched (the landmark warp) or a painted mean colour.

A donor *part* is a real frame's mouth (or eye) cut out in its own canonical frame: the similarity that puts
the part's two corner points (mouth corners 48 and 54, an eye's corners) at fixed places of a square crop,
so size, position and roll drop out. A :class:`MouthBank` holds many such crops with their points, a shape
key and colour statistics, and is saved as safetensors. For each generated frame, :class:`RealMouths`:

1. takes a donor: the bank's nearest by shape key, with hysteresis (:meth:`MouthBank.nearest`) and a
   cross-fade when it changes; or the driver's own part in that frame;
2. moves it by a thin-plate spline (:class:`motiongan.motion.TPS`) so that its points land on the target's;
3. matches its colours to the source's by the skin around the part (it shows the light's colour; lips and
   irises differ between people): a gain per channel by default, one gain, or Reinhard's transfer of mean
   and spread in Lab (``benchmarks/real_pixels.py`` measures them);
4. composites it in a feathered mask (the target's inner lips; an ellipse around the eye), weighted by how
   much the warp lacks: the stretch gate for the mouth (a source that already shows its teeth keeps them),
   how far the eye closes past the source's for an eye.

Everything is in the pixels of the output crop, at any resolution: a bank keeps its crops at the donors'
own resolution (up to :data:`MAX_SIDE`), so a 512 px output gets full-resolution mouths.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np
import torch

from .errors import MotionGANError
from .landmarks import (
    INNER_MOUTH,
    LEFT_EYE,
    MOUTH,
    MOUTH_CORNERS,
    OUTER_LIP,
    RIGHT_EYE,
    apply_affine,
    check_points,
    opening,
    smoothstep,
    stretch_weight,
)
from .media import atomic_write_bytes
from .motion import TPS, MotionError, denormalise, normalise

FORMAT = "motiongan-mouths"
VERSION = 1
MAX_SIDE = 256  # a part crop's side at most (pixels)
MIN_SIDE = 32
SPAN = 0.4  # the corners' distance, as a share of the crop's side (they sit at 0.3 and 0.7 of it, mid-height)
# the mouth's gate: a smoothstep of the inner-mouth area ratio, target over source (0 at the source's own shape).
# The person's own mouths fill as soon as the mouth opens wider; other people's (a driver's, a bank's) only
# where the warp stretches the source's mouth far (as the warp G's gate), so a source that shows its teeth
# keeps them (benchmarks/real_pixels.py)
OWN_STRETCH, OTHER_STRETCH = (1.0, 1.6), (1.5, 3.0)
OWN_COLOUR, OTHER_COLOUR = "channels", "reinhard"  # colour transfer (RealMouths), measured as the gates were
OTHER_PARTS = ("mouth",)  # what another person's frames fill (scripts/cross_identity.py: their eyes lend identity)
EYE_CLOSING = (0.9, 0.6)  # an eye's fill fades in as its opening falls from 0.9 to 0.6 of the source's
HOLD = 1.2  # hysteresis: the previous donor stays while its key distance is within HOLD x the best's (+ TOL)
TOL = 0.002
FADE = 2  # frames over which a new donor fades in


class MouthBankError(MotionGANError):
    """A mouth bank or donor source that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Part:
    """A face part that donors fill: the ``corners`` fixing its canonical frame, the ``points`` a donor is
    moved by, the key's ``weights`` (per point), and its ``fill`` ("polygon": the ``fill_points`` polygon;
    "ellipse": around the corners, ``ellipse`` = semi-axes in corner distances)."""

    name: str
    corners: tuple[int, int]
    points: tuple[int, ...]
    weights: tuple[float, ...]
    fill: str
    fill_points: tuple[int, ...] = ()
    ellipse: tuple[float, float] = (0.0, 0.0)
    feather: float = 0.04  # the mask's Gaussian blur, in corner distances

    def index(self, points: tuple[int, ...]) -> list[int]:
        return [self.points.index(p) for p in points]


MOUTH_PART = Part("mouth", MOUTH_CORNERS, MOUTH, tuple(0.5 if p in OUTER_LIP else 1.0 for p in MOUTH), "polygon",
                  INNER_MOUTH, feather=0.02)
RIGHT_EYE_PART = Part("right_eye", (36, 39), RIGHT_EYE, (1.0,) * 6, "ellipse", ellipse=(0.8, 0.6), feather=0.15)
LEFT_EYE_PART = Part("left_eye", (42, 45), LEFT_EYE, (1.0,) * 6, "ellipse", ellipse=(0.8, 0.6), feather=0.15)
PARTS = {p.name: p for p in (MOUTH_PART, RIGHT_EYE_PART, LEFT_EYE_PART)}
EYES = {RIGHT_EYE_PART.name: RIGHT_EYE, LEFT_EYE_PART.name: LEFT_EYE}


def canonical_matrix(part: Part, points: np.ndarray, side: int) -> np.ndarray:
    """2x3 similarity: image pixels -> the part's canonical crop of ``side`` pixels (corners at 0.3 and 0.7
    of the side, mid-height)."""
    a, b = (np.asarray(points[i], np.float64) for i in part.corners)
    d = b - a
    dist = max(float(np.hypot(*d)), 1e-6)
    s = SPAN * side / dist
    c, sn = d[0] / dist * s, d[1] / dist * s
    lin = np.array([[c, sn], [-sn, c]])  # rotates the corner line onto +x and scales
    centre = (a + b) / 2
    offset = np.array([side / 2 - 0.5, side / 2 - 0.5]) - lin @ centre
    return np.hstack([lin, offset[:, None]]).astype(np.float32)


def corner_distance(part: Part, points: np.ndarray) -> np.ndarray:
    """The distance (...,) between a part's corners, in the points' pixels."""
    a, b = part.corners
    return np.linalg.norm(np.asarray(points)[..., a, :] - np.asarray(points)[..., b, :], axis=-1)


def ring_mask(part: Part, pts: np.ndarray, side: int) -> np.ndarray:
    """Where a part's colour is measured, in its canonical crop (points ``pts`` of ``part.points`` there): the
    skin around it, which shows the light's colour (lips and irises differ between people, skin near them
    much less): for the mouth, the outer lip polygon grown to 1.6 times its size minus the lips; for an eye,
    the ellipse around it minus the eye."""
    m = np.zeros((side, side), np.uint8)
    if part is MOUTH_PART:
        lips = pts[part.index(OUTER_LIP)]
        centre = lips.mean(0)
        cv2.fillPoly(m, [_fixed(centre + 1.6 * (lips - centre))], 1, cv2.LINE_8, 4)
        cv2.fillPoly(m, [_fixed(lips)], 0, cv2.LINE_8, 4)
    else:
        centre, axes, angle = _ellipse(part, pts[part.index(part.corners)])
        cv2.ellipse(m, (centre, axes, angle), 1, -1)
        cv2.fillPoly(m, [_fixed(pts)], 0, cv2.LINE_8, 4)
    return m.astype(bool)


def _fixed(poly: np.ndarray) -> np.ndarray:
    """Points in cv2's fixed point (4 fractional bits) for sub-pixel polygons."""
    return np.round(np.asarray(poly, np.float64) * 16).astype(np.int32)


def _ellipse(part: Part, corners: np.ndarray):
    """cv2's rotated rectangle of the ellipse around a part's two corners."""
    a, b = corners
    d = b - a
    dist = float(np.hypot(*d))
    centre = tuple(float(v) for v in (a + b) / 2)
    axes = (2 * part.ellipse[0] * dist, 2 * part.ellipse[1] * dist)
    return centre, axes, float(np.degrees(np.arctan2(d[1], d[0])))


def colour_stats(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(9,): the mean RGB, then the mean and standard deviation in Lab, of ``crop``'s pixels under ``mask``."""
    if mask.sum() < 4:
        mask = np.ones(crop.shape[:2], bool)
    rgb = crop[mask].astype(np.float32)
    lab = cv2.cvtColor(crop.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[mask]
    return np.concatenate([rgb.mean(0), lab.mean(0), lab.std(0)]).astype(np.float32)


def cut(part: Part, image: np.ndarray, points: np.ndarray, side: int):
    """A part of ``image`` (landmarks ``points``, (68, 2)) in its canonical crop: (crop, the part's points
    there, its colour statistics). Area-averaged when the crop shrinks the image."""
    m = canonical_matrix(part, points, side)
    scale = float(np.hypot(*m[0, :2]))
    flags = cv2.INTER_AREA if scale < 0.7 else cv2.INTER_LINEAR
    if flags == cv2.INTER_AREA:  # warpAffine has no area filter: shrink the image first
        pre = min(1.0, 2 * scale)
        small = cv2.resize(image, None, fx=pre, fy=pre, interpolation=cv2.INTER_AREA)
        to_small = np.array([[pre, 0, 0.5 * pre - 0.5], [0, pre, 0.5 * pre - 0.5]], np.float32)
        ms = np.hstack([m[:, :2] / pre, (m[:, 2] - (m[:, :2] / pre) @ to_small[:, 2])[:, None]]).astype(np.float32)
        crop = cv2.warpAffine(small, ms, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    else:
        crop = cv2.warpAffine(image, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    pts = apply_affine(np.asarray(points, np.float32)[list(part.points)], m)
    return crop, pts.astype(np.float32), colour_stats(crop, ring_mask(part, pts, side))


def key(part: Part, pts: np.ndarray, side: int) -> np.ndarray:
    """A part's shape key from its canonical points (..., K, 2): centred, in corner distances, weighted."""
    w = np.asarray(part.weights, np.float32)[:, None]
    return (((np.asarray(pts, np.float32) - side / 2) / (SPAN * side)) * w).reshape(*np.shape(pts)[:-2], -1)


def side_for(part: Part, points: np.ndarray) -> int:
    """A crop side that keeps a part at its own resolution (the median corner distance of ``points``,
    (N, 68, 2)), a multiple of 8 from :data:`MIN_SIDE` to :data:`MAX_SIDE`."""
    dist = float(np.median(corner_distance(part, points)))
    return int(np.clip(round(dist / SPAN / 8) * 8, MIN_SIDE, MAX_SIDE))


@dataclass
class PartBank:
    """One part's donors: crops (N, S, S, 3) uint8, their points (N, K, 2), keys (N, D), colour statistics
    (N, 9), eye or mouth openings (N,) and the frame each came from (N,)."""

    part: Part
    crops: np.ndarray
    points: np.ndarray
    keys: np.ndarray
    colours: np.ndarray
    openings: np.ndarray
    frames: np.ndarray

    @property
    def side(self) -> int:
        return int(self.crops.shape[1])

    def __len__(self) -> int:
        return len(self.crops)

    def nearest(self, k: np.ndarray, previous: int | None = None) -> int:
        """The donor whose key is nearest to ``k``; ``previous`` is kept while its distance stays within
        :data:`HOLD` x the nearest's (+ :data:`TOL`), so a slowly changing shape does not jump between
        donors of nearly the same shape."""
        d = ((self.keys - k) ** 2).sum(1)
        best = int(d.argmin())
        if previous is not None and 0 <= previous < len(d) and d[previous] <= HOLD * d[best] + TOL:
            return previous
        return best


class MouthBank:
    """Donor mouths and eyes: ``MouthBank.build(frames_and_landmarks)``, ``bank.save(path)``,
    ``MouthBank.load(path)``; ``bank.parts[name]`` is a :class:`PartBank`."""

    def __init__(self, parts: dict[str, PartBank], source: str = "", own: bool = False):
        self.parts, self.source = parts, source
        self.own = own  # the donors are the source person's own frames (set by whoever knows)

    def __len__(self) -> int:
        return max((len(p) for p in self.parts.values()), default=0)

    @classmethod
    def build(cls, frames: Iterable[tuple[np.ndarray, np.ndarray]], parts: Iterable[str] = tuple(PARTS),
              source: str = "", max_donors: int = 2000, side: dict[str, int] | None = None,
              indices: Iterable[int] | None = None) -> "MouthBank":
        """A bank from ``(rgb, landmarks)`` pairs (a frame and its (68, 2) points, or None to skip it).
        Each part's crop side is the donors' own resolution (:func:`side_for`) unless ``side`` gives it
        (given for every part, the frames stream: each is cut as it comes and let go); at most
        ``max_donors`` per part are kept, the most different keys first (farthest-point order).
        ``indices``: the frame number of each pair (default 0, 1, ...)."""
        parts = list(parts)
        side = dict(side or {})
        if any(p not in side for p in parts):  # the crop sides come from every donor's points first
            frames = list(frames)
            found = [p for _, p in frames if p is not None]
            if found:
                side = {**{p: side_for(PARTS[p], np.stack(found)) for p in parts}, **side}
        cuts, idx, points = {p: [] for p in parts}, [], []
        for i, (rgb, pts) in zip(indices if indices is not None else _count(), frames):  # frames are let go
            if pts is None:
                continue
            pts = check_points(pts, "donor landmarks")
            for p in parts:
                cuts[p].append(cut(PARTS[p], rgb, pts, side[p]))
            idx.append(i)
            points.append(pts)
        if not idx:
            raise MouthBankError("no frame with a face to take donors from", path=source or None)
        all_pts, out = np.stack(points), {}
        for name in parts:
            part, done = PARTS[name], cuts[name]
            pts = np.stack([c[1] for c in done])
            keys = key(part, pts, side[name])
            pick = _farthest(keys, max_donors)
            openings = opening(all_pts[pick], EYES.get(name, INNER_MOUTH)).astype(np.float32)
            out[name] = PartBank(part, np.stack([done[i][0] for i in pick]), pts[pick], keys[pick],
                                 np.stack([done[i][2] for i in pick]), openings, np.asarray(idx, np.int64)[pick])
        return cls(out, source)

    def save(self, path: str | os.PathLike) -> None:
        """Write the bank as safetensors (atomically)."""
        from safetensors.numpy import save

        tensors = {}
        for name, p in self.parts.items():
            for field in ("crops", "points", "keys", "colours", "openings", "frames"):
                tensors[f"{name}.{field}"] = np.ascontiguousarray(getattr(p, field))
        meta = {"format": FORMAT, "version": str(VERSION), "parts": json.dumps(list(self.parts)),
                "source": self.source}
        atomic_write_bytes(path, save(tensors, metadata=meta))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MouthBank":
        """Read a bank written by :meth:`save` (safetensors: loading never runs code)."""
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        if not path.is_file():
            raise MouthBankError("no such mouth bank file", path=path)
        try:
            with safe_open(str(path), "numpy") as f:
                meta = f.metadata() or {}
                if meta.get("format") != FORMAT:
                    raise MouthBankError("not a mouth bank (build one with 'motiongan mouths build')", path=path)
                if meta.get("version") != str(VERSION):
                    raise MouthBankError(f"mouth bank version {meta.get('version')}, this MotionGAN reads "
                                         f"version {VERSION}: build it again", path=path)
                parts = {}
                for name in json.loads(meta["parts"]):
                    if name not in PARTS:
                        raise MouthBankError(f"unknown part {name!r}", path=path)
                    fields = {k: f.get_tensor(f"{name}.{k}") for k in
                              ("crops", "points", "keys", "colours", "openings", "frames")}
                    parts[name] = PartBank(PARTS[name], **fields)
        except (SafetensorError, OSError, ValueError, KeyError) as e:
            if isinstance(e, MouthBankError):
                raise
            raise MouthBankError(f"not a readable mouth bank ({e})", path=path) from None
        return cls(parts, meta.get("source", ""))


def _count():
    i = 0
    while True:
        yield i
        i += 1


def _farthest(keys: np.ndarray, n: int) -> np.ndarray:
    """Indices of at most ``n`` keys in farthest-point order (from the first), sorted."""
    if len(keys) <= n:
        return np.arange(len(keys))
    chosen, d = [0], ((keys - keys[0]) ** 2).sum(1)
    for _ in range(n - 1):
        i = int(d.argmax())
        chosen.append(i)
        d = np.minimum(d, ((keys - keys[i]) ** 2).sum(1))
    return np.sort(np.asarray(chosen))


@dataclass
class _Choice:
    """A part's donor over frames: the current one, and the one fading out with frames left to fade."""

    current: int | None = None
    previous: int | None = None
    fading: int = 0


class RealMouths:
    """Fill each generated frame's opened mouth and closing eyes with real pixels.

    ``source``: the source face crop at the output size (RGB uint8) and ``source_points`` its landmarks
    there; ``bank``: the donors (None: only a driver's parts, given per frame); ``own``: whether the donors
    are the source person's, which sets the defaults of the rest: the mouth's gate (``OWN_STRETCH`` or
    ``OTHER_STRETCH``), ``parts`` (which to fill: every part from the person's own frames, the mouth alone
    from another person's, whose eyes would lend their identity) and ``colour`` (``OWN_COLOUR`` or
    ``OTHER_COLOUR``): "channels" (a gain per channel, the source's skin around the part over the donor's:
    the colour of the light), "gain" (one gain, the brightness alone) or "reinhard" (mean and spread in Lab:
    across skin tones a per-channel gain turns teeth green). Call it with a frame, its target landmarks
    (both in the output crop) and, for driver donors, the driver's frame and landmarks.
    """

    def __init__(self, source: np.ndarray, source_points: np.ndarray, bank: MouthBank | None = None,
                 parts: Iterable[str] | None = None, colour: str | None = None, own: bool = True):
        parts = (tuple(PARTS) if own else OTHER_PARTS) if parts is None else parts
        colour = (OWN_COLOUR if own else OTHER_COLOUR) if colour is None else colour
        if colour not in ("gain", "channels", "reinhard"):
            raise MouthBankError(f"colour transfer {colour!r}: use gain, channels or reinhard")
        self.bank, self.colour = bank, colour
        self.stretch = OWN_STRETCH if own else OTHER_STRETCH
        self.parts = [p for p in parts if bank is None or p in bank.parts]
        self.source_points = check_points(source_points, "source landmarks")
        self.stats = {}
        for name in self.parts:
            side = bank.parts[name].side if bank is not None else MAX_SIDE // 2
            self.stats[name] = cut(PARTS[name], source, self.source_points, side)[2]
        self.choice = {name: _Choice() for name in self.parts}

    def weight(self, name: str, target: np.ndarray, source: np.ndarray | None = None) -> float:
        """How much of the part's donor goes into a frame with ``target`` landmarks (0: the warp has it);
        ``source``: the landmarks of what was warped, when not the source's (a dubbed video's own frame)."""
        source = self.source_points if source is None else source
        if name == MOUTH_PART.name:
            return float(stretch_weight(source, target, *self.stretch))
        region = EYES[name]
        ratio = opening(target, region) / max(float(opening(source, region)), 1e-3)
        return float(smoothstep(ratio, *EYE_CLOSING))

    def __call__(self, frame: np.ndarray, target: np.ndarray, driver: tuple[np.ndarray, np.ndarray] | None = None,
                 source: np.ndarray | None = None) -> np.ndarray:
        """``frame`` (H, W, 3) uint8 with its opened mouth and closing eyes filled (a new array; ``frame``
        itself when there is nothing to fill); ``source``: see :meth:`weight`."""
        target = np.asarray(target, np.float32)
        out = frame
        for name in self.parts:
            w = self.weight(name, target, source)
            donors = self._donors(name, target, driver) if w > 0 else []
            if not donors:
                continue
            if out is frame:
                out = frame.copy()
            _composite(out, PARTS[name], target, donors, w, self.stats[name], self.colour)
        return out

    def _donors(self, name: str, target: np.ndarray, driver) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
        """(crop, points, colour statistics, share) of each donor that goes into this frame's part."""
        part = PARTS[name]
        if self.bank is None:
            if driver is None or driver[1] is None:
                return []
            crop, pts, stats = cut(part, driver[0], driver[1], side_for(part, np.asarray(driver[1])[None]))
            return [(crop, pts, stats, 1.0)]
        bank, ch = self.bank.parts[name], self.choice[name]
        side = bank.side
        pts = apply_affine(target[list(part.points)], canonical_matrix(part, target, side))
        best = bank.nearest(key(part, pts, side), ch.current)
        if best != ch.current:
            ch.previous, ch.fading, ch.current = ch.current, FADE if ch.current is not None else 0, best
        elif ch.fading:
            ch.fading -= 1
        share = 1 - ch.fading / (FADE + 1)
        out = [(bank.crops[best], bank.points[best], bank.colours[best], share)]
        if ch.fading and ch.previous is not None:
            p = ch.previous
            out.append((bank.crops[p], bank.points[p], bank.colours[p], 1 - share))
        return out


def _composite(out: np.ndarray, part: Part, target: np.ndarray, donors, weight: float, stats: np.ndarray,
               colour: str) -> None:
    """Blend the donors of one part into ``out`` in place (the moves, colours and mask of the module doc)."""
    h, w = out.shape[:2]
    dist = float(corner_distance(part, target))
    if dist < 2:
        return
    feather = max(0.7, part.feather * dist)
    if part.fill == "polygon":
        poly = target[list(part.fill_points)]
        lo, hi = poly.min(0) - 3 * feather - 2, poly.max(0) + 3 * feather + 2
    else:
        centre, axes, _ = _ellipse(part, target[list(part.corners)])
        r = max(axes) / 2 + 3 * feather + 2
        lo, hi = np.array(centre) - r, np.array(centre) + r
    x0, y0 = (max(0, int(np.floor(v))) for v in lo)
    x1, y1 = min(w, int(np.ceil(hi[0])) + 1), min(h, int(np.ceil(hi[1])) + 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    shift = np.array([x0, y0], np.float32)
    if part.fill == "polygon":
        cv2.fillPoly(mask, [_fixed(poly - shift)], 1.0, cv2.LINE_AA, 4)
    else:
        c, axes, angle = _ellipse(part, target[list(part.corners)] - shift)
        cv2.ellipse(mask, (c, axes, angle), 1.0, -1, cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (0, 0), feather)
    if mask.max() <= 0:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    window = np.stack([xs.ravel(), ys.ravel()], 1)
    layer = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
    for crop, pts, dstats, share in donors:
        side = crop.shape[0]
        m = canonical_matrix(part, target, side)
        tgt = apply_affine(target[list(part.points)], m)
        try:
            tps = TPS(normalise(torch.from_numpy(tgt)[None].double(), side),
                      normalise(torch.from_numpy(np.asarray(pts))[None].double(), side), border=3)
        except MotionError:
            return
        q = normalise(torch.from_numpy(apply_affine(window, m))[None].double(), side)
        src = denormalise(tps(q), side)[0].float().numpy().reshape(y1 - y0, x1 - x0, 2)
        moved = cv2.remap(crop, src[..., 0], src[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        layer += share * _match(moved.astype(np.float32), dstats, stats, colour)
    alpha = (weight * mask)[..., None]
    region = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(region + alpha * (layer - region), 0, 255).round().astype(np.uint8)


def _match(pixels: np.ndarray, donor: np.ndarray, source: np.ndarray, colour: str) -> np.ndarray:
    """Donor pixels (float RGB 0-255) with their colours matched to the source's (statistics of
    :func:`colour_stats`)."""
    if colour == "gain":  # one gain for all channels: the donor's own hues (white teeth) stay
        gain = np.clip(source[:3].mean() / max(float(donor[:3].mean()), 1.0), 0.5, 2.0)
        return np.clip(pixels * gain, 0, 255)
    if colour == "channels":
        gain = np.clip(source[:3] / np.maximum(donor[:3], 1.0), 0.5, 2.0)
        return np.clip(pixels * gain, 0, 255)
    lab = cv2.cvtColor(np.clip(pixels / 255, 0, 1).astype(np.float32), cv2.COLOR_RGB2LAB)
    lab = (lab - donor[3:6]) * np.clip(source[6:9] / np.maximum(donor[6:9], 1e-3), 0.5, 2.0) + source[3:6]
    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB) * 255, 0, 255)
