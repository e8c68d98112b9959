"""The One Euro filter of driving landmarks (motiongan/filtering.py)."""
import numpy as np
import pytest

from motiongan.face.landmarker import jitter
from motiongan.filtering import OneEuroFilter, filter_track
from motiongan.landmarks import interocular


@pytest.fixture(scope="module")
def still_face(data_dir):
    from motiongan.landmarks import read_pts

    return read_pts(data_dir / "stills68" / "image_0001.pts")


def test_a_jump_is_followed_within_one_frame(still_face):
    track = np.repeat(still_face[None], 20, 0)
    jump = 0.2 * interocular(still_face)
    track[10:] += jump
    out = filter_track(track)
    reached = (out[10:, :, 0] - still_face[:, 0]).mean(-1) / jump
    assert reached[0] > 0.6 and reached[1] > 0.9 and reached[3] > 0.98  # no lag beyond one frame


def test_jitter_of_a_still_face_drops_by_half_and_more_with_stronger_settings(still_face):
    rng = np.random.default_rng(0)
    noisy = still_face[None] + rng.normal(0, 0.004 * interocular(still_face), (100, 68, 2)).astype(np.float32)
    assert jitter(filter_track(noisy)) < 0.55 * jitter(noisy)  # the default keeps every point within reach
    assert jitter(filter_track(noisy, min_cutoff=0.05, beta=4.0, d_cutoff=0.15)) < 0.25 * jitter(noisy)


def test_the_filter_is_causal_and_resets(still_face):
    track = np.repeat(still_face[None], 10, 0) + np.arange(10, dtype=np.float32)[:, None, None]
    f = OneEuroFilter(scale=float(interocular(still_face)))
    first = [f(p) for p in track[:5]]
    longer = filter_track(np.concatenate([track[:5], track[:5] + 100]))
    assert np.allclose(np.stack(first), longer[:5])  # later frames do not change earlier outputs
    f.reset()
    assert np.array_equal(f(track[7]), track[7])  # a reset filter starts from its first input
