"""Options shared by the command line and the Python API (LivePortrait's idea, without its extra package).

Each command's settings are one dataclass that lives beside the function it configures (for example
:class:`motiongan.inference.animate.AnimateOptions`). Its fields carry their help text; the command's
flags are made from the fields, so a default or a help text is written once and the CLI and the API
cannot drift apart::

    @dataclass
    class AnimateOptions:
        paste: bool = option(False, "paste the generated crop back into the source image")

    add_options(parser, AnimateOptions)        # --paste
    opts = options_from(parser.parse_args(), AnimateOptions)

A ``bool`` field that defaults to True becomes a ``--no-NAME`` flag, whose help is the field's ``negative``
text; ``X | None`` fields take an X, or, when the field has ``parse=``, the word it parses (``9m`` -> 540.0):
it is parsed by :func:`options_from`, inside the command, so that a bad word is a
:class:`~motiongan.errors.MotionGANError` like any other bad input.

Settings several commands share are one dataclass too, beside the code that reads them, and a command
adds each class it takes: :class:`motiongan.assets.ModelOptions` (``--checkpoint``, ``--device``),
:class:`motiongan.data.split.SplitOptions` (who the test people are); an options class that includes a
shared one inherits from it (``EvaluateOptions(SplitOptions)``), so its flags stay flat.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing

from .errors import ConfigError


def option(default, help: str, negative: str | None = None, parse=None, range: tuple | None = None,
           words: tuple[str, ...] = (), **argparse_kwargs):
    """A dataclass field with the help text (and any ``choices=``, ``metavar=``) of its flag; ``negative``:
    the help of the ``--no-NAME`` flag of a bool that defaults to True; ``parse``: the function that turns
    the flag's word into the field's value; ``range``: (low, high), the values a number may take (either
    end None: open), checked by :func:`check_ranges` wherever the options are made; ``words``: the words the
    field takes besides a number of its range (``--size native``)."""
    if negative is not None:
        argparse_kwargs["negative"] = negative
    if parse is not None:
        argparse_kwargs["parse"] = parse
    if range is not None:
        argparse_kwargs["range"] = tuple(range)
    if words:
        argparse_kwargs["words"] = tuple(words)
    return dataclasses.field(default=default, metadata={"help": help, **argparse_kwargs})


FPS = (1, 60)  # frames per second a command writes (animate, speak), on the command line and the web page alike


def flag(name: str) -> str:
    """A field's command-line flag: ``max_frames`` -> ``--max-frames``."""
    return "--" + name.replace("_", "-")


def range_text(low, high) -> str:
    """How a range reads in help and errors: "1 to 60", "at least 1", "at most 2"."""
    if low is not None and high is not None:
        return f"{low:g} to {high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


def check_ranges(options) -> None:
    """Every field of an options dataclass declared with ``range=``: a finite number in its range (None only
    where None is the default); else a ConfigError naming the flag, before anything is read."""
    for f in dataclasses.fields(options):
        if "range" not in f.metadata:
            continue
        value, (low, high) = getattr(options, f.name), f.metadata["range"]
        if (value is None and f.default is None) or value in f.metadata.get("words", ()):
            continue
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            and (low is None or value >= low) and (high is None or value <= high)
        if not ok:
            raise ConfigError(f"expected {range_text(low, high)}, got {value!r}", path=flag(f.name))


class Checked:
    """A base of options dataclasses: their ranges checked when they are made (:func:`check_ranges`). A
    subclass with its own ``__post_init__`` calls ``super().__post_init__()``."""

    def __post_init__(self):
        check_ranges(self)


def _value_type(hint):
    """``int`` for ``int`` or ``int | None``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    return hint


def add_options(parser: argparse.ArgumentParser, cls, more_help: dict[str, str] | None = None,
                repeat: tuple[str, ...] = ()) -> None:
    """One flag per field of the options dataclass ``cls`` (``snake_case`` -> ``--snake-case``);
    ``more_help`` adds what only the command line needs to say to a field's help; the flags of the fields
    named in ``repeat`` may be given several times (the command reads a list, or None)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kwargs, flag = dict(f.metadata), f.name.replace("_", "-")
        if f.name in (more_help or {}):
            kwargs["help"] += " " + more_help[f.name]
        negative = kwargs.pop("negative", None)
        words = kwargs.pop("words", ())
        if "range" in kwargs:
            kwargs["help"] += f" ({', or '.join([range_text(*kwargs.pop('range')), *words])})"
        typ = str if kwargs.pop("parse", None) else _value_type(hints[f.name])
        if f.name in repeat:
            parser.add_argument(f"--{flag}", dest=f.name, action="append", default=None, **kwargs)
            continue
        if hints[f.name] is bool and f.default:
            parser.add_argument(f"--no-{flag}", dest=f.name, action="store_false", help=negative)
            continue
        if hints[f.name] is bool:
            parser.add_argument(f"--{flag}", dest=f.name, action="store_true", **kwargs)
            continue
        if f.default is not None and "help" in kwargs:
            kwargs["help"] += f" (default: {f.default})"
        parser.add_argument(f"--{flag}", dest=f.name, type=typ, default=f.default, **kwargs)


def options_from(args: argparse.Namespace, cls):
    """The options dataclass ``cls`` filled from parsed arguments (a word of a field with ``parse=`` parsed)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}
    for f in dataclasses.fields(cls):
        if "parse" in f.metadata and isinstance(values[f.name], str):
            values[f.name] = f.metadata["parse"](values[f.name])
    return cls(**values)
