import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from motiongan import landmarks as L
from motiongan.crop import box_to_affine, crop_box

finite = st.floats(-500, 500, allow_nan=False, width=32)
shapes68 = arrays(np.float32, (68, 2), elements=finite)


def test_mirror_permutation_is_an_involution_that_swaps_eyes_and_jaw_ends():
    assert (L.MIRROR[L.MIRROR] == np.arange(68)).all()
    assert L.MIRROR[36] == 45 and L.MIRROR[0] == 16 and L.MIRROR[48] == 54 and L.MIRROR[8] == 8


@given(shapes68, st.integers(2, 2000))
def test_mirroring_points_twice_is_identity(points, width):
    back = L.mirror_points(L.mirror_points(points, width), width)
    np.testing.assert_allclose(back, points, atol=1e-3)


def test_mirrored_image_keeps_the_left_eye_on_the_left_eye(data_dir):
    img = np.zeros((50, 80, 3), np.uint8)
    pts = np.zeros((68, 2), np.float32)
    pts[36] = (10, 20)  # an eye corner on the image's left
    img[20, 10] = 255
    mimg, mpts = L.mirror(img, pts)
    x, y = mpts[45]  # after mirroring, that corner is point 45, at the mirrored pixel
    assert mimg[int(y), int(x)].max() == 255


def test_read_pts_of_a_hand_annotation_returns_zero_based_points(data_dir):
    pts = L.read_pts(data_dir / "stills68" / "einstein.pts")
    raw = (data_dir / "stills68" / "einstein.pts").read_text().split("{")[1].split()[:2]
    assert pts.shape == (68, 2) and pts.dtype == np.float32
    assert pts[0, 0] == pytest.approx(float(raw[0]) - 1.0)


def test_pts_round_trips_through_write(tmp_path):
    pts = np.random.default_rng(0).uniform(0, 300, (68, 2)).astype(np.float32)
    L.write_pts(tmp_path / "a.pts", pts)
    np.testing.assert_allclose(L.read_pts(tmp_path / "a.pts"), pts, atol=1e-4)


def test_pts_with_wrong_count_names_file_and_line(tmp_path):
    bad = tmp_path / "short.pts"
    bad.write_text("version: 1\nn_points: 68\n{\n" + "1 2\n" * 67 + "}\n")
    with pytest.raises(L.LandmarkFileError, match=r"short\.pts, line 71: expected 68 points, found 67"):
        L.read_pts(bad)


def test_pts_with_a_non_number_names_file_and_line(tmp_path):
    bad = tmp_path / "nan.pts"
    rows = ["1 2"] * 68
    rows[4] = "1 abc"
    bad.write_text("version: 1\nn_points: 68\n{\n" + "\n".join(rows) + "\n}\n")
    with pytest.raises(L.LandmarkFileError, match=r"nan\.pts, line 8: expected two numbers"):
        L.read_pts(bad)


def test_interocular_and_normalised_error():
    pts = np.zeros((68, 2), np.float32)
    pts[45] = (30, 40)
    assert L.interocular(pts) == pytest.approx(50.0)
    shifted = pts + np.array([3.0, 4.0], np.float32)
    assert L.normalised_error(shifted, pts) == pytest.approx(5 / 50)


def test_crop_box_is_square_around_the_points_and_maps_into_the_crop():
    pts = np.random.default_rng(1).uniform(100, 200, (68, 2)).astype(np.float32)
    box = crop_box(pts, scale=1.5)
    m = box_to_affine(box, 128)
    inside = L.apply_affine(pts, m)
    assert inside.min() > 0 and inside.max() < 127
    np.testing.assert_allclose(L.apply_affine(L.apply_affine(pts, m), L.invert_affine(m)), pts, atol=1e-3)


def test_smoothing_keeps_a_still_box_and_reduces_jitter():
    rng = np.random.default_rng(2)
    still = np.tile([[50.0, 60.0, 80.0]], (20, 1))
    np.testing.assert_allclose(L.smooth(still, 3.0), still, atol=1e-4)
    noisy = still + rng.normal(0, 2, still.shape)
    assert np.diff(L.smooth(noisy, 3.0), axis=0).std() < np.diff(noisy, axis=0).std() / 2


