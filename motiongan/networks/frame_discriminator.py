"""The frame discriminator Df (paper section 3.1, Figure 2b).

Input [s, l, f_t, l_t] (3 + 68 + 3 + 68 channels); the generator's architecture without the LSTM, ending
in a one-channel map of patch logits whose mean is the score (eq. 3). ``forward`` also returns the
intermediate features that the pairwise feature-matching loss compares (eq. 5).
"""
from __future__ import annotations

import torch
from torch import nn

from .blocks import Decoder, Encoder


class FrameDiscriminator(nn.Module):
    def __init__(self, width: int = 64, n_down: int = 2, n_res: int = 6, n_landmarks: int = 68):
        super().__init__()
        self.encoder = Encoder(6 + 2 * n_landmarks, width, n_down, n_res // 2)
        self.decoder = Decoder(self.encoder.out_channels, 1, n_down, n_res - n_res // 2)

    def forward(self, source, source_maps, frame, target_maps, score: bool = True):
        """-> score (B,) (None if ``score`` is False: features only, for eq. 5), intermediate features."""
        x, feats = self.encoder(torch.cat([source, source_maps, frame, target_maps], 1))
        x = self.decoder.res(x)
        feats.append(x)
        return (self.decoder.up(x).mean((1, 2, 3)) if score else None), feats
