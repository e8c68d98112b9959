"""The warp configuration of G (SPEC, "warp first, then paint"): the source is moved by the thin-plate spline
of its landmarks onto the target's (``motiongan.motion``), and the paper's encoder, ConvLSTM and decoder
paint only where the warp has no pixels to move.

Input per frame: [warp(s), s, l, l_t, R_t] (3 + 3 + 68 + 68 + 1 channels), ``R_t`` the paint region below;
with ``maps=False``, [warp(s), s, R_t] (the heatmaps make the first convolution 20 times costlier, which a
CPU configuration cannot pay; the region and the warp carry the geometry).
Output: colours ``r_t`` (tanh) and a mask ``m_t`` (sigmoid), ``f_t = m_t warp(s) + (1 - m_t) r_t``. The mask's
last convolution starts with zero weights and bias ``mask_bias``, so an untrained G returns the warp
(to 1 - sigmoid(mask_bias)) and training starts from the warp's quality.

High resolution: given ``detail``, the same source crop at a higher resolution, the motion (analytic in
normalised coordinates) warps it at that resolution, and the network's colours and mask, computed at its
training size, are upsampled bilinearly: the face keeps the photo's own sharpness.

``paint="gated"`` decides where paint may go by geometry: ``m_t = 1 - (1 - sigmoid(.)) R_t`` with ``R_t``
the target's inner mouth and eye outlines (grown by a pixel), each weighted by how much wider it opens than
in the source (0 when not wider: the warp has those pixels). Everywhere else the output is the warp's own
pixels, so the painter cannot blur what the warp had right. ``paint="anywhere"`` lets the mask decide alone.
With ``stretch=(low, high)`` the mouth's weight is also multiplied by a smoothstep of how far the warp
stretches the source's inner mouth (polygon area, target over source, from ``low`` to ``high``): a source
that already shows its teeth keeps them when the mouth opens a little more. With ``skip=True`` the network
runs only on frames with something to paint (the others are the warp exactly) and its recurrent state holds
over the frames it skips, the same in training and in inference (in training it still runs on a batch with
nothing to paint, so that every step has a graph to differentiate, as every rank of a DDP run needs). With
``eyes=False`` only the mouth is painted: on the test people, round 4's eye paint changed PSNR by 0.002 dB
while it made the network run on 641 of 819 frames instead of 361 (docs/MODEL_CARD.md), so the next
``warp_cpu`` round trains without it.

:class:`LandmarkWarp` is the same motion with no network: the reference row "landmark warp" and the
generator behind ``--checkpoint warp``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..landmarks import INNER_MOUTH, LEFT_EYE, RIGHT_EYE, polygon_mask, stretch_weight, widening
from ..motion import warp
from .blocks import Decoder, Encoder
from .generator import ConvLSTMCell

# how much wider than in the source (inter-ocular units) a region must open to be painted fully
WIDER = {INNER_MOUTH: 0.05, RIGHT_EYE: 0.03, LEFT_EYE: 0.03}
WINDOW = {INNER_MOUTH: 0.5, RIGHT_EYE: 0.25, LEFT_EYE: 0.25}  # the square (share of the crop) that holds each


def paint_region(source_lms: torch.Tensor, target_lms: torch.Tensor, size: int,
                 stretch_range: tuple[float, float] | None = None, eyes: bool = True) -> torch.Tensor:
    """R_t (B, 1, size, size): the target's inner mouth and (with ``eyes``) eyes, each weighted in [0, 1] by
    how much wider it opens than in the source (the mouth also by `stretch_weight` over ``stretch_range``)."""
    region = torch.zeros(target_lms.shape[0], 1, size, size, device=target_lms.device)
    for part, wider in WIDER.items():
        if part != INNER_MOUTH and not eyes:
            continue
        gate = (widening(target_lms, source_lms, part) / wider).clamp(0, 1)
        if part == INNER_MOUTH and stretch_range is not None:
            gate = gate * stretch_weight(source_lms, target_lms, *stretch_range)
        on = gate > 0  # only frames where the part opens wider are drawn
        if on.any():
            mask = polygon_mask(target_lms[on], part, size, window=int(WINDOW[part] * size))
            region[on] = torch.maximum(region[on], gate[on].view(-1, 1, 1, 1) * mask)
    return region


class LandmarkWarp(nn.Module):
    """The motion alone: the source warped so that its landmarks land on the target's (no parameters)."""

    warps = True

    def __init__(self, border: int = 5, regularisation: float = 0.0):
        super().__init__()
        self.kwargs = {"architecture": "landmark_warp", "border": border, "regularisation": regularisation}
        self.border, self.regularisation = border, regularisation

    def motion(self, source, source_lms, target_lms, size: int | None = None):
        """``source`` warped; landmarks in pixels of a ``size`` crop (default: the source's own size)."""
        size = size or source.shape[-1]
        return warp(source, source_lms, target_lms, size, self.regularisation, self.border)

    def step(self, source, source_maps, target_maps, state=None, *, source_lms, target_lms, detail=None):
        """One frame (B, 3, H, W), or at ``detail``'s resolution when given."""
        image = source if detail is None else detail
        return self.motion(image, source_lms, target_lms, source.shape[-1]), state

    def forward(self, source, source_maps, target_maps, state=None, *, source_lms, target_lms):
        """A clip: target_lms (B, T, 68, 2) -> frames (B, T, 3, H, W)."""
        B, T = target_lms.shape[:2]
        frames = self.motion(source.repeat_interleave(T, 0), source_lms.repeat_interleave(T, 0),
                             target_lms.reshape(B * T, 68, 2))
        return frames.reshape(B, T, *frames.shape[1:]), state


