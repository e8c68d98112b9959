"""Relay training (issues 14 and 15): wall-clock budgets, starting G from an export behind a discriminator
warm-up, G_ema for the export, exact moments on resume, and the gate's rules."""
import itertools
import json
import os

import pytest
import torch

from motiongan.checkpoint import load_optimizer, load_tensors, optimizer_tensors
from motiongan.config import load_config
from motiongan.data.prepare import Settings, prepare
from motiongan.evaluation.compare import GUARDED, RISING, differences, paired_bootstrap, verdict
from motiongan.evaluation.registry import METRICS
from motiongan.inference import MotionGAN
from motiongan.training.loop import _steps_to_next_vote, _votes, parse_duration, train
from motiongan.training.trainer import Trainer

TINY = ["image_size=64", "width=8", "n_res=2", "d_width=4", "d_res=2", "dv_width=4", "dv_res=2", "batch=1",
        "T=2", "workers=0", "log_every=1", "sample_every=1000", "checkpoint_every=1000", "use_v=false",
        "test_list=null", "test_persons=0"]


@pytest.fixture(scope="module")
def one_clip(tmp_path_factory, data_dir):
    src = tmp_path_factory.mktemp("src")
    os.symlink(data_dir / "grid" / "brbk7n.mpg", src / "brbk7n.mpg")
    out = tmp_path_factory.mktemp("cache")
    prepare(src, "videos", out, Settings(size=64, max_frames=16), workers=1, progress=False)
    return out


def _g(path):
    tensors, _ = load_tensors(path)
    return {k: v for k, v in tensors.items()}


def test_durations_parse_in_seconds():
    assert [parse_duration(t) for t in ("540s", "9m", "90", "1h30m", "1.5m")] == [540, 540, 90, 5400, 90]
    with pytest.raises(ValueError, match="duration"):
        parse_duration("soon")


@pytest.mark.slow
def test_time_budget_decided_at_logging_steps_stops_in_time_with_a_loadable_checkpoint_and_export(one_clip, tmp_path):
    cfg = load_config("small", TINY + ["log_every=4"])
    run = tmp_path / "run"
    ticks = itertools.count()  # a clock the test drives: two seconds per reading, whatever the machine
    train(cfg, one_clip, run, steps=100000, progress=False, time_budget=30.0, now=lambda: 2.0 * next(ticks))
    end = json.loads((run / "stats.jsonl").read_text().splitlines()[-1])
    assert end["event"] == "end" and 2 < end["step"] < 100000 and end["step"] % 4 == 0
    assert end["time_budget_s"] == 30.0 and end["elapsed_s"] <= 30.0
    Trainer(cfg).load_state_dict(load_tensors(run / f"checkpoint-{end['step']:08d}.safetensors")[0])
    assert MotionGAN.from_checkpoint(run / "generator.safetensors").step == end["step"]


def test_ranks_vote_on_the_budget_after_the_first_two_steps_and_at_logging_steps_only():
    votes = [s for s in range(101, 160) if _votes(s - 100, s, 25)]
    assert votes == [101, 102, 125, 150]
    assert [_steps_to_next_vote(s - 100, s, 25) for s in votes] == [1, 23, 25, 25]


@pytest.mark.slow
def test_init_generator_stays_frozen_during_the_discriminator_warmup(one_clip, tmp_path):
    cfg = load_config("small", TINY)
    train(cfg, one_clip, tmp_path / "a", steps=2, progress=False)
    export = tmp_path / "a" / "generator.safetensors"
    start = _g(export)
    warm = load_config("small", TINY + ["d_warmup=2", "seed=1"])
    trainer = train(warm, one_clip, tmp_path / "b", steps=2, progress=False, init_generator=export)
    after = trainer.nets["G"].state_dict()
    assert all(torch.equal(after[k], v.float()) for k, v in start.items())  # G untouched, Df/Dv trained
    ckpt = _g(tmp_path / "b" / "checkpoint-00000002.safetensors")
    fresh = load_config("small", TINY + ["d_warmup=2", "seed=1"])
    untrained = train(fresh, one_clip, tmp_path / "c", steps=0, progress=False)
    assert not all(torch.equal(ckpt[f"Df.{k}"], v) for k, v in untrained.nets["Df"].state_dict().items())
    trainer = train(load_config("small", TINY + ["d_warmup=1", "seed=1"]), one_clip, tmp_path / "d", steps=2,
                    progress=False, init_generator=export)
    assert not all(torch.equal(trainer.nets["G"].state_dict()[k], v.float()) for k, v in start.items())


