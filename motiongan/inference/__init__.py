"""Inference: load a trained generator, animate a face from a driving video or landmark track, edit
expressions."""
from .model import MotionGAN

__all__ = ["MotionGAN"]
