"""The output options every face-rendering path shares (``animate``, ``edit``, ``speak`` from a photo and the
web page): ``--size`` and ``--paste``, declared once and checked by one function, :func:`check_size`.

A size's form (None, ``native``, or a number of pixels in :data:`SIZES`) is checked when the options are
made, as every declared range is; against the model that renders it (a warp generator renders at any size,
a fixed-size network such as the paper's G only at its own) before any source is read or detected.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..crop import crop_box
from ..errors import ConfigError
from ..options import Checked, option

SIZES = (32, 4096)  # the output face sizes --size takes, in pixels
NATIVE = "native"  # --size native: the face's own resolution in the photo


def check_size(size, model=None) -> int | str | None:
    """``--size`` checked, the one check of every path: None (the model's default output), ``native`` or a
    number of pixels in :data:`SIZES`; with ``model`` (a :class:`~motiongan.inference.MotionGAN`), one it
    renders at: any for a warp generator, its own size only for a fixed-size network (the paper's G).
    Returns the size normalised (an int, ``native`` or None); else a ConfigError naming ``--size``."""
    if size is not None and str(size).strip().lower() != NATIVE:
        if not str(size).strip().isdigit() or not SIZES[0] <= int(str(size)) <= SIZES[1]:
            raise ConfigError(f"expected a number of pixels from {SIZES[0]} to {SIZES[1]} or native, got {size!r}",
                              path="--size")
        size = int(str(size))
    elif size is not None:
        size = NATIVE
    if model is None or size is None or getattr(model.G, "warps", False) or size == model.size:
        return size
    raise ConfigError(f"expected {model.size} (or no size), got {size!r}: {model.name} is a fixed-size network "
                      f"that paints every pixel at its own {model.size} px; only a warp generator renders at any "
                      "size", path="--size")


@dataclass
class OutputOptions(Checked):
    """The face a command writes: its size and whether it is pasted back into the photo (shared by animate,
    edit, speak and the web page; the CLI's flags are made from these fields)."""

    paste: bool = option(False, "paste the generated face back into the source photo (the output is the "
                                "photo, at its full size)")
    size: int | str | None = option(None, "output face size in pixels (e.g. 256, 512) or native (the face's own "
                                          "resolution in the photo): the motion warps the source at that size, "
                                          "a network's paint is upsampled (default: 256 for a warp generator, "
                                          "whose motion renders at any size; the model's own size for the "
                                          "paper's G, which takes no other)", metavar="N|native",
                                    parse=check_size, range=SIZES, words=(NATIVE,))

    def __post_init__(self):
        self.size = check_size(self.size)
        super().__post_init__()


def output_size(size: str | int | None, points: np.ndarray, model_size: int, default: int | None = None) -> int:
    """The output crop size of ``--size``: a number of pixels, ``native`` (the crop box's side in the
    photo of a face with landmarks ``points``, even, at least the model's) or None (``default``, else the
    model's: :attr:`MotionGAN.default_output`)."""
    size = check_size(size)
    if size is None:
        return default or model_size
    if size == NATIVE:
        return max(model_size, 2 * round(float(crop_box(points)[2]) / 2))
    return size
