"""The video discriminator Dv (paper section 3.1, Figure 2c).

Input: a clip of T frames, (B, T, 3, H, W). The generator's architecture in 3-D convolutions without the
LSTM; after the residual blocks, two up-sampling branches: one gives the real/fake map (score = its
mean, eq. 4), the other the 68 landmark heatmaps of every frame, Dv^l (eqs. 6 and 7).
"""
from __future__ import annotations

from torch import nn

from .blocks import Decoder, Encoder


class VideoDiscriminator(nn.Module):
    def __init__(self, width: int = 64, n_down: int = 2, n_res: int = 6, n_landmarks: int = 68,
                 landmark_kernel: int = 7):
        super().__init__()
        self.encoder = Encoder(3, width, n_down, n_res // 2, dims=3)
        ch = self.encoder.out_channels
        self.adversarial = Decoder(ch, 1, n_down, n_res - n_res // 2, dims=3)
        self.landmarks = Decoder(ch, n_landmarks, n_down, 0, dims=3, out_kernel=landmark_kernel)

    def forward(self, clip, score: bool = True, maps: bool | int = True):
        """-> score (B,), landmark heatmaps (B, T, 68, H, W), intermediate features. A branch that is not
        asked for is not computed (None); ``maps=n`` computes the heatmaps of the first n clips only."""
        x, feats = self.encoder(clip.transpose(1, 2))
        y = self.adversarial.res(x)
        feats.append(y)
        s = self.adversarial.up(y).mean((1, 2, 3, 4)) if score else None
        if maps is not False and maps is not True:
            x = x[:maps]
        m = self.landmarks(x).transpose(1, 2) if maps is not False else None
        return s, m, feats
