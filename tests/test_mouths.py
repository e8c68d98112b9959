"""Real mouths and eyes (motiongan.mouths, motiongan.inference.donors): the bank, the donor choice, the fill,
the evaluation protocol of own mouths and full-resolution donors."""
import numpy as np
import pytest
import torch

from motiongan.data import Cache, EvalClips
from motiongan.evaluation import metrics as M
from motiongan.inference import MotionGAN
from motiongan.landmarks import mouth_box, open_mouth
from motiongan.media import iter_video
from motiongan.mouths import HOLD, MOUTH_PART, MouthBank, MouthBankError, PartBank, RealMouths


@pytest.fixture(scope="module")
def grid(one_clip):
    """The 64 px GRID clip: frames, landmarks, and a bank of its frames 40 to the end."""
    clips = EvalClips(Cache(one_clip), "all", max_frames=40, people=None)
    clip = clips[0]
    frames = ((clip["frames"].movedim(1, -1) + 1) * 127.5).round().byte().numpy()
    donors = clips.after_window(0)
    bank = MouthBank.build(zip(donors[0], donors[1]), indices=donors[2])
    return frames, clip["landmarks"].numpy(), bank, donors


def test_a_bank_round_trips_through_safetensors(grid, tmp_path):
    bank = grid[2]
    bank.save(tmp_path / "bank.safetensors")
    back = MouthBank.load(tmp_path / "bank.safetensors")
    assert set(back.parts) == set(bank.parts) == {"mouth", "right_eye", "left_eye"}
    for name, p in bank.parts.items():
        q = back.parts[name]
        for field in ("crops", "points", "keys", "colours", "openings", "frames"):
            assert np.array_equal(getattr(p, field), getattr(q, field)), (name, field)
    assert not list(tmp_path.glob("*.tmp*"))


def test_a_file_that_is_not_a_bank_is_refused_naming_it(tmp_path):
    from safetensors.numpy import save_file

    save_file({"x": np.zeros(3, np.float32)}, str(tmp_path / "other.safetensors"), metadata={"format": "x"})
    with pytest.raises(MouthBankError, match="other.safetensors: not a mouth bank"):
        MouthBank.load(tmp_path / "other.safetensors")
    save_file({"x": np.zeros(3, np.float32)}, str(tmp_path / "old.safetensors"),
              metadata={"format": "motiongan-mouths", "version": "0", "parts": "[]"})
    with pytest.raises(MouthBankError, match="old.safetensors: mouth bank version 0"):
        MouthBank.load(tmp_path / "old.safetensors")


def _line_bank(n: int = 11) -> PartBank:
    """Donors whose keys lie on a line, 0.1 apart (one coordinate: how open)."""
    keys = np.zeros((n, 4), np.float32)
    keys[:, 0] = np.arange(n) / 10
    z = np.zeros((n,), np.float32)
    return PartBank(MOUTH_PART, np.zeros((n, 8, 8, 3), np.uint8), np.zeros((n, 20, 2), np.float32), keys,
                    np.zeros((n, 9), np.float32), z, np.arange(n))


def test_hysteresis_holds_the_donor_on_a_slowly_opening_mouth_and_lets_go_when_another_is_clearly_nearer():
    bank = _line_bank()
    opening = np.linspace(0.41, 0.7, 60)  # passes the midpoints 0.45, 0.55 and 0.65 slowly
    chosen, without, prev = [], [], None
    for x in opening:
        k = np.array([x, 0, 0, 0], np.float32)
        prev = bank.nearest(k, prev)
        chosen.append(prev)
        without.append(bank.nearest(k))
    changes = lambda c: sum(a != b for a, b in zip(c, c[1:]))  # noqa: E731
    assert changes(without) == 3 and changes(chosen) <= changes(without)
    # each change comes later than the nearest-donor rule's (the donor is held past the midpoint) ...
    first = lambda c, v: c.index(v)  # noqa: E731
    assert first(chosen, 5) > first(without, 5)
    # ... and the donor follows the shape in the end: held only while within HOLD of the best
    assert chosen[-1] == without[-1] == 7
    d = lambda i, x: (i / 10 - x) ** 2  # noqa: E731
    assert all(d(c, x) <= HOLD * d(w, x) + 0.002 + 1e-9 for c, w, x in zip(chosen, without, opening))


def test_own_mouths_are_taken_only_after_the_scored_window(grid):
    frames, lms, bank, donors = grid
    assert donors[2].min() == 40 and len(donors[2]) == 75 - 40
    for p in bank.parts.values():
        assert p.frames.min() >= 40
    # and the scored frames themselves are not among the donors' pixels
    scored = frames[:40].reshape(40, -1)
    for d in donors[0]:
        assert not (scored == d.reshape(1, -1)).all(1).any()


def test_own_mouths_raise_open_mouth_psnr_over_the_warp_and_leave_a_closed_mouth_alone(grid):
    frames, lms, bank, _ = grid
    warp = MotionGAN.landmark_warp(size=64)
    src = torch.from_numpy(frames[0]).float().div(127.5).sub(1).permute(2, 0, 1)
    gen = np.stack([((f.permute(1, 2, 0) + 1) * 127.5).clamp(0, 255).round().byte().numpy()
                    for f in warp.generate(src, lms[0], lms[:40])])
    fill = RealMouths(frames[0], lms[0], bank, parts=["mouth"])
    own = np.stack([fill(g, t) for g, t in zip(gen, lms[:40])])
    open_ = np.flatnonzero(open_mouth(lms[:40], lms[0]))
    assert len(open_) >= 5
    box = lambda t: mouth_box(lms[t], gen[t].shape)  # noqa: E731
    warp_psnr = np.mean([M.psnr(gen[t][box(t)], frames[t][box(t)]) for t in open_])
    own_psnr = np.mean([M.psnr(own[t][box(t)], frames[t][box(t)]) for t in open_])
    assert own_psnr > warp_psnr + 0.5, (own_psnr, warp_psnr)
    first = gen[0]
    assert fill(first, lms[0]) is first  # the source's own shape: nothing to fill


def test_a_large_output_gets_full_resolution_donors_from_a_sharp_video(data_dir, landmarker):
    video = data_dir / "hdtf" / "retalking_1" / "retalking_1.mp4"  # a 524-844 px square address
    pairs = list(landmarker.follow(iter_video(video, 12)))
    big = MouthBank.build(pairs, parts=["mouth"])
    small = MouthBank.build(((np.ascontiguousarray(f[::4, ::4]), None if p is None else (p + 0.5) / 4 - 0.5)
                             for f, p in pairs), parts=["mouth"])
    assert big.parts["mouth"].side >= 2 * small.parts["mouth"].side
    assert big.parts["mouth"].side >= 128  # a 512 px output's mouth (about 130 px wide) is not upsampled
