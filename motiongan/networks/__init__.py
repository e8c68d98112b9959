"""The networks of Figure 2: generator G, frame discriminator Df, video discriminator Dv (V lives in
``motiongan.face``), and the StarGAN baseline's discriminator."""
from .generator import Generator
from .frame_discriminator import FrameDiscriminator
from .video_discriminator import VideoDiscriminator
from .stargan import StarGANDiscriminator

__all__ = ["Generator", "FrameDiscriminator", "VideoDiscriminator", "StarGANDiscriminator"]
