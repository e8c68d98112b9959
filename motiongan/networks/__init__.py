"""The networks of Figure 2: generator G, frame discriminator Df, video discriminator Dv (V lives in
``motiongan.face``), and the StarGAN baseline's discriminator."""
from .frame_discriminator import FrameDiscriminator
from .generator import Generator
from .stargan import StarGANDiscriminator
from .video_discriminator import VideoDiscriminator

__all__ = ["Generator", "FrameDiscriminator", "VideoDiscriminator", "StarGANDiscriminator"]
