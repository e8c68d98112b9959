"""The thin-plate spline motion (motiongan.motion) and the landmark regions the warp generator paints
(motiongan.landmarks.polygon_mask, opening). Small tensors: the whole file runs in seconds on 2 cores."""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from motiongan.landmarks import INNER_MOUTH, area, interocular, opening, polygon_mask
from motiongan.motion import TPS, MotionError, border_points, denormalise, normalise, warp

MEAN_SHAPE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stills68" / "mean_ibug_lfpw_68.txt"
SIZE = 128  # the crop the landmarks are given in (the prepared cache's)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small tensors: one torch thread is as fast, and ten times faster when other processes share the
    cores (two threads wait on each other at every operation)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def face() -> torch.Tensor:
    """The iBUG mean 68-point shape placed as a face sits in a 128 px training crop, (1, 68, 2) pixels."""
    if not MEAN_SHAPE.is_file():
        pytest.skip(f"the mean 68-point shape is not at {MEAN_SHAPE} (../shared/data is missing)")
    xy = np.loadtxt(MEAN_SHAPE, delimiter=",").reshape(2, 68).T  # first the 68 x, then the 68 y; centred, ~0.86 wide
    return torch.tensor(xy * 85 + (63.0, 50.0), dtype=torch.float32)[None]


def talking(face: torch.Tensor) -> torch.Tensor:
    """A realistic target for ``face``: mouth and jaw open (up to 5 px), head turned a little (2 px right,
    1 px up, 2 degrees)."""
    t = face.clone()
    t[:, 5:12, 1] += torch.tensor([1.0, 2.5, 4.0, 5.0, 4.0, 2.5, 1.0])  # the chin drops with the jaw
    t[:, [56, 57, 58, 65, 66, 67], 1] += torch.tensor([3.5, 4.0, 3.5, 3.5, 4.0, 3.5])  # lower lip
    a = np.deg2rad(2.0)
    rot = torch.tensor([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], dtype=torch.float32)
    centre = t.mean(1, keepdim=True)
    return (t - centre) @ rot.T + centre + torch.tensor([2.0, -1.0])


