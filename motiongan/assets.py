"""Where the files the project ships live (``motiongan/assets/``): weights, the speech model, the expression
table, the demo track. Which of them a name stands for, and loading them, is :mod:`motiongan.models`'s."""
from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"


def asset(name: str) -> Path:
    """A shipped file (``expressions.json``, ``demo_track.npy`` ...)."""
    return ASSETS / name
