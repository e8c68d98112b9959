"""The networks of Figure 2: generator G, frame discriminator Df, video discriminator Dv (V lives in
``motiongan.face``), and the StarGAN baseline's discriminator."""
from .frame_discriminator import FrameDiscriminator
from .generator import Generator
from .stargan import StarGANDiscriminator
from .video_discriminator import VideoDiscriminator
from .warp_generator import LandmarkWarp, WarpGenerator

GENERATORS = {"paper": Generator, "warp": WarpGenerator, "landmark_warp": LandmarkWarp}


def build_generator(kwargs: dict):
    """A generator from the constructor arguments an export records (``architecture``: paper if absent)."""
    kwargs = dict(kwargs)
    return GENERATORS[kwargs.pop("architecture", "paper")](**kwargs)


__all__ = ["Generator", "WarpGenerator", "LandmarkWarp", "build_generator", "FrameDiscriminator",
           "VideoDiscriminator", "StarGANDiscriminator"]