def jitter(face: torch.Tensor, batch: int, px: float = 1.5, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return face.expand(batch, -1, -1) + px * torch.randn(batch, 68, 2, generator=g)


def close(a: torch.Tensor, b: torch.Tensor, atol: float) -> bool:
    """Same shape and within ``atol`` everywhere (torch.testing.assert_close costs a second to import)."""
    return a.shape == b.shape and (a - b).abs().max().item() <= atol


def identity_grid(h: int, w: int) -> torch.Tensor:
    return F.affine_grid(torch.eye(2, 3)[None], (1, 1, h, w), align_corners=False)


# ----------------------------------------------------------------------------------------------- the fit
def test_fit_without_regularisation_passes_exactly_through_landmarks_and_border_pins(face):
    target, source = normalise(jitter(face, 3, seed=1), SIZE), normalise(jitter(face, 3, seed=2), SIZE)
    tps = TPS(target, source, regularisation=0.0, border=5)
    pins = border_points(5).expand(3, -1, -1)
    assert (tps(target) - source).abs().max() < 1e-4
    assert (tps(pins) - pins).abs().max() < 1e-4  # the crop's outline stays where it is


def test_equal_landmarks_give_the_identity_grid_and_return_the_image_unchanged(face):
    points = normalise(face, SIZE)
    tps = TPS(points, points)
    for coarse in (None, 32):
        assert (tps.grid(SIZE, SIZE, coarse=coarse) - identity_grid(SIZE, SIZE)).abs().max() < 1e-5
    image = torch.rand(1, 3, 64, 64)
    assert (warp(image, face, face, SIZE) - image).abs().max() < 1e-4


def test_batched_fit_equals_fitting_each_frame_alone(face):
    target, source = normalise(jitter(face, 4, seed=3), SIZE), normalise(jitter(face, 4, seed=4), SIZE)
    together = TPS(target, source, regularisation=1e-4)
    grid = together.grid(48, 40)
    for i in range(4):
        alone = TPS(target[i:i + 1], source[i:i + 1], regularisation=1e-4)
        assert close(together.weights[i:i + 1], alone.weights, 1e-9)
        assert close(grid[i:i + 1], alone.grid(48, 40), 1e-5)


def test_coarse_grid_reproduces_an_affine_motion_out_to_the_crop_edges():
    # no border pins: the spline is the affine map itself, which bilinear upsampling reproduces exactly,
    # so the coarse grid's outer pixels must extrapolate to the crop edge, not repeat the coarse samples'
    g = torch.Generator().manual_seed(5)
    target = torch.rand(2, 68, 2, generator=g) * 1.6 - 0.8
    matrix = torch.tensor([[1.1, 0.1], [-0.05, 0.9]])
    tps = TPS(target, target @ matrix.T + torch.tensor([0.05, -0.02]), border=0)
    full = tps.grid(96, 128)
    for coarse in (2, 16, 64):
        assert (tps.grid(96, 128, coarse=coarse) - full).abs().max() < 1e-5


def test_coarse_grid_of_64_is_sub_pixel_for_a_talking_face_at_128_px(face):
    tps = TPS(normalise(talking(face), SIZE), normalise(face, SIZE))
    err = (tps.grid(SIZE, SIZE, coarse=64) - tps.grid(SIZE, SIZE)).norm(dim=-1) * SIZE / 2
    assert err.max() < 0.25


def test_regularisation_makes_the_fit_inexact_at_the_landmarks_but_smoother(face):
    target, source = normalise(face, SIZE), normalise(jitter(face, 1, px=2.0, seed=6), SIZE)

    def residual_and_roughness(lam):
        tps = TPS(target, source, regularisation=lam)
        g = tps.grid(64, 64)
        second = (g[:, 2:] - 2 * g[:, 1:-1] + g[:, :-2]).pow(2).sum() + (g[:, :, 2:] - 2 * g[:, :, 1:-1]
                                                                            + g[:, :, :-2]).pow(2).sum()
        return (tps(target) - source).norm(dim=-1).max().item(), second.item()

    res0, rough0 = residual_and_roughness(0.0)
    res1, rough1 = residual_and_roughness(1e-3)
    res2, rough2 = residual_and_roughness(1e-2)
    assert res0 < 1e-4 < res1 < res2
    assert rough0 > rough1 > rough2


# --------------------------------------------------------------------------------------------- the warp
@pytest.mark.parametrize("resolution", [128, 512])
def test_warp_moves_dots_at_source_landmarks_onto_the_target_landmarks(face, resolution):
    """The same motion (landmarks of the 128 px crop) at 128 and 512 px: a dot drawn at a source landmark
    ends within half a pixel of the target landmark, at the image's resolution."""
    source, target = face, talking(face)
    scale = resolution / SIZE
    marked = [8, 36, 57]  # the chin, an eye corner, the lower lip: each moves 3 to 4 px of the 128 px crop
    yy, xx = torch.meshgrid(torch.arange(resolution, dtype=torch.float32),
                            torch.arange(resolution, dtype=torch.float32), indexing="ij")
    image = torch.zeros(1, len(marked), resolution, resolution)  # one channel a dot, so they never mix
    for k, i in enumerate(marked):
        cx, cy = (source[0, i] + 0.5) * scale - 0.5  # the landmark in this image's pixels
        image[0, k] = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 1.5**2))  # sigma 1.5 image pixels
    out = warp(image, source, target, SIZE)
    for k, i in enumerate(marked):
        w = out[0, k] * (out[0, k] > 1e-3)
        centroid = torch.stack([(w * xx).sum(), (w * yy).sum()]) / w.sum()
        expected = (target[0, i] + 0.5) * scale - 0.5
        moved = ((source[0, i] - target[0, i]).norm() * scale).item()
        assert moved > 3 * scale  # the dot really has to move
        assert (centroid - expected).norm() < 0.5, (i, centroid, expected)


def test_normalise_and_denormalise_are_inverse_and_match_grid_sample_pixel_centres():
    px = torch.tensor([[[0.0, 0.0], [127.0, 63.5]]])
    n = normalise(px, SIZE)
    assert close(n[0, 0], torch.tensor([-1 + 1 / SIZE] * 2), 1e-7)  # the first pixel's centre
    assert close(denormalise(n, SIZE), px, 1e-5)


# ----------------------------------------------------------------------------------- robustness
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("which", ["source", "target"])
def test_landmarks_that_are_not_finite_raise_motion_error_saying_so(face, bad, which):
    broken = face.clone()
    broken[0, 30, 0] = bad
    points = {"source": face, "target": face, which: broken}
    with pytest.raises(MotionError, match=f"{which} landmarks are not finite"):
        warp(torch.zeros(1, 3, 32, 32), points["source"], points["target"], SIZE)