def test_init_generator_refuses_a_generator_of_another_shape(one_clip, tmp_path):
    from motiongan.checkpoint import CheckpointError

    train(load_config("small", TINY), one_clip, tmp_path / "a", steps=1, progress=False)
    with pytest.raises(CheckpointError, match="differs"):
        train(load_config("small", TINY + ["width=16"]), one_clip, tmp_path / "b", steps=1, progress=False,
              init_generator=tmp_path / "a" / "generator.safetensors")


def test_init_generator_takes_a_warp_generator_that_paints_elsewhere_but_has_the_same_weights(one_clip, tmp_path):
    # a round trained without the stretch gate and skip starts the next round, which has them
    train(load_config("warp_cpu", TINY + ["stretch_low=null", "stretch_high=null", "paint_skip=false"]), one_clip,
          tmp_path / "a", steps=1, progress=False)
    export = tmp_path / "a" / "generator.safetensors"
    trainer = train(load_config("warp_cpu", TINY), one_clip, tmp_path / "b", steps=0, progress=False,
                    init_generator=export)
    G = trainer.nets["G"]
    assert G.stretch == (1.5, 3.0) and G.skip
    exported = _g(export)
    assert all(torch.equal(v, exported[k]) for k, v in G.state_dict().items())


def test_the_export_is_g_ema_which_trails_g(one_clip, tmp_path):
    cfg = load_config("small", TINY + ["ema_kimg=0.01"])
    trainer = train(cfg, one_clip, tmp_path / "r", steps=4, progress=False)
    exported = _g(tmp_path / "r" / "generator.safetensors")
    ema, g = trainer.G_ema.state_dict(), trainer.nets["G"].state_dict()
    assert all(torch.equal(exported[k], ema[k]) for k in ema)
    assert not all(torch.equal(ema[k], g[k]) for k in ema)
    from motiongan.training.trainer import Trainer

    resumed = Trainer(cfg)
    resumed.load_state_dict(load_tensors(tmp_path / "r" / "checkpoint-00000004.safetensors")[0])
    assert all(torch.equal(resumed.G_ema.state_dict()[k], ema[k]) for k in ema)


def test_resumed_adam_moments_keep_each_parameters_memory_layout():
    conv = torch.nn.Conv2d(3, 8, 3).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(conv.parameters())
    conv(torch.randn(2, 3, 8, 8)).sum().backward()
    opt.step()
    saved = {k: v.contiguous() for k, v in optimizer_tensors("opt", opt).items()}  # as safetensors stores them
    again = torch.optim.Adam(conv.parameters())
    load_optimizer("opt", again, saved)
    for p in conv.parameters():
        assert again.state[p]["exp_avg"].stride() == p.stride()
        assert torch.equal(again.state[p]["exp_avg"], opt.state[p]["exp_avg"])


def _clip(errors, same, psnr, mouth=(25.0, 26.0), opened=(False, True)):
    return {"landmark_error": errors, "same_person": same, "psnr": psnr, "mouth_psnr": list(mouth),
            "open_mouth": list(opened)}


def test_paired_bootstrap_over_clips_reads_the_registered_metric_and_has_no_noise_between_equal_rows():
    old = [_clip([0.09, 0.08], [False, True], [20.0, 21.0]) for _ in range(6)]
    same = paired_bootstrap(old, old, "AUC@0.1")
    assert same["diff"] == 0 and same["noise"] == 0
    better = [_clip([0.03, 0.02], [True, True], [20.0, 21.0], mouth=(25.0, 30.0)) for _ in range(6)]
    d = paired_bootstrap(better, old, "same person (dlib) %")
    assert (d["new"], d["old"], d["diff"]) == (100.0, 50.0, 50.0)
    assert paired_bootstrap(better, old, "open-mouth PSNR")["diff"] == 4.0  # only the open frame counts
    with pytest.raises(KeyError, match="no metric 'same person %'"):
        paired_bootstrap(better, old, "same person %")
    closed = [_clip([0.03, 0.02], [True, True], [20.0, 21.0], opened=(False, False)) for _ in range(6)]
    assert paired_bootstrap(closed, old, "open-mouth PSNR") == {"new": None, "old": 26.0, "diff": None,
                                                                 "noise": None}


