"""Expression editing (paper section 4.4, RaFD): one target landmark set changes a face's expression.

Expressions are moved between faces in a canonical frame (:func:`motiongan.landmarks.to_canonical`):
each shape is mapped by the similarity that best fits its stable points (eye corners and nose bridge,
which expressions move least) onto a reference, so head size, position and roll drop out. An expression
is the mean canonical displacement from a person's neutral shape to their shape with that expression;
``motiongan expressions`` computes these from a labelled image set and saves them as a small JSON file
(the project ships one computed from the Yale faces).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..assets import asset
from ..errors import MotionGANError
from ..landmarks import EXPRESSION_STABLE, apply_affine, canonical_matrices, check_points, invert_affine, to_canonical
from ..media import atomic_write_bytes
from ..options import option
from .donors import MouthOptions, check_mouths, filler, load_bank, resolve
from .output import OutputOptions

DEFAULT_FILE = asset("expressions.json")
# where the stable points (motiongan.landmarks.EXPRESSION_STABLE: nose bridge, eye corners) sit in the
# canonical frame of expressions: outer eye corners at (-0.5, 0) and (0.5, 0)
REFERENCE = np.array([[0, 0.05], [0, 0.2], [0, 0.35], [0, 0.5], [-0.5, 0], [-0.2, 0], [0.2, 0], [0.5, 0]],
                     np.float32)


FRAME = (REFERENCE, EXPRESSION_STABLE)  # to_canonical(shape, *FRAME): a shape in the frame of expressions


def compute_expressions(shapes: dict[str, dict[str, np.ndarray]], neutral: str = "normal") -> dict:
    """Mean canonical offsets per expression from {person: {label: (68, 2) shape}}."""
    offsets: dict[str, list[np.ndarray]] = {}
    neutrals = []
    for _person, by_label in shapes.items():
        if neutral not in by_label:
            continue
        base = to_canonical(by_label[neutral], *FRAME)
        neutrals.append(base)
        for label, shape in by_label.items():
            if label != neutral:
                offsets.setdefault(label, []).append(to_canonical(shape, *FRAME) - base)
    if not neutrals:
        raise MotionGANError(f"no person has a {neutral!r} image to measure expressions from")
    return {"neutral_label": neutral, "neutral": np.mean(neutrals, 0).round(5).tolist(),
            "expressions": {k: {"offsets": np.mean(v, 0).round(5).tolist(), "people": len(v)}
                            for k, v in sorted(offsets.items())}}


def save_expressions(path: str | os.PathLike, data: dict) -> None:
    atomic_write_bytes(path, json.dumps(data).encode())


def load_expressions(path: str | os.PathLike | None = None) -> dict:
    path = Path(path or DEFAULT_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no expressions file; make one with 'motiongan expressions'")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise MotionGANError(f"{path}: not an expressions file ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("expressions"), dict):
        raise MotionGANError(f"{path}: not an expressions file (no 'expressions' table)")
    return data


def apply_offsets(source: np.ndarray, offsets: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """The source shape with canonical ``offsets`` added in its own frame (scale and roll restored)."""
    source = check_points(source, "source landmarks")
    m = canonical_matrices(source, *FRAME)
    moved = apply_affine(source, m) + strength * np.asarray(offsets, np.float32)
    return apply_affine(moved, invert_affine(m)).astype(np.float32)


def named_expression(source: np.ndarray, name: str, data: dict, strength: float = 1.0) -> np.ndarray:
    if name not in data["expressions"]:
        raise MotionGANError(f"unknown expression {name!r}: available {', '.join(data['expressions'])}")
    return apply_offsets(source, data["expressions"][name]["offsets"], strength)


def transfer_expression(source: np.ndarray, target: np.ndarray, neutral: np.ndarray | None = None,
                        data: dict | None = None, strength: float = 1.0) -> np.ndarray:
    """The target face's expression on the source: the target's canonical displacement from its own
    neutral shape if given, else from the mean neutral shape of the expressions file."""
    target = check_points(target, "target landmarks")
    if neutral is not None:
        base = to_canonical(neutral, *FRAME)
    else:
        base = np.asarray((data or load_expressions())["neutral"])
    return apply_offsets(source, to_canonical(target, *FRAME) - base, strength)


def measure_expressions(src: str | os.PathLike, neutral: str = "normal", landmarker=None) -> tuple[dict, int]:
    """Expressions measured from a folder of ``PERSON_LABEL`` face images, and the number of images in
    which no face was found."""
    from ..data.split import image_person_and_label
    from ..face import FaceLandmarker, NoFaceError
    from ..media import IMAGE_SUFFIXES, read_image

    lm, shapes, skipped = landmarker or FaceLandmarker(upsample=1), {}, 0
    for f in sorted(Path(src).rglob("*")):
        if f.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        person, label = image_person_and_label(f.stem)
        try:
            shapes.setdefault(f"{f.parent}/{person}", {})[label] = lm(read_image(f), str(f))
        except NoFaceError:
            skipped += 1
    return compute_expressions(shapes, neutral), skipped


def landmarks_of(path: str | os.PathLike, landmarker) -> np.ndarray:
    """(68, 2) landmarks from a ``.pts`` file, or detected in an image."""
    from ..landmarks import read_pts
    from ..media import read_image

    path = Path(path)
    return read_pts(path) if path.suffix.lower() == ".pts" else landmarker(read_image(path), str(path))


@dataclass
class EditOptions(OutputOptions, MouthOptions):
    """What ``edit`` puts on the source face: a named expression, or another face's (the CLI's flags are made
    from these fields; ``--size`` and ``--paste``: :class:`~.output.OutputOptions`, as animate's)."""

    expression: str | None = option(None, "a named expression of the expressions file")
    target: str | None = option(None, "image or .pts whose expression to transfer")
    target_neutral: str | None = option(None, "the target person's neutral image or .pts")
    expressions: str | None = option(None, "expressions file (default: the shipped one)")
    strength: float = option(1.0, "how far to move towards the expression (0: unchanged)", range=(0.0, 2.0))

    def __post_init__(self):
        super().__post_init__()
        if (self.target is None) == (self.expression is None):
            raise MotionGANError("give exactly one of a target (image or .pts) and a named expression")


