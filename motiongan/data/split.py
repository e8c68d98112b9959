"""Who is in the test split: people, never frames.

Two ways: a fixed, versioned list of test people committed in ``motiongan/data/splits`` (``test_list="v1"``,
or a path to a text file of person ids), used for training, evaluation and every comparison between two
models; or, for a user's own data, a seeded random split of the cache's people (``test_list=None`` or
``"none"``). :class:`SplitOptions` holds the choice.
``person_aliases.json`` maps a clip-derived person id to the real person when one person appears in two
source folders.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MotionGANError
from ..options import option

SPLITS_DIR = Path(__file__).resolve().parent / "splits"


class SplitError(MotionGANError):
    """A test list that cannot be read; the message names the file."""


def person_aliases() -> dict[str, str]:
    data = json.loads((SPLITS_DIR / "person_aliases.json").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def read_test_list(name: str) -> list[str]:
    """The person ids of a named test list (``v1``) or of a text file (one id per line, ``#`` comments)."""
    path = Path(name)
    if not path.suffix:
        path = SPLITS_DIR / f"test_people_{name}.txt"
    if not path.is_file():
        known = ", ".join(sorted(p.stem.removeprefix("test_people_") for p in SPLITS_DIR.glob("test_people_*.txt")))
        raise SplitError(f"{name}: no such test list (shipped: {known}; or give a text file of person ids)")
    people = [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines()]
    return sorted({p for p in people if p})


@dataclass
class SplitOptions:
    """Who the test people are, for training, evaluation, comparison and packing (the flags of every command
    that splits a cache are made from these fields)."""

    test_list: str | None = option("v1", "the fixed test people (v1, or a file of person ids); 'none': a random "
                                         "split by --seed, --test-fraction, --test-persons (for your own data)")
    seed: int = option(0, "the random split's seed")
    test_fraction: float = option(0.3, "the random split's share of test people")
    test_persons: int | None = option(None, "the random split's number of test people (instead of the share)")

    def split_persons(self, persons: list[str]) -> dict[str, list[str]]:
        """Split people into train and test (and all): by the test list when there is one, else (None or
        ``"none"``) deterministically from the seed."""
        persons = sorted(set(persons))
        if self.test_list is not None and self.test_list.lower() != "none":
            listed = set(read_test_list(self.test_list))
            test = [p for p in persons if p in listed]
            return {"test": test, "train": [p for p in persons if p not in listed], "all": persons}
        order = [persons[i] for i in np.random.default_rng(self.seed).permutation(len(persons))]
        n_test = self.test_persons
        if n_test is None:
            n_test = max(1, round(self.test_fraction * len(persons)))
        n_test = min(n_test, max(0, len(persons) - 1)) if len(persons) > 1 else 0
        return {"test": sorted(order[:n_test]), "train": sorted(order[n_test:]), "all": persons}


def image_person_and_label(stem: str) -> tuple[str, str]:
    """Person and expression label from an image's name: ``01_happy`` -> (01, happy);
    ``happy1`` -> (1, happy); ``happy`` -> (0, happy)."""
    if "_" in stem:
        person, label = stem.split("_", 1)
        return person, label
    m = re.fullmatch(r"(.*?)(\d*)", stem)
    return (m.group(2) or "0"), m.group(1)