@given(shapes68, st.floats(0.2, 5), st.floats(-3.1, 3.1), st.floats(-100, 100), st.floats(-100, 100))
def test_similarity_recovers_a_similarity_transform(points, scale, angle, tx, ty):
    assume(np.ptp(points, axis=0).min() >= 1)
    c, s = math.cos(angle), math.sin(angle)
    m = np.array([[scale * c, -scale * s, tx], [scale * s, scale * c, ty]], np.float32)
    moved = L.apply_affine(points, m)
    tol = 1e-3 * max(1.0, float(np.abs(moved).max()))
    np.testing.assert_allclose(L.apply_affine(points, L.similarity(points, moved)), moved, atol=tol)


@given(arrays(np.float32, (6, 68, 2), elements=st.floats(0, 200, width=32)))
def test_retargeting_a_driver_onto_its_own_first_frame_returns_the_driver(track):
    assume(np.ptp(track[0], axis=0).min() >= 1)
    np.testing.assert_allclose(L.retarget(track[0], track), track, atol=1e-2)


def test_retargeting_transfers_motion_not_face_shape():
    rng = np.random.default_rng(3)
    driver0 = rng.uniform(0, 100, (68, 2)).astype(np.float32)
    track = np.stack([driver0, driver0 + np.array([0, 0], np.float32)])
    track[1, 62:68, 1] += 4.0  # the driver opens its mouth by 4 px
    source = (driver0 * 2.0 + 30).astype(np.float32)  # same face, twice the size, elsewhere
    out = L.retarget(source, track)
    np.testing.assert_allclose(out[0], source, atol=1e-3)
    np.testing.assert_allclose(out[1, 62:68, 1] - source[62:68, 1], 8.0, atol=1e-3)  # scaled motion
    np.testing.assert_allclose(out[1, :62], source[:62], atol=1e-3)


def test_check_points_rejects_wrong_shapes_with_the_name():
    with pytest.raises(L.LandmarkFileError, match="track.npy: expected shape"):
        L.check_points(np.zeros((10, 67, 2)), "track.npy")


# ------------------------------------------------------------------------------------------ regions
def _face(mouth_gap: float = 1.0, right_gap: float = 4.0, left_gap: float = 4.0) -> np.ndarray:
    """A synthetic face: eye corners 36 (20, 30), 39 (30, 30), 42 (40, 30), 45 (50, 30) (inter-ocular 30 px),
    each eye's lids ``*_gap`` px apart; the outer lips spanning x 30-40, y 46-56; the inner lips about
    (35, 50), ``mouth_gap`` px apart."""
    p = np.zeros((68, 2), np.float32)
    p[list(L.JAW + L.RIGHT_BROW + L.LEFT_BROW + L.NOSE)] = (35, 35)
    for eye, x0, g in ((L.RIGHT_EYE, 20, right_gap), (L.LEFT_EYE, 40, left_gap)):
        p[list(eye)] = [
            (x0, 30),
            (x0 + 3, 30 - g / 2),
            (x0 + 7, 30 - g / 2),
            (x0 + 10, 30),
            (x0 + 7, 30 + g / 2),
            (x0 + 3, 30 + g / 2),
        ]
    p[list(L.OUTER_LIP)] = [
        (30, 50),
        (32, 47),
        (34, 46),
        (35, 46),
        (36, 46),
        (38, 47),
        (40, 50),
        (38, 53),
        (36, 56),
        (35, 56),
        (34, 56),
        (32, 53),
    ]
    h = mouth_gap / 2
    p[list(L.INNER_MOUTH)] = [
        (32, 50),
        (33, 50 - h),
        (35, 50 - h),
        (37, 50 - h),
        (38, 50),
        (37, 50 + h),
        (35, 50 + h),
        (33, 50 + h),
    ]
    return p