def test_coincident_target_points_with_different_sources_give_a_finite_regularised_fit(face):
    # a closed mouth in the target (inner lower lip on the upper), open in the source (6 px apart)
    target, source = face.clone(), face.clone()
    target[0, [65, 66, 67]] = target[0, [63, 62, 61]]
    source[0, [65, 66, 67]] = source[0, [63, 62, 61]] + torch.tensor([0.0, 6.0])
    tps = TPS(normalise(target, SIZE), normalise(source, SIZE))
    grid = tps.grid(SIZE, SIZE)
    assert torch.isfinite(tps.weights).all() and torch.isfinite(grid).all()
    assert grid.abs().max() < 1.1  # no wild excursions
    mapped = denormalise(tps(normalise(target, SIZE)), SIZE)[0]
    others = [i for i in range(68) if i not in (61, 62, 63, 65, 66, 67)]
    assert (mapped[others] - source[0, others]).norm(dim=-1).max() < 0.01  # the other landmarks stay exact
    for upper, lower in ((61, 67), (62, 66), (63, 65)):  # each pair lands between its two source points
        middle = (source[0, upper] + source[0, lower]) / 2
        assert (mapped[upper] - middle).norm() < 3.0 and (mapped[lower] - middle).norm() < 3.0


def test_all_landmarks_on_one_point_still_fit_with_border_pins(face):
    collapsed = torch.full_like(face, 64.0)
    out = warp(torch.rand(2, 3, 32, 32), face.expand(2, -1, -1), collapsed.expand(2, -1, -1), SIZE)
    assert torch.isfinite(out).all()


def test_collinear_landmarks_raise_without_border_pins_and_fit_with_them():
    t = torch.linspace(-0.6, 0.6, 68)
    for line in (torch.stack([t, 0 * t], -1), torch.stack([t, 0.3 * t + 0.1], -1)):  # level, slanted
        target, source = line[None], line[None] + torch.tensor([0.02, 0.05])
        with pytest.raises(MotionError, match="collinear"):
            TPS(target, source, border=0)
        tps = TPS(target, source, border=5)
        assert (tps(target) - source).abs().max() < 1e-4
        assert torch.isfinite(tps.grid(32, 32)).all()


def test_landmarks_far_outside_the_crop_are_clamped_to_a_finite_grid(face):
    far = face.clone()
    far[0, :3] = torch.tensor([1e7, -1e7])  # three points clamped onto the same far corner: coincident
    far[0, 10] = torch.tensor([-1e9, 5e8])
    for source, target in ((far, face), (face, far)):
        tps = TPS(normalise(target, SIZE), normalise(source, SIZE))
        grid = tps.grid(SIZE, SIZE)
        assert torch.isfinite(grid).all() and torch.isfinite(tps.weights).all()
        assert tps.controls.abs().max() <= 3.0  # motion.MARGIN
    out = warp(torch.rand(1, 3, 64, 64), far, face, SIZE)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("target_shape,source_shape,message", [
    ((68, 2), (68, 2), r"expected \(B, N, 2\) points, got \(68, 2\)"),
    ((1, 68, 3), (1, 68, 3), r"expected \(B, N, 2\) points, got \(1, 68, 3\)"),
    ((1, 68, 2), (1, 67, 2), "differ in shape"),
    ((2, 68, 2), (1, 68, 2), "differ in shape"),
])
def test_landmarks_of_the_wrong_shape_raise_motion_error(face, target_shape, source_shape, message):
    with pytest.raises(MotionError, match=message):
        TPS(torch.zeros(target_shape), torch.zeros(source_shape))


def test_mapping_points_of_the_wrong_batch_or_a_too_coarse_grid_raise_motion_error(face):
    tps = TPS(normalise(face.expand(2, -1, -1), SIZE), normalise(face.expand(2, -1, -1), SIZE))
    with pytest.raises(MotionError, match="points to map"):
        tps(torch.zeros(3, 5, 2))
    with pytest.raises(MotionError, match="at least 2"):
        tps.grid(64, 64, coarse=1)


