import csv
import json
import os

import cv2
import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from motiongan.checkpoint import CheckpointError, save_generator
from motiongan.config import load_config
from motiongan.convention import to_image
from motiongan.data import Cache, EvalClips
from motiongan.data.cache import CacheError
from motiongan.data.prepare import Settings, prepare
from motiongan.evaluation import metrics as M
from motiongan.evaluation import registry as R
from motiongan.evaluation.compare import CompareOptions, compare, differences
from motiongan.evaluation.evaluate import COLUMNS, EvaluateOptions, evaluate
from motiongan.evaluation.scoring import Scorer, image_scores
from motiongan.inference import MotionGAN
from motiongan.landmarks import grown_box, mouth_box, open_mouth
from motiongan.networks import Generator, build_generator

TINY = ["image_size=64", "width=8", "n_res=2"]


@pytest.fixture(autouse=True)
def _scores_kept_apart(tmp_path_factory, monkeypatch):
    """The score cache's default folder is this test session's, never the user's."""
    monkeypatch.setenv("MOTIONGAN_CACHE", str(tmp_path_factory.getbasetemp() / "motiongan-cache"))


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


@pytest.fixture(scope="module")
def evaluated(small_cache, untrained, tmp_path_factory):
    """An evaluation of the untrained generator (videos written, no score cache) and its folder."""
    out = tmp_path_factory.mktemp("eval") / "eval"
    res = evaluate([str(untrained)], str(small_cache), str(out), EvaluateOptions(split="all", score_cache="none",
                                                                              workers=0), progress=False)
    return res, out


def _real_clip(cache, i=0):
    clip = EvalClips(Cache(cache), "all")[i]
    return clip, np.stack([to_image(f) for f in clip["frames"]]), clip["landmarks"].numpy()


@pytest.mark.slow
def test_evaluate_writes_videos_landmarks_metrics_tables_and_the_ced_plot(evaluated):
    res, out = evaluated
    rows = res["table"]
    assert list(rows)[:3] == ["real video", "copy source", "landmark warp"] and len(rows) == 4
    for clip in ("src0-bbaf2n", "src0-lbax4n"):
        for row in ("landmark warp", res["names"][0]):
            folder = out / row / clip
            for f in ("generated.mp4", "real.mp4", "side_by_side.mp4", "target_landmarks.npy", "metrics.json"):
                assert (folder / f).stat().st_size > 0, f
            assert np.load(folder / "target_landmarks.npy").shape == (8, 68, 2)
            per = json.loads((folder / "metrics.json").read_text())["per_frame"]
            assert len(per["psnr"]) == len(per["mouth_psnr"]) == len(per["open_mouth"]) == 8
    for f in ("table.md", "table.csv", "table.json", "ced.png"):
        assert (out / f).stat().st_size > 0
    real, copy = rows["real video"], rows["copy source"]
    assert real["PSNR"] is None and copy["PSNR"] > 20 and copy["ID cos (V)"] > 0.9
    model = rows[res["names"][0]]
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


def test_a_warp_generator_checkpoint_gets_its_own_row_not_the_landmark_warps(small_cache, tmp_path):
    """A warp generator is a LandmarkWarp subclass; evaluate must score its own frames in its own row."""
    cfg = load_config("warp_cpu", TINY)
    path = tmp_path / "painter.safetensors"
    torch.manual_seed(0)
    save_generator(path, build_generator(cfg.generator_kwargs()), cfg.to_json(), 0)
    res = evaluate([str(path)], str(small_cache), str(tmp_path / "e"),
                   EvaluateOptions(split="all", max_frames=2, score_cache="none", videos=False, workers=0),
                   progress=False)
    assert res["names"] == ["painter"] and list(res["table"]) == ["real video", "copy source", "landmark warp",
                                                                  "painter"]


def test_compare_with_own_mouths_gives_new_old_and_the_warp_the_same_donors(small_cache, tmp_path):
    cfg = load_config("warp_cpu", TINY)
    path = tmp_path / "painter.safetensors"
    save_generator(path, build_generator(cfg.generator_kwargs()), cfg.to_json(), 0)
    o = CompareOptions(max_frames=2, score_cache="none", workers=0, mouths="own", test_list="none", test_persons=1)
    report = compare(str(path), "warp", str(small_cache), str(tmp_path / "c"), o, progress=False)
    assert report["rows"] == {"new": "painter + own mouths", "old": "landmark warp + own mouths"}
    assert list(report["comparisons"]) == ["OLD"]  # OLD is the warp: one comparison


