"""Prepared face data: ``motiongan prepare`` writes a cache, the datasets read it (paper section 4.4)."""
from .cache import Cache, ClipFile
from .dataset import EvalClips, ResidentClips, TrainingClips
from .split import SplitOptions, read_test_list

__all__ = ["Cache", "ClipFile", "TrainingClips", "ResidentClips", "EvalClips", "SplitOptions", "read_test_list"]