def target_shape(source_landmarks: np.ndarray, options: EditOptions, landmarker,
                 data: dict | None = None) -> np.ndarray:
    """The source's landmarks with the edit of ``options`` applied (named expression or target's expression)."""
    data = data or load_expressions(options.expressions)
    if options.expression:
        return named_expression(source_landmarks, options.expression, data, options.strength)
    neutral = landmarks_of(options.target_neutral, landmarker) if options.target_neutral else None
    return transfer_expression(source_landmarks, landmarks_of(options.target, landmarker), neutral, data,
                               options.strength)


def edit_image(animator, source, output, options: EditOptions, data: dict | None = None) -> np.ndarray:
    """Write ``source`` (an image, or a loaded :class:`~motiongan.inference.animate.Source`) edited as
    ``options`` say to the image ``output`` (:meth:`Animator.render`); returns the target landmarks (crop).
    ``data``: the expressions, if already loaded (default: read ``options.expressions``). The face is written
    at ``options.size`` (checked against the model before the source is read), pasted back if ``options.paste``."""
    from .animate import RenderOptions

    check_mouths(options.mouths, None)
    data = data or load_expressions(options.expressions)
    src = animator.source(source, size=options.size)
    shape = target_shape(src.landmarks, options, animator.landmarker, data)
    fill = filler(resolve(options.mouths, False), src, load_bank(options.mouths, animator.landmarker))
    animator.render(src, shape[None], output, RenderOptions(paste=options.paste, fill=fill))
    return shape
