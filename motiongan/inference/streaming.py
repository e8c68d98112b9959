"""Cheaper per-frame generation with the same output (up to float rounding).

The generator's first layer is a 7x7 convolution over [s, l, l_t] (139 channels at 128 x 128: about 14 of
the generator's 33 GFLOPs a frame). Convolution is linear and zero-padded, so it splits exactly into
conv(W_s, [s, l]) + conv(W_t, l_t):
- the source part is the same for every frame of a video: computed once per video;
- each target heatmap channel is non-zero only in a (2r+1)^2 square around its point (the renderer cuts
  the Gaussian at r = ceil(3 sigma)), so its convolution is that square convolved with the channel's
  kernel, added into the map at the point's place: ~0.01 GFLOPs for all 68 channels instead of 7.
The rest of G (instance norm onward, ConvLSTM, decoder) runs unchanged, either ``eager`` (the default)
or through ``compile`` (torch.compile with frozen weights: fuses norms and activations; ~15-20 s to
compile on a 2-core CPU, so only worth it for long videos). Same output up to float rounding. On a GPU,
:class:`GraphedStreamer` replays either as one CUDA graph per frame.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..convention import LandmarkEncoder
from ..networks import Generator


class _Core(nn.Module):
    """G after its first layer: encoder stages 2.., ConvLSTM (explicit state), decoder."""

    def __init__(self, G: Generator):
        super().__init__()
        self.G = G

    def forward(self, x, h, c):
        G = self.G
        for stage in G.encoder.stages[1:]:
            x = stage(x)
        if G.recurrent:
            y, (h, c) = G.lstm(x, (h, c))
            x = x + y
        return G.decoder(x), h, c


def compiled_core(G: Generator, x: torch.Tensor) -> nn.Module:
    """The core compiled by torch.compile for inputs shaped like ``x``; built once per generator, device
    and shape."""
    cache = G.__dict__.setdefault("_compiled_cores", {})
    ch = G.lstm.hidden if G.recurrent else 1
    n, _, hh, ww = x.shape
    key = (str(x.device), n, hh, ww)
    if key not in cache:
        f = 2 ** _n_down(G)
        z = x.new_zeros(n, ch, hh // f, ww // f)
        core = _Core(G).eval()
        with torch.no_grad():
            import torch._inductor.config as inductor

            inductor.freezing = True  # weights as constants (set for the process: calls must see it too)
            compiled = torch.compile(core, dynamic=False)
            compiled(x, z, z)  # compiles now
            cache[key] = compiled
    return cache[key]


class Streamer:
    def __init__(self, generator: Generator, source: torch.Tensor, source_maps: torch.Tensor,
                 encoder: LandmarkEncoder, backend: str = "eager"):
        if backend not in ("eager", "compile"):
            raise ValueError(f"unknown backend {backend!r}: eager or compile")
        self.G, self.encoder, self.r = generator, encoder, encoder.radius
        self.backend = backend
        self.core = None
        first = generator.encoder.stages[0]
        conv = first[0]
        w = conv.weight
        n_src = 3 + (source_maps.shape[1] if generator.source_landmarks else 0)  # [s, l] or [s]
        self.k = conv.kernel_size[0]
        self.pad = conv.padding[0]
        self.rest_of_first = first[1:]
        src_in = torch.cat([source, source_maps], 1) if generator.source_landmarks else source
        self.base = F.conv2d(src_in, w[:, :n_src], conv.bias, padding=self.pad)  # once per video
        wt = w[:, n_src:]  # (C, 68, k, k)
        self.channels = wt.shape[0]
        self.wt = wt.transpose(0, 1).contiguous()  # (68, C, k, k)
        self.h, self.w = source.shape[-2:]
        self.state = None

    def _target_part(self, points: torch.Tensor) -> torch.Tensor:
        """conv(W_t, heatmaps(points)) for (B, 68, 2) points, computed from the heatmaps' supports.

        Each channel's support is a separable square gy x gx, so its convolution with the channel's k x k
        kernel W is Ty W Tx^T, with Ty[u, a] = gy[u + a - (k - 1)] (and Tx likewise): two small batched
        matrix products instead of a convolution over the whole image.
        """
        b, n, _ = points.shape
        r, k, p = self.r, self.k, self.pad
        side = 2 * r + 1
        size = side + k - 1
        pts = points.float()
        origin = torch.floor(pts) - r  # (B, n, 2): top-left of each support square
        offs = torch.arange(side, device=pts.device, dtype=pts.dtype)
        xs, ys = origin[..., 0:1] + offs, origin[..., 1:2] + offs  # (B, n, side)
        dx, dy = xs - pts[..., 0:1], ys - pts[..., 1:2]
        # the encoder's profile on the support, zero outside the image
        gx = self.encoder.profile(dx) * (xs >= 0) * (xs < self.w)
        gy = self.encoder.profile(dy) * (ys >= 0) * (ys < self.h)
        tx = F.pad(gx, (k - 1, k - 1)).unfold(-1, k, 1)  # (B, n, size, k)
        ty = F.pad(gy, (k - 1, k - 1)).unfold(-1, k, 1)
        C = self.channels
        # (B n, C k, k) @ (B n, k, size) -> (B n, C, k, size) -> (B n, k, C size)
        w = self.wt.to(pts.dtype).reshape(1, n, C * k, k).expand(b, -1, -1, -1).reshape(b * n, C * k, k)
        tmp = torch.bmm(w, tx.reshape(b * n, size, k).transpose(1, 2))
        tmp = tmp.reshape(b * n, C, k, size).transpose(1, 2).reshape(b * n, k, C * size)
        full = torch.bmm(ty.reshape(b * n, size, k), tmp)  # (B n, size_u, C size_v)
        full = full.reshape(b, n, size, C, size).transpose(2, 3)  # (B, n, C, size, size)
        # place each square at (origin - pad): out[Y, X] for Y = y0 - pad + u
        u = torch.arange(size, device=pts.device)
        oy = origin[..., 1].long()[..., None] - p + u  # (B, n, size)
        ox = origin[..., 0].long()[..., None] - p + u
        valid = ((oy >= 0) & (oy < self.h))[..., :, None] & ((ox >= 0) & (ox < self.w))[..., None, :]
        flat = (oy.clamp(0, self.h - 1)[..., :, None] * self.w + ox.clamp(0, self.w - 1)[..., None, :])
        vals = full.permute(0, 2, 1, 3, 4) * valid[:, None]  # (B, C, n, size, size)
        out = torch.zeros(b, self.channels, self.h * self.w, device=pts.device, dtype=full.dtype)
        out.scatter_add_(2, flat.reshape(b, 1, -1).expand(b, self.channels, -1), vals.reshape(b, self.channels, -1))
        return out.reshape(b, self.channels, self.h, self.w)

    @torch.no_grad()
    def step(self, points: torch.Tensor) -> torch.Tensor:
        """The next frame (B, 3, H, W) for target landmarks (B, 68, 2); the recurrent state is carried."""
        G = self.G
        x = self.rest_of_first(self.base + self._target_part(points))
        if self.backend != "eager":
            if self.core is None:
                self.core = compiled_core(G, x)
            if self.state is None:  # a zero state is what the ConvLSTM starts from
                f = 2 ** _n_down(G)
                ch = G.lstm.hidden if G.recurrent else 1
                z = x.new_zeros(x.shape[0], ch, x.shape[2] // f, x.shape[3] // f)
                self.state = (z, z)
            frame, h, c = self.core(x, *self.state)
            self.state = (h, c)
            return frame
        for stage in G.encoder.stages[1:]:
            x = stage(x)
        if G.recurrent:
            h, self.state = G.lstm(x, self.state)
            x = x + h
        return G.decoder(x)


class GraphedStreamer:
    """A :class:`Streamer` whose step is captured once as a CUDA graph and replayed for every frame: one
    launch per frame instead of one per kernel (small batches are launch-bound). CUDA only, for the batch
    size of ``points``; the video starts from the first frame (zero state); ``dtype`` captures under
    autocast. Same frames as the streamer it wraps."""

    def __init__(self, streamer: Streamer, points: torch.Tensor, dtype: torch.dtype | None = None,
                 warmup: int = 3):
        if points.device.type != "cuda":
            raise ValueError("CUDA graphs need a CUDA device")
        self.s, self.points = streamer, points.clone()
        self.autocast = lambda: torch.autocast("cuda", dtype=dtype, cache_enabled=False, enabled=dtype is not None)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):  # outside the capture: a compiled core is built, the state buffers made
                self._step()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.frame = self._step()
        for buf in self.s.state or ():
            buf.zero_()

    @torch.no_grad()
    def _step(self) -> torch.Tensor:
        """The streamer's step, its new state copied into the buffers that the next step reads."""
        old = self.s.state
        with self.autocast():
            frame = self.s.step(self.points)
        if old is not None:
            for buf, new in zip(old, self.s.state):
                buf.copy_(new)
            self.s.state = old
        elif self.s.state is not None:  # the first step's state becomes the buffers
            self.s.state = tuple(t.clone() for t in self.s.state)
        return frame

    def step(self, points: torch.Tensor) -> torch.Tensor:
        """The next frame (B, 3, H, W) for target landmarks (B, 68, 2), as :meth:`Streamer.step`."""
        self.points.copy_(points)
        self.graph.replay()
        return self.frame.clone()


def _n_down(G: Generator) -> int:
    return sum(not hasattr(s, "body") for s in G.encoder.stages[1:])
