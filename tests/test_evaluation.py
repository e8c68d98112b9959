import json
import os

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from motiongan.checkpoint import CheckpointError, save_generator
from motiongan.config import load_config
from motiongan.data.cache import CacheError
from motiongan.data.prepare import Settings, prepare
from motiongan.evaluation import metrics as M
from motiongan.evaluation.evaluate import EvaluateOptions, evaluate
from motiongan.networks import Generator

TINY = ["image_size=64", "width=8", "n_res=2"]


def test_psnr_of_identical_frames_is_infinite_and_of_known_noise_is_expected():
    rng = np.random.default_rng(0)
    a = rng.integers(20, 236, (64, 64, 3)).astype(np.uint8)
    assert M.psnr(a, a) == float("inf")
    b = (a.astype(np.int16) + rng.choice([-5, 5], a.shape)).astype(np.uint8)  # every pixel off by 5
    assert M.psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 25), abs=1e-9)


def test_ssim_equals_scikit_image_on_the_same_inputs():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (48, 40, 3)).astype(np.uint8)
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    ref = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=255, channel_axis=-1)
    assert M.ssim(a, b) == pytest.approx(ref, abs=1e-9)
    assert M.ssim(a, a) == pytest.approx(1.0)


def test_auc_and_failure_rate_of_a_hand_made_error_list():
    errors = np.array([0.0, 0.0, 0.05, 0.2])  # half the frames perfect, one at 0.05, one failed
    # CED: 50% on [0, 0.05), 75% on [0.05, 0.1] -> area = 0.05 * 50 + 0.05 * 75 = 6.25 (%)
    assert M.auc(errors, 0.1) == pytest.approx(62.5, abs=0.1)
    assert M.failure_rate(errors, 0.1) == 25.0
    assert M.failure_rate(errors, 0.04) == 50.0
    assert M.auc(np.zeros(10)) == pytest.approx(100.0)
    assert M.auc(np.full(10, 0.5)) == 0.0


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory, data_dir):
    src = tmp_path_factory.mktemp("src")
    for n in ("bbaf2n", "lbax4n"):
        os.symlink(data_dir / "grid" / f"{n}.mpg", src / f"{n}.mpg")
    out = tmp_path_factory.mktemp("cache")
    prepare(src, "videos", out, Settings(size=64, max_frames=8), workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    cfg = load_config("small", TINY)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "generator.safetensors"
    save_generator(path, Generator(**cfg.generator_kwargs()), cfg.to_json(), 0)
    return path


def test_evaluate_writes_videos_landmarks_metrics_tables_and_the_ced_plot(small_cache, untrained, tmp_path):
    out = tmp_path / "eval"
    res = evaluate([str(untrained)], str(small_cache), str(out), EvaluateOptions(split="all"), progress=False)
    rows = res["table"]
    assert list(rows)[:2] == ["real video", "copy source"] and len(rows) == 3
    for clip in ("src0-bbaf2n", "src0-lbax4n"):
        folder = next(out.glob(f"*/{clip}"))
        for f in ("generated.mp4", "real.mp4", "side_by_side.mp4", "target_landmarks.npy", "metrics.json"):
            assert (folder / f).stat().st_size > 0, f
        assert np.load(folder / "target_landmarks.npy").shape == (8, 68, 2)
        per = json.loads((folder / "metrics.json").read_text())["per_frame"]
        assert len(per["psnr"]) == 8
    for f in ("table.md", "table.csv", "table.json", "ced.png"):
        assert (out / f).stat().st_size > 0
    real, copy = rows["real video"], rows["copy source"]
    assert real["PSNR"] is None and copy["PSNR"] > 20 and copy["ID cos (V)"] > 0.9
    model = [r for k, r in rows.items() if k not in ("real video", "copy source")][0]
    assert model["AUC@0.1"] < real["AUC@0.1"]  # an untrained generator draws no face


def test_a_checkpoint_that_does_not_fit_its_configuration_gives_no_table(small_cache, untrained, tmp_path):
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(untrained))
    meta = {"kind": "generator", "config": load_config("small", ["image_size=64"]).to_json(), "step": "0"}
    save_file(tensors, str(tmp_path / "other.safetensors"), metadata=meta)  # width 16 config, width 8 weights
    with pytest.raises(CheckpointError, match="do not fit its configuration"):
        evaluate([str(untrained), str(tmp_path / "other.safetensors")], str(small_cache), str(tmp_path / "e"),
                 EvaluateOptions(split="all"), progress=False)
    assert not (tmp_path / "e").exists()


def test_a_cache_without_the_requested_split_gives_no_table(small_cache, untrained, tmp_path):
    with pytest.raises(CacheError, match="'test' split has no clips"):
        evaluate([str(untrained)], str(small_cache), str(tmp_path / "e"),
                 EvaluateOptions(split="test", test_list="none", test_persons=0), progress=False)
    assert not (tmp_path / "e").exists()


def test_a_checkpoint_at_another_resolution_is_refused(small_cache, tmp_path):
    cfg = load_config("small", ["image_size=32", "width=8", "n_res=2"])
    path = tmp_path / "g32.safetensors"
    save_generator(path, Generator(**cfg.generator_kwargs()), cfg.to_json(), 0)
    with pytest.raises(CheckpointError, match="generates 32 x 32 frames"):
        evaluate([str(path)], str(small_cache), str(tmp_path / "e"), EvaluateOptions(split="all"), progress=False)
