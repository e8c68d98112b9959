"""The generator G (paper section 3.1, Figure 2a): encoder, ConvLSTM, decoder.

Input per frame: the channel concatenation [s, l, l_t] (3 + 68 + 68 channels). The encoder output goes
through a single-layer convolutional LSTM (3x3 gates; a dense LSTM over 256 x 32 x 32 features is
impossible); the LSTM output is added to the encoder output and decoded to the frame f~_t in [-1, 1].
The recurrent state carries from frame to frame, so a video of any length is generated one frame at a
time in constant memory. With ``recurrent=False`` it is StarGAN's generator (the baseline, whose input
is [s, l_t]).
"""
from __future__ import annotations

import torch
from torch import nn

from .blocks import Decoder, Encoder


class ConvLSTMCell(nn.Module):
    def __init__(self, ch: int, hidden: int, kernel: int = 3):
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(ch + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x, state=None):
        if state is None:
            z = x.new_zeros(x.shape[0], self.hidden, *x.shape[2:])
            state = (z, z)
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], 1)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class Generator(nn.Module):
    def __init__(self, width: int = 64, n_down: int = 2, n_res: int = 6, n_landmarks: int = 68,
                 recurrent: bool = True, source_landmarks: bool = True, upsample: str = "transposed"):
        super().__init__()
        # the constructor's arguments, stored with an export so that loading needs nothing else
        self.kwargs = {"width": width, "n_down": n_down, "n_res": n_res, "n_landmarks": n_landmarks,
                       "recurrent": recurrent, "source_landmarks": source_landmarks, "upsample": upsample}
        self.recurrent, self.source_landmarks = recurrent, source_landmarks
        cin = 3 + n_landmarks * (2 if source_landmarks else 1)
        self.encoder = Encoder(cin, width, n_down, n_res // 2)
        ch = self.encoder.out_channels
        self.lstm = ConvLSTMCell(ch, ch) if recurrent else None
        self.decoder = Decoder(ch, 3, n_down, n_res - n_res // 2, tanh=True, upsample=upsample)

    def inputs(self, source, source_maps, target_maps):
        parts = [source, source_maps, target_maps] if self.source_landmarks else [source, target_maps]
        return torch.cat(parts, 1)

    def step(self, source, source_maps, target_maps, state=None):
        """One frame: (B, 3, H, W), (B, 68, H, W), (B, 68, H, W) -> (B, 3, H, W), new state."""
        x, _ = self.encoder(self.inputs(source, source_maps, target_maps))
        if self.recurrent:
            h, state = self.lstm(x, state)
            x = x + h
        return self.decoder(x), state

    def forward(self, source, source_maps, target_maps, state=None):
        """A clip: target_maps (B, T, 68, H, W) -> frames (B, T, 3, H, W) and the final state."""
        frames = []
        for t in range(target_maps.shape[1]):
            f, state = self.step(source, source_maps, target_maps[:, t], state)
            frames.append(f)
        return torch.stack(frames, 1), state
