"""Prepared face data: ``motiongan prepare`` writes a cache, the datasets read it (paper section 4.4)."""
from .cache import Cache, ClipFile
from .dataset import EvalClips, TrainingClips, split_persons

__all__ = ["Cache", "ClipFile", "TrainingClips", "EvalClips", "split_persons"]