@pytest.mark.slow
def test_the_landmark_warp_row_scores_the_warps_own_frames_and_checkpoint_warp_is_that_row(small_cache, tmp_path):
    res = evaluate(["warp"], str(small_cache), str(tmp_path / "e"),  # dlib in 2 worker processes
                   EvaluateOptions(split="all", score_cache="none", videos=False, workers=2), progress=False)
    assert list(res["table"]) == ["real video", "copy source", "landmark warp"]  # not a second warp row
    assert res["names"] == ["landmark warp"]
    clip, real, lms = _real_clip(small_cache)
    warped = np.stack([to_image(f) for f in MotionGAN.landmark_warp(size=64).generate(clip["frames"][0], lms[0], lms)])
    scorer = Scorer()
    alone, row = scorer.score(warped, real, lms, *scorer.references(real, lms)), res["rows"]["landmark warp"][0]
    assert set(alone) == set(row)
    for k in alone:  # V's embeddings in another batch differ by float rounding only
        assert alone[k] == pytest.approx(row[k], rel=1e-5, abs=1e-6), k
    assert not (tmp_path / "e" / "landmark warp" / clip["clip_id"] / "generated.mp4").exists()  # --no-videos
    assert (tmp_path / "e" / "landmark warp" / clip["clip_id"] / "metrics.json").exists()


def test_the_mouth_box_grows_the_lips_bounding_box_by_a_quarter_and_is_clipped_to_the_frame():
    rows, cols = grown_box(np.array([[10.0, 20.0], [30.0, 28.0]]), 0.25, (64, 64, 3))
    assert (rows, cols) == (slice(18, 31), slice(5, 36))  # 20 x 8 box: 5 px more on each side, 2 px
    rows, cols = grown_box(np.array([[2.0, 50.0], [30.0, 62.0]]), 0.25, (64, 64, 3))
    assert (rows, cols) == (slice(47, 64), slice(0, 38))


def test_mouth_scores_see_only_the_mouth_box_and_frames_equal_to_the_real_one_are_left_out(small_cache):
    _, real, lms = _real_clip(small_cache)
    f, t = real[:1], lms[:1]
    same = image_scores(f, f, t)
    assert same["mouth_psnr"] == [float("inf")] and same["mouth_ssim"][0] == pytest.approx(1.0)
    assert R.MOUTH_PSNR([same]) == (None, 0)  # an infinite PSNR is left out, and the table says so
    box = mouth_box(t[0], f[0].shape)
    outside = f.copy()
    keep = np.zeros(f[0].shape[:2], bool)
    keep[box] = True
    outside[0][~keep] = 255 - outside[0][~keep]
    changed = image_scores(outside, f, t)
    assert changed["psnr"][0] < 15 and changed["ssim"][0] < 0.5
    assert changed["mouth_psnr"] == [float("inf")] and changed["mouth_ssim"][0] == pytest.approx(1.0)
    inside = f.astype(np.int16)
    inside[0][box] += np.random.default_rng(0).choice(np.array([-5, 5], np.int16), inside[0][box].shape)
    noisy = image_scores(np.clip(inside, 0, 255).astype(np.uint8), f, t)
    clipped = (inside[0][box] < 0).any() or (inside[0][box] > 255).any()
    if not clipped:
        assert noisy["mouth_psnr"][0] == pytest.approx(10 * np.log10(255**2 / 25), abs=1e-9)
    assert noisy["psnr"][0] > noisy["mouth_psnr"][0] and noisy["mouth_ssim"][0] < 1


def _mouth(gap: float) -> np.ndarray:
    """68 points with the outer eye corners 100 px apart and the inner lips ``gap`` px apart."""
    p = np.zeros((68, 2), np.float32)
    p[45] = (100, 0)
    for a, b in ((61, 67), (62, 66), (63, 65)):
        p[a], p[b] = (a, 50), (a, 50 + gap)
    return p


def test_open_mouth_frames_open_wider_than_the_source_by_more_than_five_hundredths_of_the_eye_distance():
    lms = np.stack([_mouth(g) for g in (2, 4, 6.5, 7.5, 12, 1)])
    assert open_mouth(lms, lms[0]).tolist() == [False, False, False, True, True, False]
    assert open_mouth(lms, _mouth(0)).tolist() == [False, False, True, True, True, False]
    scores = {"mouth_psnr": [30.0, 31.0, 32.0, 20.0, 22.0, 33.0], "open_mouth": open_mouth(lms, lms[0]).tolist(),
              "landmark_error": [0.0] * 6}
    assert R.OPEN_MOUTH_PSNR([scores]) == (21.0, 2)
    assert R.summarise([scores])["open-mouth frames"] == 2 and R.summarise([scores])["frames"] == 6


