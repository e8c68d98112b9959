import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch

from motiongan.convention import to_tensor
from motiongan.crop import box_to_affine
from motiongan.data import Cache, EvalClips, SplitOptions, TrainingClips
from motiongan.data.cache import CacheError
from motiongan.data.prepare import Settings, prepare
from motiongan.landmarks import apply_affine, mirror_points, write_pts
from motiongan.media import VideoWriter, iter_video


@pytest.fixture(scope="module")
def grid_cache(tmp_path_factory, data_dir):
    src = tmp_path_factory.mktemp("gridsrc")
    for name in ("bbaf2n", "brbk7n", "lbax4n"):
        os.symlink(data_dir / "grid" / f"{name}.mpg", src / f"{name}.mpg")
    out = tmp_path_factory.mktemp("gridcache")
    prepare(src, "videos", out, Settings(size=64, max_frames=24), workers=1, progress=False)
    return Cache(out)


def test_prepared_videos_have_crops_landmarks_fps_and_audio(grid_cache):
    m = grid_cache.manifest
    assert len(m["clips"]) == 3 and m["frames"] == 72 and not m["failed"]
    clip = grid_cache.clip(0)
    assert clip.frame(0).shape == (64, 64, 3) and clip.landmarks.shape == (24, 68, 2)
    assert 0 < clip.landmarks.min() and clip.landmarks.max() < 63
    assert m["clips"][0]["fps"] == 25.0 and m["clips"][0]["audio"].endswith(".mpg")