def _d(diff, noise=0.5):
    return {"new": None, "old": None, "diff": diff, "noise": noise}


def _diffs(**changes):
    """Differences of every registered metric: 0 +- 0.5, except ``changes`` (metric name -> diff)."""
    names = {"psnr": "PSNR", "auc": "AUC@0.1", "same": "same person (dlib) %", "mouth": "open-mouth PSNR"}
    out = {name: _d(0.0) for name in METRICS}
    out.update({names[k]: _d(v) for k, v in changes.items()})
    return out


def test_gate_is_better_only_without_drops_against_old_and_warp_and_with_a_wider_mouth_than_the_warp():
    assert set(GUARDED) == {"PSNR", "AUC@0.1", "same person (dlib) %"} and set(GUARDED) <= set(METRICS)
    assert set(RISING) <= set(METRICS)
    assert verdict(_diffs(auc=2.0), _diffs(mouth=1.0)) == (True, [])
    assert verdict(_diffs(mouth=1.0, psnr=-0.4), _diffs(mouth=1.0, auc=-0.3)) == (True, [])  # drops within noise
    ok, reasons = verdict(_diffs(auc=2.0, psnr=-0.6), _diffs(mouth=1.0))
    assert not ok and reasons == ["against OLD: PSNR -0.60 (noise 0.50): drops beyond noise"]
    ok, reasons = verdict(_diffs(auc=2.0), _diffs(mouth=1.0, same=-3.0))
    assert not ok and reasons == ["against the landmark warp: same person (dlib) % -3.00 (noise 0.50): drops "
                                  "beyond noise"]
    ok, reasons = verdict(_diffs(auc=2.0), _diffs(mouth=0.4))
    assert not ok and reasons == ["against the landmark warp: open-mouth PSNR +0.40 (noise 0.50): does not rise "
                                  "beyond noise"]
    ok, reasons = verdict(_diffs(psnr=0.3), _diffs(mouth=1.0))
    assert not ok and "none of AUC@0.1, same person (dlib) %, PSNR, open-mouth PSNR rises" in reasons[0]
    assert verdict(_diffs(mouth=0.6), _diffs(mouth=1.0))[0]  # a wider open mouth than OLD's is a rise too
    no_mouth = _diffs(auc=2.0)
    no_mouth["open-mouth PSNR"] = _d(None, None)
    ok, reasons = verdict(no_mouth, no_mouth)
    assert not ok and "open-mouth PSNR cannot be measured (no frames)" in reasons[0]


def test_when_old_is_the_warp_the_gate_makes_one_comparison_with_both_sets_of_rules():
    vs_warp = _diffs(auc=2.0, mouth=1.0)
    assert verdict(vs_warp, vs_warp) == (True, [])
    ok, reasons = verdict(_diffs(auc=2.0, psnr=-1.0), _diffs(auc=2.0, psnr=-1.0))  # equal, not the same object
    assert len(reasons) == 3  # both drops and the mouth, against OLD and against the warp
    drop = _diffs(auc=2.0, mouth=1.0, psnr=-1.0)
    ok, reasons = verdict(drop, drop)
    assert not ok and reasons == ["against OLD (the landmark warp): PSNR -1.00 (noise 0.50): drops beyond noise"]


def test_differences_cover_every_registered_metric_with_the_same_clips_resampled():
    old = [_clip([0.09, 0.08], [False, True], [20.0, 21.0]) for _ in range(4)]
    new = [_clip([0.03, 0.02], [True, True], [20.5, 21.5], mouth=(25.0, 27.0)) for _ in range(4)]
    d = differences(new, old, n=50)
    assert set(d) == set(METRICS)
    assert d["PSNR"]["diff"] == pytest.approx(0.5) and d["SSIM"]["diff"] is None  # SSIM was not scored here