def test_sharpness_of_a_blurred_frame_is_below_one_and_of_the_real_frame_one(small_cache):
    _, real, lms = _real_clip(small_cache)
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 1.5) for f in real])
    assert image_scores(real, real, lms)["sharpness"] == pytest.approx([1.0] * len(real))
    assert max(image_scores(blurred, real, lms)["sharpness"]) < 0.5
    assert np.isnan(M.sharpness(real[0], np.full_like(real[0], 128)))  # a flat real frame: no ratio


@pytest.mark.slow
def test_one_registry_names_the_columns_the_per_clip_metrics_and_the_differences(evaluated):
    res, out = evaluated
    assert COLUMNS == [*R.METRICS, *R.COUNTS] and "same person (dlib) %" in R.METRICS
    with open(out / "table.csv") as f:
        assert next(csv.reader(f)) == ["row", *COLUMNS]
    assert (out / "table.md").read_text().splitlines()[0] == "| row | " + " | ".join(COLUMNS) + " |"
    table = json.loads((out / "table.json").read_text())["rows"]
    model = res["names"][0]
    for row in table.values():
        assert set(COLUMNS) <= set(row) and set(row["covers"]) == set(R.METRICS)
    clip = json.loads((out / model / "src0-bbaf2n" / "metrics.json").read_text())
    assert set(COLUMNS) <= set(clip)
    scored = res["rows"][model][0]
    assert {m.series for m in R.METRICS.values()} | {m.where for m in R.METRICS.values() if m.where} <= set(scored)
    assert set(differences(res["rows"][model], res["rows"]["landmark warp"], n=5)) == set(R.METRICS)
    extra = R.register(R.Metric("frames with error", "landmark_error", len, digits=0))
    try:  # a metric registered once shows in the table and in compare's differences
        assert R.summarise(res["rows"][model])["frames with error"] == 16
        assert "frames with error" in differences(res["rows"][model], res["rows"]["copy source"], n=5)
    finally:
        del R.METRICS[extra.name]


@pytest.mark.slow
def test_cached_reference_scores_equal_fresh_ones_and_another_max_frames_is_a_miss(small_cache, tmp_path):
    def run(max_frames, name):
        o = EvaluateOptions(split="all", max_frames=max_frames, score_cache=str(tmp_path / "scores"), videos=False,
                            workers=0)
        return evaluate(["warp"], str(small_cache), str(tmp_path / name), o, progress=False)

    cold, warm = run(6, "cold"), run(6, "warm")
    assert (cold["meta"]["cached_clips"], cold["meta"]["scored_clips"]) == (0, 6)  # 2 clips x 3 rows
    assert (warm["meta"]["cached_clips"], warm["meta"]["scored_clips"]) == (6, 0)
    assert json.dumps(warm["rows"]) == json.dumps(cold["rows"])
    assert json.dumps(warm["table"]) == json.dumps(cold["table"])
    other = run(5, "other")
    assert other["meta"]["cached_clips"] == 0 and other["meta"]["frames"] == 10


@pytest.mark.slow
def test_compare_against_the_warp_writes_one_comparison_and_refuses_an_untrained_generator(small_cache, untrained,
                                                                                          tmp_path):
    people = tmp_path / "people.txt"
    people.write_text("src0/bbaf2n\nsrc0/lbax4n\n")
    opts = CompareOptions(max_frames=6, test_list=str(people), score_cache=str(tmp_path / "scores"))
    report = compare(str(untrained), "warp", str(small_cache), str(tmp_path / "c"), opts, progress=False)
    assert report["rows"]["old"] == "landmark warp" and list(report["comparisons"]) == ["OLD"]
    assert not report["better"] and report["reasons"]
    assert set(report["comparisons"]["OLD"]) == set(R.METRICS)
    for d in report["differences"].values():  # what the command line prints
        assert all(isinstance(d[k], float) for k in ("new", "old", "diff", "noise"))
    saved = json.loads((tmp_path / "c" / "verdict.json").read_text())
    assert saved["better"] is False and saved["reasons"] == report["reasons"]
    assert not list((tmp_path / "c").glob("*/*/generated.mp4"))  # no videos unless asked


def test_filter_targets_drives_the_generator_rows_with_filtered_landmarks_under_their_own_cache_identity(small_cache):
    from motiongan.evaluation.evaluate import WARP_ROW, _rows
    from motiongan.filtering import filter_track

    plain, _ = _rows([], Cache(small_cache), "cpu")
    filtered, _ = _rows([], Cache(small_cache), "cpu", filter_targets=True)
    warp, warp_filtered = plain[-1], filtered[-1]
    assert warp.name == warp_filtered.name == WARP_ROW and warp.identity != warp_filtered.identity
    assert [r.identity for r in plain[:2]] == [r.identity for r in filtered[:2]]  # real video, copy source
    clip, real, lms = _real_clip(small_cache)
    lms = lms + np.random.default_rng(0).normal(0, 0.5, lms.shape).astype(np.float32)  # jittered targets
    expected = [to_image(f) for f in warp.model.generate(clip["frames"][0], lms[0], filter_track(lms))]
    assert np.array_equal(warp_filtered.frames(clip, real, lms), np.stack(expected))
    assert not np.array_equal(warp.frames(clip, real, lms), np.stack(expected))