def test_the_regions_cover_the_68_points_and_the_outline_draws_each_once():
    assert L.MOUTH == tuple(range(48, 68)) and L.EYES == tuple(range(36, 48))
    assert L.OUTER_LIP + L.INNER_MOUTH == L.MOUTH and L.RIGHT_EYE + L.LEFT_EYE == L.EYES
    drawn = [i for region, _ in L.OUTLINE for i in region]
    assert sorted(drawn) == list(range(68))
    assert [closed for _, closed in L.OUTLINE] == [False] * 5 + [True] * 4  # eyes and lips closed


def test_mouth_and_eye_boxes_of_a_synthetic_face():
    face = _face()
    # lips' box x 30-40, y 46-56, grown by a quarter (2.5 px) each side: x 27.5-42.5, y 43.5-58.5
    assert L.mouth_box(face, (64, 64, 3)) == (slice(44, 59), slice(28, 43))
    assert L.mouth_box(face, (50, 40, 3)) == (slice(44, 50), slice(28, 40))  # clipped to the frame
    # each eye's corners 10 px apart: 8 px each side of the midpoint across, 6 px up and down
    assert L.eye_boxes(face, (64, 64, 3)) == [(slice(24, 37), slice(17, 34)), (slice(24, 37), slice(37, 54))]
    assert L.eye_boxes(_face(right_gap=0.0), (64, 64, 3)) == L.eye_boxes(face, (64, 64, 3))  # closed: same box


def test_gap_opening_and_widening_are_in_pixels_then_inter_ocular_units():
    face = _face(mouth_gap=3.0, right_gap=4.0, left_gap=2.0)
    assert L.gap(face, L.INNER_MOUTH) == pytest.approx(3.0)
    assert L.gap(face, L.LEFT_EYE) == pytest.approx(2.0)
    assert L.opening(face, L.RIGHT_EYE) == pytest.approx(4.0 / 30)
    assert L.widening(face, _face(mouth_gap=1.0), L.INNER_MOUTH) == pytest.approx(2.0 / 30)


def test_open_mouth_and_closing_eye_flag_frames_past_the_source():
    source = _face(mouth_gap=1.0, right_gap=4.0, left_gap=4.0)
    # open: the inner lips 0.05 x 30 = 1.5 px wider than the source's; closing: an eye under 0.6 x 4 = 2.4 px
    track = np.stack([_face(1.0), _face(2.0), _face(2.4), _face(2.6), _face(4.0)])
    assert L.open_mouth(track, source).tolist() == [False, False, False, True, True]
    eyes = np.stack([_face(right_gap=r, left_gap=g) for r, g in ((4, 4), (3, 4), (2.6, 2.6), (2.2, 4), (4, 1))])
    assert L.closing_eye(eyes, source).tolist() == [False, False, False, True, True]
    assert not L.open_mouth(eyes, source).any() and not L.closing_eye(track, source).any()


def test_no_tool_or_module_slices_a_face_region_by_hand():
    """The face regions' one home is motiongan/landmarks.py: nothing else in the package, scripts, experiments
    or benchmarks indexes the mouth or the eyes by a literal slice (``48:68``, ``range(60, 68)``, ...)."""
    root = Path(__file__).resolve().parents[1]
    regions = {("36", "42"), ("42", "48"), ("36", "48"), ("48", "60"), ("60", "68"), ("48", "68")}
    pattern = re.compile(r"(?<![\d.])(\d\d)\s*:\s*(\d\d)(?![\d.])|\b(?:slice|range)\(\s*(\d\d)\s*,\s*(\d\d)\s*[,)]")
    home = root / "motiongan" / "landmarks.py"
    found = []
    for folder in ("motiongan", "scripts", "experiments", "benchmarks"):
        for path in sorted((root / folder).rglob("*.py")):
            if path == home:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                for m in pattern.finditer(line):
                    pair = (m[1], m[2]) if m[1] else (m[3], m[4])
                    if pair in regions:
                        found.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    assert found == []
