import os

import numpy as np
import pytest
import torch

from motiongan.cli import main
from motiongan.config import load_config
from motiongan.inference import MotionGAN
from motiongan.inference.animate import AnimateOptions, Animator, Driving, load_source, target_track
from motiongan.inference.edit import load_expressions, named_expression, transfer_expression
from motiongan.landmarks import EXPRESSION_STABLE, STABLE, apply_affine, interocular, to_canonical, write_pts
from motiongan.media import has_audio, read_image, video_info, write_image
from motiongan.models import GENERATORS, load_generator
from motiongan.training.loop import train


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, one_clip, tiny):
    """A tiny generator trained for a few steps in the test."""
    run = tmp_path_factory.mktemp("run")
    cfg = load_config("small", tiny + ["use_v=false", "test_persons=0", "sample_every=100"])
    train(cfg, one_clip, run, steps=3, progress=False)
    return run / "generator.safetensors"


@pytest.fixture(scope="module")
def model(checkpoint):
    return MotionGAN.from_checkpoint(checkpoint)


@pytest.fixture(scope="module")
def source_image(data_dir):
    return data_dir / "stills68" / "image_0001.png"


def frames_of(path):
    return video_info(path)["frames"]


def test_video_driving_keeps_frame_count_fps_and_audio_in_one_pass_with_progress(model, landmarker, source_image,
                                                                                    data_dir, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    drv = data_dir / "grid" / "bbaf2n.mpg"
    res = Animator(model, landmarker).animate(source_image, drv, out, AnimateOptions(side_by_side=True),
                                              progress=True)
    info = video_info(out)
    assert res["frames"] == 75 and info["frames"] == 75 and info["fps"] == pytest.approx(25.0)
    assert has_audio(out)
    assert info["width"] == 64 * 3 and info["height"] == 64
    err = capsys.readouterr().err
    assert "track driver" not in err and "animate" in err and "75/75" in err  # one pass: tracked as generated


def test_npy_and_pts_driving_give_one_frame_per_landmark_set(model, landmarker, source_image, tmp_path):
    track = np.load(os.path.join(os.path.dirname(__file__), "..", "motiongan", "assets", "demo_track.npy"))[:12]
    np.save(tmp_path / "track.npy", track)
    (tmp_path / "pts").mkdir()
    for i, p in enumerate(track[:7]):
        write_pts(tmp_path / "pts" / f"{i:04d}.pts", p)
    anim = Animator(model, landmarker)
    a = anim.animate(source_image, tmp_path / "track.npy", tmp_path / "a.mp4", AnimateOptions(fps=10, overlay=True))
    b = anim.animate(source_image, tmp_path / "pts", tmp_path / "b.mp4", AnimateOptions(paste=True))
    assert frames_of(tmp_path / "a.mp4") == a["frames"] == 12 and video_info(tmp_path / "a.mp4")["fps"] == 10
    assert frames_of(tmp_path / "b.mp4") == b["frames"] == 7 and not has_audio(tmp_path / "b.mp4")
    assert video_info(tmp_path / "b.mp4")["width"] >= read_image(source_image).shape[1]  # pasted: full image


def test_retargeting_a_face_onto_itself_changes_nothing(landmarker, source_image):
    source = load_source(source_image, 64, landmarker)
    full = load_source(source_image, 64, landmarker)  # the same face, landmarks in the full image
    pts = apply_affine(full.landmarks, np.linalg.inv(np.vstack([full.matrix, [0, 0, 1]]))[:2].astype(np.float32))
    rng = np.random.default_rng(0)
    track = pts[None] + np.cumsum(rng.normal(0, 0.5, (10, 68, 2)), 0).astype(np.float32)
    track[0] = pts
    got = target_track(source, Driving(track, 25.0), 64)
    np.testing.assert_allclose(got, apply_affine(track, source.matrix), atol=1e-3)


@pytest.mark.slow
def test_memory_stays_flat_over_a_long_video(model, landmarker, source_image):
    source = load_source(source_image, 64, landmarker)
    rng = np.random.default_rng(0)
    track = source.landmarks[None] + rng.normal(0, 0.3, (900, 68, 2)).astype(np.float32)

    def rss_kb():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))

    samples = []
    for i, _ in enumerate(Animator(model, landmarker).frames(source, track)):
        if i in (150, 899):
            samples.append(rss_kb())
    assert samples[1] - samples[0] < 15_000, samples  # 750 more frames, < 15 MB more memory


