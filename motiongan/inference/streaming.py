"""Cheaper per-frame generation with the same output (up to float rounding).

The generator's first layer is a 7x7 convolution over [s, l, l_t] (139 channels at 128 x 128: about 14 of
the generator's 33 GFLOPs a frame). Convolution is linear and zero-padded, so it splits exactly into
conv(W_s, [s, l]) + conv(W_t, l_t):
- the source part is the same for every frame of a video: computed once per video;
- each target heatmap channel is non-zero only in a (2r+1)^2 square around its point (the renderer cuts
  the Gaussian at r = ceil(3 sigma)), so its convolution is that square convolved with the channel's
  kernel, added into the map at the point's place: ~0.1 GFLOPs for all 68 channels instead of 7.
The rest of G (instance norm onward, ConvLSTM, decoder) runs unchanged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..landmarks import heatmap_radius
from ..networks import Generator


class Streamer:
    def __init__(self, generator: Generator, source: torch.Tensor, source_maps: torch.Tensor, sigma: float):
        self.G, self.sigma, self.r = generator, sigma, heatmap_radius(sigma)
        first = generator.encoder.stages[0]
        conv = first[0]
        w = conv.weight
        n_src = w.shape[1] - source_maps.shape[1] if not generator.source_landmarks else 3 + source_maps.shape[1]
        self.k = conv.kernel_size[0]
        self.pad = conv.padding[0]
        self.rest_of_first = first[1:]
        src_in = torch.cat([source, source_maps], 1) if generator.source_landmarks else source
        self.base = F.conv2d(src_in, w[:, :n_src], conv.bias, padding=self.pad)  # once per video
        wt = w[:, n_src:]  # (C, 68, k, k)
        self.n_points, self.channels = wt.shape[1], wt.shape[0]
        self.wt = wt.transpose(0, 1).reshape(self.n_points * self.channels, 1, self.k, self.k).contiguous()
        self.h, self.w = source.shape[-2:]
        self.state = None

    def _target_part(self, points: torch.Tensor) -> torch.Tensor:
        """conv(W_t, heatmaps(points)) for (B, 68, 2) points, computed from the heatmaps' supports."""
        b, n, _ = points.shape
        r, k, p = self.r, self.k, self.pad
        side = 2 * r + 1
        pts = points.float()
        origin = torch.floor(pts) - r  # (B, n, 2): top-left of each support square
        offs = torch.arange(side, device=pts.device, dtype=pts.dtype)
        xs, ys = origin[..., 0:1] + offs, origin[..., 1:2] + offs  # (B, n, side)
        dx, dy = xs - pts[..., 0:1], ys - pts[..., 1:2]
        # the renderer's formula on the support (see landmarks.heatmaps), zero outside the image
        gx = torch.exp(-(dx**2) / (2 * self.sigma**2)) * (dx.abs() <= r) * (xs >= 0) * (xs < self.w)
        gy = torch.exp(-(dy**2) / (2 * self.sigma**2)) * (dy.abs() <= r) * (ys >= 0) * (ys < self.h)
        patches = gy.unsqueeze(-1) * gx.unsqueeze(-2)  # (B, n, side, side)
        full = F.conv2d(patches, self.wt.to(patches.dtype), padding=k - 1, groups=n)  # (B, n*C, S, S)
        size = side + k - 1
        full = full.reshape(b, n, self.channels, size, size)
        # place each square at (origin - pad): out[Y, X] for Y = y0 - pad + u
        u = torch.arange(size, device=pts.device)
        oy = origin[..., 1].long()[..., None] - p + u  # (B, n, S)
        ox = origin[..., 0].long()[..., None] - p + u
        valid = ((oy >= 0) & (oy < self.h))[..., :, None] & ((ox >= 0) & (ox < self.w))[..., None, :]
        flat = (oy.clamp(0, self.h - 1)[..., :, None] * self.w + ox.clamp(0, self.w - 1)[..., None, :])
        vals = full.permute(0, 2, 1, 3, 4) * valid[:, None]  # (B, C, n, S, S)
        out = torch.zeros(b, self.channels, self.h * self.w, device=pts.device, dtype=full.dtype)
        out.scatter_add_(2, flat.reshape(b, 1, -1).expand(b, self.channels, -1), vals.reshape(b, self.channels, -1))
        return out.reshape(b, self.channels, self.h, self.w)

    @torch.no_grad()
    def step(self, points: torch.Tensor) -> torch.Tensor:
        """The next frame (B, 3, H, W) for target landmarks (B, 68, 2); the recurrent state is carried."""
        G = self.G
        x = self.rest_of_first(self.base + self._target_part(points))
        for stage in G.encoder.stages[1:]:
            x = stage(x)
        if G.recurrent:
            h, self.state = G.lstm(x, self.state)
            x = x + h
        return G.decoder(x)