def test_300vw_layout_keeps_the_annotated_landmarks(tmp_path, data_dir, landmarker):
    folder = tmp_path / "300vw" / "001"
    (folder / "annot").mkdir(parents=True)
    frames = list(iter_video(data_dir / "grid" / "sbia1a.mpg", max_frames=12))
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(folder / "vid.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (w, h))
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()
    truth = [landmarker(f) for f in frames]
    for i, pts in enumerate(truth):
        write_pts(folder / "annot" / f"{i + 1:06d}.pts", pts)
    out = tmp_path / "cache"
    prepare(tmp_path / "300vw", "300vw", out, Settings(size=128), workers=1, progress=False)
    clip = Cache(out).clip(0)
    assert len(clip) == 12
    for k in range(12):
        expected = apply_affine(truth[k], box_to_affine(clip.boxes[k], 128))
        np.testing.assert_allclose(clip.landmarks[k], expected, atol=1e-3)


def test_no_person_is_in_two_splits():
    persons = [f"p{i}" for i in range(23)]
    for seed in range(5):
        s = SplitOptions(test_list=None, seed=seed).split_persons(persons)
        assert not set(s["train"]) & set(s["test"])
        assert sorted(s["train"] + s["test"]) == sorted(persons) and len(s["test"]) == 7
    random = SplitOptions(test_list=None, seed=1)
    assert random.split_persons(persons) == random.split_persons(persons)


def test_training_source_is_never_adjacent_to_the_first_target(grid_cache):
    ds = TrainingClips(grid_cache, "all", T=4, min_gap=3, seed=0)
    for i in range(200):
        s = ds[i]
        assert abs(s["source_index"] - s["start"]) >= 3
        assert not s["start"] <= s["source_index"] < s["start"] + 4
        assert s["frames"].shape == (4, 3, 64, 64) and s["landmarks"].shape == (4, 68, 2)
        assert -1 <= s["frames"].min() and s["frames"].max() <= 1


def test_samples_are_a_function_of_seed_and_index(grid_cache):
    a, b = TrainingClips(grid_cache, "all", seed=3), TrainingClips(grid_cache, "all", seed=3)
    for i in (0, 7, 123):
        assert (a[i]["frames"] == b[i]["frames"]).all() and a[i]["start"] == b[i]["start"]


def test_mirrored_samples_carry_permuted_landmarks_on_the_right_features(grid_cache):
    ds = TrainingClips(grid_cache, "all", seed=0)
    seen_mirrored = seen_plain = 0
    for i in range(40):
        s = ds[i]
        clip = grid_cache.clip(s["clip"])
        idx = list(range(s["start"], s["start"] + 4))
        plain = clip.frames(idx).astype(np.float32) / 127.5 - 1
        got = s["frames"].permute(0, 2, 3, 1).numpy()
        if np.allclose(got, plain[:, :, ::-1], atol=1e-6):
            seen_mirrored += 1
            np.testing.assert_allclose(s["landmarks"].numpy(), mirror_points(clip.landmarks[idx], 64), atol=1e-5)
        else:
            seen_plain += 1
            np.testing.assert_allclose(got, plain, atol=1e-6)
        lm = s["landmarks"].numpy()
        assert (lm[:, 36, 0] < lm[:, 45, 0]).all()  # point 36 stays the eye on the image's left
        assert (lm[:, 48, 0] < lm[:, 54, 0]).all()
    assert seen_mirrored and seen_plain


def test_eval_clips_are_whole_clips_from_the_first_frame(grid_cache):
    ev = EvalClips(grid_cache, "all")
    c, clip = ev[0], grid_cache.clip(ev.clip_ids[0])
    assert len(ev) == 3 and c["frames"].shape[0] == len(clip) == 24 and c["fps"] == 25.0
    assert torch.equal(c["frames"], to_tensor(np.stack([clip.frame(i) for i in range(len(clip))])))  # in order
    assert torch.equal(c["landmarks"], torch.from_numpy(clip.landmarks))  # source = frame 0, every frame a target
    assert EvalClips(grid_cache, "all", max_frames=5)[0]["frames"].shape[0] == 5


def test_a_missing_split_is_a_clear_error(grid_cache, tmp_path):
    with pytest.raises(CacheError, match="split"):
        EvalClips(grid_cache, "validation")
    with pytest.raises(CacheError, match="not a prepared cache"):
        Cache(tmp_path)


def test_corrupt_and_faceless_videos_are_reported_and_the_rest_prepares(tmp_path, data_dir):
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(data_dir / "grid" / "pwij3p.mpg", src / "good.mpg")
    (src / "corrupt.mp4").write_bytes(b"\x00\x01" * 4000)
    with VideoWriter(src / "noface.mp4", fps=10) as w:
        for _ in range(4):
            w.write(np.full((96, 128, 3), 90, np.uint8))
    m = prepare(src, "videos", tmp_path / "out", Settings(size=64, max_frames=10), workers=1, progress=False)
    assert [c["clip_id"] for c in m["clips"]] == ["src-good"]
    reasons = {f["clip_id"]: f["reason"] for f in m["failed"]}
    assert "cannot be decoded" in reasons["src-corrupt"]
    assert "no face was found" in reasons["src-noface"]


@pytest.mark.slow
def test_a_killed_preparation_resumes_without_redoing_or_corrupting_clips(tmp_path, data_dir):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "sbwe5n"):
        os.symlink(data_dir / "grid" / f"{name}.mpg", src / f"{name}.mpg")
    out = tmp_path / "cache"
    code = ("import sys; from pathlib import Path; from motiongan.data.prepare import prepare, Settings; "
            f"prepare(Path({str(src)!r}), 'videos', Path({str(out)!r}), Settings(size=64), workers=1, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 120
    finished = lambda: len(list((out / "records").glob("*.json"))) if (out / "records").exists() else 0  # noqa
    while time.time() < deadline and finished() < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p.name: p.stat().st_mtime_ns for p in (out / "clips").glob("*.npz")}
    assert 2 <= len(done) < 5
    leftover = out / "clips" / f".src-x.npz.tmp{proc.pid}"
    leftover.write_bytes(b"half a clip")  # what a kill mid-write leaves
    m = prepare(src, "videos", out, Settings(size=64), workers=1, progress=False)
    assert not leftover.exists()
    assert len(m["clips"]) == 5 and m["frames"] == 5 * 75
    for name, mtime in done.items():
        assert (out / "clips" / name).stat().st_mtime_ns == mtime  # not redone
    cache = Cache(out)
    assert all(len(cache.clip(i)) == 75 for i in range(5))


def test_prepare_refuses_to_mix_sizes_in_one_cache(tmp_path, data_dir):
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(data_dir / "grid" / "pwij3p.mpg", src / "a.mpg")
    prepare(src, "videos", tmp_path / "c", Settings(size=64, max_frames=5), workers=1, progress=False)
    with pytest.raises(ValueError, match="prepared with size 64"):
        prepare(src, "videos", tmp_path / "c", Settings(size=128, max_frames=5), workers=1, progress=False)


def test_images_layout_groups_people_labels_expressions_and_counts_dropped_faces(tmp_path, data_dir):
    src = tmp_path / "faces"
    src.mkdir()
    for n in ("01_happy", "01_sad", "02_normal"):
        os.symlink(data_dir / "expressions" / "yale" / f"{n}.png", src / f"{n}.png")
    cv2.imwrite(str(src / "03_wall.png"), np.full((100, 100, 3), 128, np.uint8))
    m = prepare(src, "images", tmp_path / "c", Settings(size=64), workers=1, progress=False)
    persons = {c["person"]: c for c in m["clips"]}
    assert persons["faces/01"]["frames"] == 2 and persons["faces/01"]["labels"] == ["happy", "sad"]
    assert "faces/03" not in persons and m["failed"][0]["clip_id"] == "faces-03"
    assert any("03_wall.png" in s["path"] for s in m["skipped"])
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["frames"] == 3
