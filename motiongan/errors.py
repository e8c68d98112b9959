"""The project's error type: a bad input, a bad setting or a file that is not what it should be.

Every message names the file or the setting. The command line prints it on one line and exits 2; any
other exception is a bug and keeps its traceback. Each subclass is also a ``ValueError`` (as before).
"""
from __future__ import annotations


class MotionGANError(ValueError):
    """A user error; the message names the file or setting at fault."""


class ConfigError(MotionGANError):
    """A configuration or command-line value that is invalid."""