class WarpGenerator(LandmarkWarp):
    """G, warp configuration: the paper's encoder, ConvLSTM and decoder paint over the landmark warp."""

    def __init__(self, width: int = 64, n_down: int = 2, n_res: int = 6, n_landmarks: int = 68,
                 recurrent: bool = True, upsample: str = "resize", paint: str = "gated", mask_bias: float = 8.0,
                 border: int = 5, regularisation: float = 0.0, maps: bool = True,
                 stretch: tuple[float, float] | None = None, skip: bool = False, eyes: bool = True):
        super().__init__(border, regularisation)
        if paint not in ("gated", "anywhere"):
            raise ConfigError(f"paint {paint!r}: use gated or anywhere")
        if (stretch is not None or skip or not eyes) and paint != "gated":
            raise ConfigError("stretch, skip and eyes decide where a gated G paints: they need paint='gated'")
        if stretch is not None and not 0 <= stretch[0] < stretch[1]:
            raise ConfigError(f"stretch {tuple(stretch)}: use 0 <= low < high")
        self.kwargs = {"architecture": "warp", "width": width, "n_down": n_down, "n_res": n_res,
                       "n_landmarks": n_landmarks, "recurrent": recurrent, "upsample": upsample, "paint": paint,
                       "mask_bias": mask_bias, "border": border, "regularisation": regularisation, "maps": maps,
                       "stretch": None if stretch is None else list(stretch), "skip": skip, "eyes": eyes}
        self.recurrent, self.paint, self.maps, self.skip, self.eyes = recurrent, paint, maps, skip, eyes
        self.stretch = None if stretch is None else tuple(stretch)
        self.encoder = Encoder(3 + 3 + (2 * n_landmarks if maps else 0) + 1, width, n_down, n_res // 2)
        ch = self.encoder.out_channels
        self.lstm = ConvLSTMCell(ch, ch) if recurrent else None
        self.decoder = Decoder(ch, 4, n_down, n_res - n_res // 2, upsample=upsample)
        last = self.decoder.up[-1]
        with torch.no_grad():  # the mask channel starts at sigmoid(mask_bias): the warp
            last.weight[3].zero_()
            last.bias[3].fill_(mask_bias)

    def step(self, source, source_maps, target_maps, state=None, *, source_lms, target_lms, detail=None):
        """One frame: images (B, 3, H, W), heatmaps (B, 68, H, W), landmarks (B, 68, 2) -> (B, 3, H, W);
        with ``detail`` (B, 3, H', W'), the frame at that resolution."""
        region = paint_region(source_lms, target_lms, source.shape[-1], self.stretch, self.eyes)
        painted = region.flatten(1).amax(1) > 0  # (B,) frames with something to paint
        if self.skip and not painted.any() and not self.training:  # (training keeps the graph: same frames)
            return self.motion(source if detail is None else detail, source_lms, target_lms, source.shape[-1]), state
        warped = self.motion(source, source_lms, target_lms)
        parts = [warped, source, source_maps, target_maps, region] if self.maps else [warped, source, region]
        x, _ = self.encoder(torch.cat(parts, 1))
        if self.recurrent:
            h, new = self.lstm(x, state)
            state = new if not self.skip else self._hold(state, new, painted)
            x = x + h
        out = self.decoder(x)
        colour, mask = torch.tanh(out[:, :3]), torch.sigmoid(out[:, 3:])
        if self.paint == "gated":
            mask = 1 - (1 - mask) * region
        if detail is not None and detail.shape[-2:] != source.shape[-2:]:
            warped = self.motion(detail, source_lms, target_lms, source.shape[-1])
            colour, mask = (F.interpolate(x, size=detail.shape[-2:], mode="bilinear", align_corners=False)
                            for x in (colour, mask))
        return mask * warped + (1 - mask) * colour, state

    @staticmethod
    def _hold(old, new, painted):
        """The LSTM state: ``new`` for the painted frames, ``old`` (zeros at the start) for the others."""
        if painted.all():
            return new
        keep = painted.view(-1, 1, 1, 1)
        if old is None:
            old = tuple(torch.zeros_like(n) for n in new)
        return tuple(torch.where(keep, n, o) for n, o in zip(new, old))

    def forward(self, source, source_maps, target_maps, state=None, *, source_lms, target_lms):
        """A clip: target_maps (B, T, 68, H, W), target_lms (B, T, 68, 2) -> frames (B, T, 3, H, W)."""
        frames = []
        for t in range(target_maps.shape[1]):
            f, state = self.step(source, source_maps, target_maps[:, t], state, source_lms=source_lms,
                                 target_lms=target_lms[:, t])
            frames.append(f)
        return torch.stack(frames, 1), state
