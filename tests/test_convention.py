import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from motiongan.convention import LandmarkEncoder, to_image, to_pixels, to_tensor


def heatmaps_to_points(maps: torch.Tensor) -> torch.Tensor:
    """Sub-pixel (..., 68, 2) points from heatmaps: argmax refined by a parabola through the log of the
    peak and its neighbours (exact for an untruncated Gaussian peak)."""
    *lead, h, w = maps.shape
    flat = maps.reshape(-1, h, w).float()
    idx = flat.reshape(flat.shape[0], -1).argmax(-1)
    py, px = idx // w, idx % w
    logm = torch.log(flat.clamp_min(1e-12))
    n = torch.arange(flat.shape[0])

    def offset(c, lo, hi):
        denom = lo - 2 * c + hi
        safe = torch.where(denom.abs() < 1e-12, torch.full_like(denom, -1e12), denom)
        return (0.5 * (lo - hi) / safe).clamp(-0.5, 0.5)

    c = logm[n, py, px]
    ox = offset(c, logm[n, py, (px - 1).clamp_min(0)], logm[n, py, (px + 1).clamp_max(w - 1)])
    oy = offset(c, logm[n, (py - 1).clamp_min(0), px], logm[n, (py + 1).clamp_max(h - 1), px])
    return torch.stack([px.float() + ox, py.float() + oy], -1).reshape(*lead, 2)


def test_heatmaps_peak_at_one_on_the_point_and_are_exactly_zero_beyond_three_sigma():
    enc = LandmarkEncoder(64, sigma=1.5)
    maps = enc(torch.tensor([[[20.0, 30.0]] * 68]))
    assert maps.shape == (1, 68, 64, 64)
    assert maps[0, 0, 30, 20] == pytest.approx(1.0)
    assert enc.radius == 5 and maps[0, 0, 30, 20 + enc.radius + 1] == 0.0
    assert maps[0, 0, 30, 21] == pytest.approx(math.exp(-1 / (2 * 1.5**2)))


@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, (3, 68, 2), elements=st.floats(2, 125, width=32)))
def test_heatmaps_decode_back_to_their_points_within_5_hundredths_of_a_pixel(points):
    pts = torch.from_numpy(points)
    assert (heatmaps_to_points(LandmarkEncoder(128, 1.5)(pts)) - pts).abs().max() < 0.05


def test_any_leading_shape_renders_like_each_landmark_set_alone():
    pts = torch.rand(2, 3, 68, 2) * 90
    enc = LandmarkEncoder((96, 112), sigma=2.0)
    maps = enc(pts)
    assert maps.shape == (2, 3, 68, 96, 112)
    assert torch.equal(maps[1, 2], enc(pts[1, 2]))


def test_to_image_inverts_to_tensor_exactly_for_every_pixel_value():
    img = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, -1)
    x = to_tensor(img)
    assert x.shape == (3, 16, 16) and x.min() == -1 and x.max() == 1
    assert np.array_equal(to_image(x), img)
    assert torch.equal(to_tensor(torch.from_numpy(img)), x)  # tensors (e.g. on the GPU) the same way
    assert torch.allclose(to_pixels(x), torch.from_numpy(img).permute(2, 0, 1).float())
