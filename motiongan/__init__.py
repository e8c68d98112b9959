"""MotionGAN: face video from one face image and 68-point landmarks (Songsri-in & Zafeiriou, FG 2020).

    from motiongan import MotionGAN, Animator
    model = MotionGAN.from_checkpoint("runs/paper/generator.safetensors")
    Animator(model).animate("face.jpg", "driver.mp4", "out.mp4")
"""
from .inference import MotionGAN
from .inference.animate import Animator

__version__ = "0.1.0"
__all__ = ["MotionGAN", "Animator", "__version__"]