def test_fast_streaming_matches_the_plain_generator(model, landmarker, source_image):
    source = load_source(source_image, 64, landmarker)
    track = source.landmarks[None] + np.random.default_rng(1).normal(0, 1, (6, 68, 2)).astype(np.float32)
    fast = list(model.generate(source.tensor(), source.landmarks, track, fast=True))
    plain = list(model.generate(source.tensor(), source.landmarks, track, fast=False))
    assert max(float((a - b).abs().max()) for a, b in zip(fast, plain)) < 1e-3


def test_named_expression_and_transfer_move_the_mouth(landmarker, data_dir):
    data = load_expressions()
    assert {"happy", "surprised"} <= set(data["expressions"])
    neutral = landmarker(read_image(data_dir / "expressions" / "yale" / "03_normal.png"))
    surprised = named_expression(neutral, "surprised", data)
    assert (surprised[66, 1] - surprised[62, 1]) > (neutral[66, 1] - neutral[62, 1]) + 1  # mouth opens
    happy = landmarker(read_image(data_dir / "expressions" / "yale" / "05_happy.png"))
    n5 = landmarker(read_image(data_dir / "expressions" / "yale" / "05_normal.png"))
    moved = transfer_expression(neutral, happy, n5)
    smile = lambda p: np.linalg.norm(p[54] - p[48]) / interocular(p)  # noqa: E731
    assert smile(happy) - smile(n5) > 0.05  # person 5 smiles...
    assert smile(moved) - smile(neutral) == pytest.approx(smile(happy) - smile(n5), abs=0.05)  # ...so does 3
    np.testing.assert_allclose(transfer_expression(neutral, n5, n5), neutral, atol=1e-3)