def test_evaluate_mesh_adds_a_mesh_warp_row_on_the_same_frames_and_a_face_psnr_column(small_cache, tmp_path):
    pytest.importorskip("ai_edge_litert", reason="the mesh extra (ai-edge-litert) is not installed")
    from motiongan.evaluation.evaluate import FACE_PSNR, MESH_ROW, WARP_ROW, face_psnr, mesh_frames
    from motiongan.face.mesh import MeshLandmarker

    res = evaluate(["warp"], str(small_cache), str(tmp_path / "e"),
                   EvaluateOptions(split="all", max_frames=4, mesh=True, score_cache="none", videos=False, workers=0),
                   progress=False)
    table, rows = res["table"], res["rows"]
    assert list(table) == ["real video", "copy source", WARP_ROW, MESH_ROW]
    assert {r["frames"] for r in table.values()} == {8}  # 2 clips x 4 frames in every row
    assert [len(p["psnr"]) for p in rows[MESH_ROW]] == [len(p["psnr"]) for p in rows[WARP_ROW]] == [4, 4]
    assert res["meta"]["mesh"] and res["meta"]["mesh_fallback_frames"] < 8  # the mesh was found on most frames
    assert table["real video"][FACE_PSNR.name] is None
    for name in (WARP_ROW, MESH_ROW, "copy source"):
        assert np.isfinite(table[name][FACE_PSNR.name]), name
    assert FACE_PSNR.name in (tmp_path / "e" / "table.md").read_text().splitlines()[0]
    with open(tmp_path / "e" / "table.csv") as f:
        assert next(csv.reader(f)) == ["row", *COLUMNS, FACE_PSNR.name]
    # the mesh row's pixels are the mesh warp's, not the landmark warp's: same frames, other pixels
    clip, real, lms = _real_clip(small_cache)
    real, lms = real[:4], lms[:4]
    meshed, lost = mesh_frames(real, lms, MeshLandmarker())
    warped = np.stack([to_image(f) for f in MotionGAN.landmark_warp(size=64).generate(clip["frames"][0], lms[0], lms)])
    assert lost < 4 and meshed.shape == warped.shape and not np.array_equal(meshed[1:], warped[1:])
    assert rows[MESH_ROW][0]["psnr"][1:] != rows[WARP_ROW][0]["psnr"][1:]
    assert rows[MESH_ROW][0]["face_psnr"] == pytest.approx(face_psnr(meshed, real, lms))


def test_with_own_mouths_the_mesh_row_has_a_twin_filled_from_the_same_donors(one_clip, tmp_path):
    pytest.importorskip("ai_edge_litert", reason="the mesh extra (ai-edge-litert) is not installed")
    from motiongan.evaluation.evaluate import MESH_ROW, _images, _rows, own_bank
    from motiongan.mouths import RealMouths

    res = evaluate(["warp"], str(one_clip), str(tmp_path / "e"),
                   EvaluateOptions(split="all", max_frames=6, mesh=True, mouths="own", score_cache="none",
                                   videos=False, workers=0, test_list="none"), progress=False)
    assert list(res["table"])[-2:] == [MESH_ROW, MESH_ROW + " + own mouths"]
    assert {r["frames"] for r in res["table"].values()} == {6}
    # the twin's frames: the mesh row's, filled by RealMouths from the clip's frames after the scored window
    rows, _ = _rows([], Cache(one_clip), "cpu", own_mouths=True, mesh=True)
    plain_row, twin = rows[-2:]
    assert twin.name == MESH_ROW + " + own mouths" and twin.identity != plain_row.identity
    clips = EvalClips(Cache(one_clip), "all", max_frames=40, people=None)
    clip = clips[0]
    real, lms, bank = _images(clip["frames"]), clip["landmarks"].numpy(), own_bank(clips, 0)
    plain = plain_row.frames(clip, real, lms)
    filled = twin.frames(clip, real, lms, bank, plain)
    fill = RealMouths(real[0], lms[0], bank)
    assert np.array_equal(filled, np.stack([fill(f, t) for f, t in zip(plain, lms)]))
    assert not np.array_equal(filled[open_mouth(lms, lms[0])], plain[open_mouth(lms, lms[0])])