def test_fitting_on_several_threads_gives_the_same_fit_and_leaves_the_thread_count_as_it_was(face):
    target, source = normalise(jitter(face, 2, seed=7), SIZE), normalise(jitter(face, 2, seed=8), SIZE)
    alone = TPS(target, source).weights
    torch.set_num_threads(2)
    try:
        assert close(TPS(target, source).weights, alone, 1e-12)  # the fit itself runs on one thread
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_motion_error_is_a_user_error():
    from motiongan.errors import MotionGANError

    assert issubclass(MotionError, MotionGANError) and issubclass(MotionError, ValueError)


# ------------------------------------------------------------------------------ the painted regions
def square_mouth(lo: float = 40.0, hi: float = 80.0) -> torch.Tensor:
    """68 points whose inner mouth (8 points) is the outline of the square [lo, hi]^2, clockwise."""
    pts = torch.zeros(1, 68, 2)
    mid = (lo + hi) / 2
    outline = [(lo, lo), (mid, lo), (hi, lo), (hi, mid), (hi, hi), (mid, hi), (lo, hi), (lo, mid)]
    pts[0, list(INNER_MOUTH)] = torch.tensor(outline)
    return pts


def test_polygon_mask_of_a_square_has_its_area_and_is_one_inside_zero_outside():
    mask = polygon_mask(square_mouth(), INNER_MOUTH, SIZE, grow=0.0, feather=1.0)
    assert mask.shape == (1, 1, SIZE, SIZE)
    assert abs(mask.sum().item() - 40 * 40) < 0.02 * 40 * 40
    assert (mask[0, 0, 42:79, 42:79] == 1).all()  # inside, more than a pixel from the outline
    outside = torch.ones(SIZE, SIZE, dtype=torch.bool)
    outside[38:83, 38:83] = False
    assert (mask[0, 0][outside] == 0).all()
    grown = polygon_mask(square_mouth(), INNER_MOUTH, SIZE, grow=2.0, feather=1.0)
    assert abs(grown.sum().item() - 44 * 44) < 0.03 * 44 * 44  # grown by 2 px each side (rounded corners)


def test_polygon_mask_in_a_window_equals_the_full_mask():
    import inspect

    if "window" not in inspect.signature(polygon_mask).parameters:
        pytest.skip("polygon_mask has no window argument")
    pts = square_mouth(30.0, 52.0).expand(2, -1, -1).clone()
    pts[1] += 40.0  # a second frame elsewhere in the crop
    full = polygon_mask(pts, INNER_MOUTH, SIZE)
    assert close(polygon_mask(pts, INNER_MOUTH, SIZE, window=40), full, 1e-6)


def test_opening_of_the_inner_mouth_is_zero_closed_and_the_lip_gap_over_the_eye_distance_open(face):
    closed = face.clone()
    closed[0, [65, 66, 67]] = closed[0, [63, 62, 61]]
    assert opening(closed, INNER_MOUTH).item() == 0.0
    opened = closed.clone()
    opened[0, [65, 66, 67], 1] += 5.0
    expected = 5.0 / interocular(opened).item()
    assert opening(opened, INNER_MOUTH).item() == pytest.approx(expected, rel=1e-5)
    assert opening(opened, INNER_MOUTH).item() > opening(face, INNER_MOUTH).item() > 0
    # batched, any leading shape
    both = torch.cat([closed, opened])
    assert close(opening(both, INNER_MOUTH), torch.tensor([0.0, expected]), 1e-6)


def test_area_of_the_inner_mouth_is_the_polygon_area_over_the_squared_eye_distance(face):
    square = face.clone()
    corners = torch.tensor([[50.0, 80], [54, 80], [58, 80], [58, 84], [58, 88], [54, 88], [50, 88], [50, 84]])
    square[0, list(INNER_MOUTH)] = corners  # an 8 x 8 square, traced through all eight points
    expected = 64.0 / interocular(square).item() ** 2
    assert area(square, INNER_MOUTH).item() == pytest.approx(expected, rel=1e-5)
    reverse = square.clone()
    reverse[0, list(INNER_MOUTH)] = corners.flip(0)  # traced the other way round
    assert area(reverse, INNER_MOUTH).item() == pytest.approx(expected, rel=1e-5)
    assert area(square.numpy(), INNER_MOUTH)[0] == pytest.approx(expected, rel=1e-5)  # numpy too
    closed = face.clone()
    closed[0, [65, 66, 67]] = closed[0, [63, 62, 61]]
    assert area(closed, INNER_MOUTH).item() == pytest.approx(0.0, abs=1e-9)