@pytest.mark.parametrize("stable", [STABLE, EXPRESSION_STABLE], ids=["speech", "expressions"])
def test_the_canonical_frame_removes_scale_position_and_roll(stable):
    track = np.load(os.path.join(os.path.dirname(__file__), "..", "motiongan", "assets", "demo_track.npy"))[:5]
    angle, scale, shift = 0.3, 2.5, np.array([40.0, -7.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = (track @ rot.T + shift).astype(np.float32)
    reference = track[0]
    canon = to_canonical(moved, reference, stable)
    assert canon.shape == track.shape
    np.testing.assert_allclose(canon, to_canonical(track, reference, stable), atol=1e-3)
    np.testing.assert_allclose(canon[0], reference, atol=1e-3)  # the reference is its own canonical shape


def test_render_writes_the_frames_of_the_generator_as_an_image_or_a_video(model, landmarker, source_image, tmp_path):
    from motiongan.inference.animate import RenderOptions

    anim = Animator(model, landmarker)
    source = anim.source(source_image)
    targets = source.landmarks[None] + np.random.default_rng(2).normal(0, 1, (4, 68, 2)).astype(np.float32)
    crops = list(anim.frames(source, targets))
    res = anim.render(source, targets[:1], tmp_path / "one.png")
    assert res["frames"] == 1 and np.array_equal(read_image(tmp_path / "one.png"), crops[0])
    panel = lambda i, shown: [np.zeros_like(shown)]  # noqa: E731
    res = anim.render(source_image, targets, tmp_path / "v.mp4", RenderOptions(fps=10, panels=panel))
    info = video_info(tmp_path / "v.mp4")
    assert res["frames"] == info["frames"] == 4 and info["fps"] == 10 and info["width"] == 2 * model.size
    assert not res["audio"]


def test_cli_edit_generates_for_the_expression_landmarks_and_pastes_into_the_source(checkpoint, landmarker,
                                                                                     source_image, data_dir,
                                                                                     tmp_path):
    src = data_dir / "expressions" / "yale" / "03_normal.png"
    assert main(["edit", str(src), "--expression", "happy", "-o", str(tmp_path / "e.png"), "--save-landmarks",
                 "--checkpoint", str(checkpoint)]) == 0
    source = load_source(src, 64, landmarker)
    target = named_expression(source.landmarks, "happy", load_expressions())
    np.testing.assert_allclose(np.load(tmp_path / "e.landmarks.npy"), target, atol=1e-4)  # what G was given
    model = MotionGAN.from_checkpoint(checkpoint)
    expected = next(Animator(model, landmarker).frames(source, target[None]))
    assert np.array_equal(read_image(tmp_path / "e.png"), expected)  # G's frame for those landmarks
    assert main(["edit", str(source_image), "--target", str(data_dir / "expressions" / "yale" / "05_happy.png"),
                 "-o", str(tmp_path / "t.png"), "--checkpoint", str(checkpoint), "--paste"]) == 0
    pasted, image = read_image(tmp_path / "t.png"), read_image(source_image)
    matrix = load_source(source_image, 64, landmarker).matrix
    h, w = image.shape[:2]
    in_crop = apply_affine(np.stack(np.mgrid[:h, :w][::-1], -1).reshape(-1, 2).astype(np.float32), matrix)
    outside = ((in_crop < -1) | (in_crop > 65)).any(-1).reshape(h, w)
    assert pasted.shape == image.shape and outside.mean() > 0.2
    assert np.array_equal(pasted[outside], image[outside])  # the face is pasted in, the rest kept
    assert not np.array_equal(pasted[~outside], image[~outside])


@pytest.mark.parametrize("case", ["no_face", "bad_driving", "bad_track", "missing_ckpt", "pickled_ckpt",
                                  "foreign_ckpt"])
def test_bad_input_fails_clearly_without_an_output_file(case, checkpoint, source_image, data_dir, tmp_path,
                                                        capsys):
    source, driving, ckpt = str(source_image), str(data_dir / "grid" / "bbaf2n.mpg"), str(checkpoint)
    expected = {"no_face": "no face was found", "bad_driving": "cannot be decoded", "bad_track": "(N, 68, 2)",
                "missing_ckpt": "no such checkpoint", "pickled_ckpt": "pickled",
                "foreign_ckpt": "not a MotionGAN checkpoint"}[case]
    if case == "no_face":
        write_image(tmp_path / "wall.png", np.full((120, 120, 3), 200, np.uint8))
        source = str(tmp_path / "wall.png")
    elif case == "bad_driving":
        (tmp_path / "drv.mp4").write_bytes(b"garbage" * 100)
        driving = str(tmp_path / "drv.mp4")
    elif case == "bad_track":
        np.save(tmp_path / "t.npy", np.zeros((5, 67, 2), np.float32))
        driving = str(tmp_path / "t.npy")
    elif case == "missing_ckpt":
        ckpt = str(tmp_path / "nope.safetensors")
    elif case == "pickled_ckpt":
        torch.save({"x": 1}, tmp_path / "p.safetensors")
        ckpt = str(tmp_path / "p.safetensors")
    else:
        from safetensors.torch import save_file

        save_file({"x": torch.zeros(2)}, str(tmp_path / "f.safetensors"))
        ckpt = str(tmp_path / "f.safetensors")
    out = tmp_path / "out.mp4"
    assert main(["animate", source, driving, "-o", str(out), "--checkpoint", ckpt]) == 2
    assert expected in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_video_writer_pads_odd_sizes_and_leaves_nothing_when_interrupted(tmp_path):
    from motiongan.media import VideoWriter

    with VideoWriter(tmp_path / "odd.mp4", 25) as vw:
        for i in range(5):
            vw.write(np.full((47, 63, 3), 40 * i, np.uint8))
    info = video_info(tmp_path / "odd.mp4")
    assert (info["frames"], info["width"], info["height"]) == (5, 64, 48)
    with pytest.raises(KeyboardInterrupt), VideoWriter(tmp_path / "cut.mp4", 25) as vw:
        vw.write(np.zeros((48, 64, 3), np.uint8))
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.mp4"]


def test_demo_animates_the_astronaut_with_the_shipped_track(checkpoint, tmp_path):
    assert main(["demo", "--checkpoint", str(checkpoint), "--out", str(tmp_path)]) == 0
    assert frames_of(tmp_path / "demo.mp4") == 75 and frames_of(tmp_path / "demo_side_by_side.mp4") == 75
    assert read_image(tmp_path / "demo_strip.png").shape[1] > 8 * 64


@pytest.mark.slow
def test_the_shipped_paper_generator_loads_from_its_shards_by_name_and_animates_the_demo(tmp_path):
    shards = sorted(GENERATORS["paper"].glob("generator-*-of-*.safetensors"))
    assert shards and all(f.stat().st_size < 16 * 2**20 for f in shards)
    model = load_generator("paper", "cpu")
    assert model.size == 128 and model.step > 0 and type(model.G).__name__ == "Generator"
    assert main(["demo", "--checkpoint", "paper", "--out", str(tmp_path)]) == 0
    assert frames_of(tmp_path / "demo.mp4") == 75


def test_a_generator_exported_in_fp16_shards_loads_and_generates_like_the_original(checkpoint, tmp_path):
    from motiongan.checkpoint import CheckpointError, save_generator

    model = MotionGAN.from_checkpoint(checkpoint)
    files = save_generator(tmp_path / "g.safetensors", model.G, model.spec.recorded, 3, half=True,
                           shard_mb=0.2)
    assert len(files) >= 2 and all(f.stat().st_size < 0.2 * 2**20 + 20_000 for f in files)  # + headers
    for handle in (files[1], tmp_path):
        again = MotionGAN.from_checkpoint(handle)
        for (k, a), b in zip(model.G.state_dict().items(), again.G.state_dict().values()):
            assert torch.allclose(a, b, atol=2e-3, rtol=1e-3), k
    files[-1].unlink()
    with pytest.raises(CheckpointError, match="shards missing"):
        MotionGAN.from_checkpoint(files[0])


def test_export_command_writes_fp16_shards_that_animate(checkpoint, source_image, tmp_path):
    assert main(["export", str(checkpoint), "-o", str(tmp_path / "exp" / "g.safetensors"), "--half",
                 "--shard-mb", "0.2"]) == 0
    shards = sorted((tmp_path / "exp").glob("g-*-of-*.safetensors"))
    assert len(shards) >= 2
    track = np.load(os.path.join(os.path.dirname(__file__), "..", "motiongan", "assets", "demo_track.npy"))[:3]
    np.save(tmp_path / "t.npy", track)
    assert main(["animate", str(source_image), str(tmp_path / "t.npy"), "-o", str(tmp_path / "o.mp4"),
                 "--checkpoint", str(tmp_path / "exp")]) == 0
    assert frames_of(tmp_path / "o.mp4") == 3


def test_an_export_describes_its_generator_and_exports_written_before_that_still_load(checkpoint, tmp_path):
    import json

    from motiongan.checkpoint import load_tensors, save_tensors

    model = MotionGAN.from_checkpoint(checkpoint)
    (f,) = model.export(tmp_path / "g.safetensors")
    tensors, meta = load_tensors(f)
    assert json.loads(meta["generator"]) == model.G.kwargs
    old = {"kind": "generator", "config": meta["config"], "step": meta["step"]}  # the format before
    save_tensors(tmp_path / "old.safetensors", tensors, old)
    again = MotionGAN.from_checkpoint(tmp_path / "old.safetensors")
    assert all(torch.equal(a, b) for a, b in zip(model.G.state_dict().values(), again.G.state_dict().values()))
    # the recorded arguments, not the configuration, build G: a G narrower than its configuration loads
    from motiongan.networks import Generator

    narrow = Generator(**{**model.G.kwargs, "width": 4})
    (n,) = MotionGAN(narrow, model.spec).export(tmp_path / "narrow.safetensors")
    assert MotionGAN.from_checkpoint(n).G.kwargs["width"] == 4
