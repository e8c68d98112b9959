"""The project's error type: a bad input, a bad setting or a file that is not what it should be.

Every message names the file or the setting. The command line prints it on one line and exits 2; any
other exception is a bug and keeps its traceback. Each subclass is also a ``ValueError`` (as before).

An error is raised as ``MediaError("no such file", path=p)``: ``reason`` says what is wrong, ``path`` names
the file or setting at fault and ``hint`` says what to do, each a field, so that a page can show the error
its own way (a file by the name it was uploaded under, its own hint) without taking the message apart;
``str(e)`` is the command line's line, ``PATH: REASON (HINT)``. An error raised with one string (the older
form, ``MediaError(f"{p}: no such file")``) has that string as its reason and no path.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager


class MotionGANError(ValueError):
    """A user error: ``reason`` (what is wrong), ``path`` (the file or setting at fault, or None when the
    reason names it) and ``hint`` (what to do, or None)."""

    def __init__(self, reason: str, path: str | os.PathLike | None = None, hint: str | None = None):
        self.reason, self.path, self.hint = str(reason), None if path is None else str(path), hint
        super().__init__(self.message())

    def message(self, name: str | None = None, hint: str | None = None) -> str:
        """One line: ``NAME: REASON (HINT)``, where ``name`` (default: the path) names the file and ``hint``
        replaces the error's own."""
        where = self.path if name is None else name
        text = self.reason if where is None else f"{where}: {self.reason}"
        hint = self.hint if hint is None else hint
        return f"{text} ({hint})" if hint else text


class ConfigError(MotionGANError):
    """A configuration or command-line value that is invalid."""


# ------------------------------------------------------------------------------------------------ notes
_COLLECTORS: list[list[str]] = []  # the innermost collector gets each note
_PRINTER = None  # how a note is printed when nobody collects it (the command line sets its prefix)


def note(message: str) -> None:
    """A note for the user (several faces found, a truncated driver...): one plain line, the same text on the
    command line and on the web page. Collected by the innermost :func:`collecting_notes`, else printed on
    stderr (by the command line with its name; above a progress bar)."""
    if _COLLECTORS:
        _COLLECTORS[-1].append(str(message))
    elif _PRINTER is not None:
        _PRINTER(str(message))
    else:
        print(message, file=sys.stderr)


@contextmanager
def collecting_notes():
    """Within the block, notes go into the list it yields instead of being printed (the web page shows them)."""
    notes: list[str] = []
    _COLLECTORS.append(notes)
    try:
        yield notes
    finally:
        _COLLECTORS.remove(notes)


@contextmanager
def printing_notes(printer):
    """Within the block, uncollected notes are printed by ``printer`` (one line each)."""
    global _PRINTER
    previous, _PRINTER = _PRINTER, printer
    try:
        yield
    finally:
        _PRINTER = previous
