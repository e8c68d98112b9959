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
text; ``X | None`` fields take an X.
"""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing


def option(default, help: str, negative: str | None = None, **argparse_kwargs):
    """A dataclass field with the help text (and any ``choices=``, ``metavar=``) of its flag; ``negative``:
    the help of the ``--no-NAME`` flag of a bool that defaults to True."""
    if negative is not None:
        argparse_kwargs["negative"] = negative
    return dataclasses.field(default=default, metadata={"help": help, **argparse_kwargs})


def _value_type(hint):
    """``int`` for ``int`` or ``int | None``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    return hint


def add_options(parser: argparse.ArgumentParser, cls, more_help: dict[str, str] | None = None) -> None:
    """One flag per field of the options dataclass ``cls`` (``snake_case`` -> ``--snake-case``);
    ``more_help`` adds what only the command line needs to say to a field's help."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kwargs, flag = dict(f.metadata), f.name.replace("_", "-")
        if f.name in (more_help or {}):
            kwargs["help"] += " " + more_help[f.name]
        negative = kwargs.pop("negative", None)
        if hints[f.name] is bool and f.default:
            parser.add_argument(f"--no-{flag}", dest=f.name, action="store_false", help=negative)
            continue
        if hints[f.name] is bool:
            parser.add_argument(f"--{flag}", dest=f.name, action="store_true", **kwargs)
            continue
        if f.default is not None and "help" in kwargs:
            kwargs["help"] += f" (default: {f.default})"
        parser.add_argument(f"--{flag}", dest=f.name, type=_value_type(hints[f.name]), default=f.default, **kwargs)


def options_from(args: argparse.Namespace, cls):
    """The options dataclass ``cls`` filled from parsed arguments."""
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})
