"""StarGAN's building blocks (Choi et al. 2018), in 2-D or 3-D, shared by G, Df and Dv.

Encoder: conv 7x7 - ``n_down`` x conv 4x4 stride 2 (channels doubling) - residual blocks.
Decoder: residual blocks - ``n_down`` x transposed conv 4x4 stride 2 (channels halving) - conv 7x7; or,
with ``upsample="resize"``, nearest-neighbour x2 then conv 3x3 per step, which cannot make the
checkerboard pattern of overlapping transposed convolutions (Odena et al., Distill 2016).
Instance norm (affine) + ReLU throughout. In 3-D the kernels gain a temporal extent of 3 and strides stay 1
in time, so a clip keeps its T frames.
"""
from __future__ import annotations

from torch import nn

from ..errors import ConfigError


def _layers(dims: int):
    if dims == 2:
        return nn.Conv2d, nn.ConvTranspose2d, nn.InstanceNorm2d
    return nn.Conv3d, nn.ConvTranspose3d, nn.InstanceNorm3d


def _k(dims: int, k: int, t: int = 3):
    return k if dims == 2 else (t, k, k)


def _s(dims: int, s: int):
    return s if dims == 2 else (1, s, s)


def _p(dims: int, p: int, t: int = 1):
    return p if dims == 2 else (t, p, p)


def conv_norm_relu(cin: int, cout: int, k: int, s: int, p: int, dims: int = 2) -> nn.Sequential:
    conv, _, norm = _layers(dims)
    return nn.Sequential(conv(cin, cout, _k(dims, k), _s(dims, s), _p(dims, p), bias=False),
                         norm(cout, affine=True), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    def __init__(self, ch: int, dims: int = 2):
        super().__init__()
        conv, _, norm = _layers(dims)
        self.body = nn.Sequential(
            conv(ch, ch, _k(dims, 3), 1, _p(dims, 1), bias=False), norm(ch, affine=True), nn.ReLU(inplace=True),
            conv(ch, ch, _k(dims, 3), 1, _p(dims, 1), bias=False), norm(ch, affine=True))

    def forward(self, x):
        return x + self.body(x)


class Encoder(nn.Module):
    """Down-sampling part plus the first residual blocks; ``forward`` returns the output and the
    intermediate features (one per stage) used by the feature-matching loss (eq. 5)."""

    def __init__(self, cin: int, width: int = 64, n_down: int = 2, n_res: int = 3, dims: int = 2):
        super().__init__()
        stages = [conv_norm_relu(cin, width, 7, 1, 3, dims)]
        ch = width
        for _ in range(n_down):
            stages.append(conv_norm_relu(ch, ch * 2, 4, 2, 1, dims))
            ch *= 2
        stages += [ResidualBlock(ch, dims) for _ in range(n_res)]
        self.stages = nn.ModuleList(stages)
        self.out_channels = ch

    def forward(self, x):
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return x, feats


class Decoder(nn.Module):
    """Residual blocks, then up-sampling, then a 7x7 convolution to ``cout`` channels."""

    def __init__(self, ch: int, cout: int, n_up: int = 2, n_res: int = 3, dims: int = 2, tanh: bool = False,
                 upsample: str = "transposed", out_kernel: int = 7):
        super().__init__()
        conv, convt, norm = _layers(dims)
        if upsample not in ("transposed", "resize"):
            raise ConfigError(f"upsample {upsample!r}: use transposed or resize")
        self.res = nn.Sequential(*[ResidualBlock(ch, dims) for _ in range(n_res)])
        up = []
        for _ in range(n_up):
            if upsample == "transposed":
                up.append(convt(ch, ch // 2, _k(dims, 4, 3), _s(dims, 2), _p(dims, 1), bias=False))
            else:
                up += [nn.Upsample(scale_factor=_s(dims, 2), mode="nearest"),
                       conv(ch, ch // 2, _k(dims, 3), 1, _p(dims, 1), bias=False)]
            up += [norm(ch // 2, affine=True), nn.ReLU(inplace=True)]
            ch //= 2
        up.append(conv(ch, cout, _k(dims, out_kernel), 1, _p(dims, out_kernel // 2), bias=True))
        if tanh:
            up.append(nn.Tanh())
        self.up = nn.Sequential(*up)

    def forward(self, x):
        return self.up(self.res(x))
