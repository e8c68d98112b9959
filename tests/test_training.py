import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import TINY

from motiongan.checkpoint import CheckpointError, load_tensors
from motiongan.config import available, load_config
from motiongan.convention import to_image
from motiongan.data import Cache, EvalClips
from motiongan.evaluation.metrics import psnr
from motiongan.training import trainer as trainer_module
from motiongan.training.loop import train
from motiongan.training.trainer import Trainer

EXTRA = ["log_every=1", "sample_every=2", "checkpoint_every=2"]


@pytest.mark.slow
def test_small_config_overfits_one_clip_3_db_above_copying_the_source(one_clip, tmp_path):
    # the small configuration with the image loss only (the img_only ablation), to learn within ~90 s
    cfg = load_config("small", ["use_df=false", "use_dv=false", "use_v=false", "test_persons=0",
                                "mirror=false", "sample_every=1000", "checkpoint_every=1000"])
    trainer = train(cfg, one_clip, tmp_path / "run", steps=300, progress=False)
    clip = EvalClips(Cache(one_clip), "all", size=64)[0]
    frames, lms = clip["frames"], clip["landmarks"]
    with torch.no_grad():
        out, _ = trainer.nets["G"](frames[:1], trainer.encoder(lms[:1]), trainer.encoder(lms)[None])
    generated = np.mean([psnr(to_image(out[0, t]), to_image(frames[t])) for t in range(1, len(frames))])
    copy = np.mean([psnr(to_image(frames[0]), to_image(frames[t])) for t in range(1, len(frames))])
    print(f"overfit PSNR: generated {generated:.2f} dB, copy source {copy:.2f} dB")  # pytest -s shows it
    assert generated > copy + 3.0, (generated, copy)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["paper", "img_only", "no_v", "no_df", "no_dv", "stargan", "small", "warp",
                                  "warp_cpu"])
def test_every_configuration_trains_a_few_steps(name, one_clip, tmp_path):
    cfg = load_config(name, TINY + EXTRA + ["test_persons=0", "n_critic=1"])
    run = tmp_path / name
    train(cfg, one_clip, run, steps=2, progress=False)
    lines = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    stats = [r for r in lines if "event" not in r]
    assert len(stats) == 2 and all(np.isfinite(v) for v in stats[-1].values() if isinstance(v, float))
    assert lines[-1]["event"] == "end" and lines[-1]["steps_this_run"] == 2
    assert (run / "checkpoint-00000002.safetensors").exists() and (run / "samples" / "00000002.png").exists()
    assert list((run / "tensorboard").iterdir())


def test_configurations_switch_the_parts_of_the_objective():
    assert set(available()) >= {"paper", "img_only", "no_v", "no_df", "no_dv", "stargan", "small"}
    p = load_config("paper")
    w = p.loss
    assert (w.use_df, w.use_dv, w.use_v, w.lambda_adv, w.lambda_lms, w.lambda_id, w.lambda_dv_lms) == \
        (True, True, True, 0.01, 10.0, 0.1, 100.0)
    assert (p.optimiser.lr, p.optimiser.beta1, p.optimiser.beta2, p.data.T, p.model.image_size) == \
        (1e-4, 0.9, 0.999, 4, 128)
    ablation = load_config("img_only").loss
    assert not any((ablation.use_df, ablation.use_dv, ablation.use_v))
    assert load_config("paper", ["lr=0.001", "T=8"]).optimiser.lr == 0.001
    with pytest.raises(ValueError, match="unknown key"):
        load_config("paper", ["learning_rate=1"])


@pytest.mark.slow
def test_two_steps_resume_two_steps_equals_four_steps_bit_for_bit(one_clip, tmp_path):
    cfg = load_config("small", TINY + EXTRA + ["test_persons=0", "use_v=false"])
    straight = train(cfg, one_clip, tmp_path / "a", steps=4, progress=False)
    train(cfg, one_clip, tmp_path / "b", steps=2, progress=False)
    resumed = train(cfg, one_clip, tmp_path / "b", steps=4, resume=True, progress=False)
    for name, net in straight.nets.items():
        for (k, a), b in zip(net.state_dict().items(), resumed.nets[name].state_dict().values()):
            assert torch.equal(a, b), f"{name}.{k}"


@pytest.mark.slow
def test_a_slow_run_checkpoints_by_the_clock_and_resumes_with_other_bookkeeping(one_clip, tmp_path):
    base = TINY + ["test_persons=0", "use_v=false", "log_every=1", "sample_every=100", "checkpoint_every=1000"]
    train(load_config("small", base + ["checkpoint_minutes=0"]), one_clip, tmp_path / "a", steps=3, progress=False)
    assert [p.name for p in sorted((tmp_path / "a").glob("checkpoint-*"))] == ["checkpoint-00000003.safetensors"]
    train(load_config("small", base + ["checkpoint_minutes=1e-6"]), one_clip, tmp_path / "b", steps=3, progress=False)
    assert [p.name for p in sorted((tmp_path / "b").glob("checkpoint-*"))] == [
        "checkpoint-00000002.safetensors", "checkpoint-00000003.safetensors"]  # every logged step; the last two kept
    other = load_config("small", base + ["checkpoint_minutes=5", "log_every=2", "workers=1"])
    assert train(other, one_clip, tmp_path / "b", steps=4, resume=True, progress=False).iteration == 4


@pytest.mark.slow
def test_compiled_training_matches_eager_and_shares_its_checkpoints(one_clip, tmp_path, monkeypatch):
    # inductor's CPU build of these graphs takes minutes here: benchmarks/training.py --compile checks it
    monkeypatch.setitem(trainer_module.COMPILE, "backend", "aot_eager")
    base = TINY + EXTRA + ["test_persons=0", "use_v=false"]
    eager = train(load_config("small", base), one_clip, tmp_path / "e", steps=2, progress=False)
    compiled = train(load_config("small", base + ["compile=true"]), one_clip, tmp_path / "c", steps=2, progress=False)
    assert all(getattr(compiled.nets[n], "_compiled_call_impl", None) for n in ("G", "Df", "Dv"))
    stats = [[json.loads(line) for line in (tmp_path / r / "stats.jsonl").read_text().splitlines()][1] for r in "ec"]
    losses = [k for k in stats[0] if "/" in k]
    assert losses and all(abs(stats[0][k] - stats[1][k]) <= 1e-5 * abs(stats[0][k]) for k in losses)
    for name, net in eager.nets.items():
        for k, v in net.state_dict().items():
            assert torch.allclose(v, compiled.nets[name].state_dict()[k], atol=1e-6), f"{name}.{k}"
    a, b = (load_tensors(tmp_path / r / "checkpoint-00000002.safetensors")[0] for r in "ec")
    assert a.keys() == b.keys()  # no "_orig_mod." in the names
    Trainer(load_config("small", base)).load_state_dict(b)  # a compiled run's checkpoint loads eager (strict)
    resumed = train(load_config("small", base + ["compile=true"]), one_clip, tmp_path / "e", steps=3, resume=True,
                    progress=False)  # and an eager run resumes compiled
    assert resumed.iteration == 3


def test_resume_refuses_a_checkpoint_of_another_configuration(one_clip, tmp_path):
    cfg = load_config("small", TINY + EXTRA + ["test_persons=0", "use_v=false"])
    train(cfg, one_clip, tmp_path / "r", steps=2, progress=False)
    other = load_config("small", TINY + EXTRA + ["test_persons=0", "use_v=false", "lr=0.1"])
    with pytest.raises(CheckpointError, match="another configuration"):
        train(other, one_clip, tmp_path / "r", steps=4, resume=True, progress=False)


def test_a_pickled_checkpoint_is_refused(tmp_path):
    path = tmp_path / "evil.safetensors"
    torch.save({"w": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match="pickled.*refusing"):
        load_tensors(path)


@pytest.mark.slow
def test_torchrun_two_gloo_ranks_stop_at_the_same_step_within_the_time_budget_with_identical_weights(one_clip,
                                                                                                    tmp_path):
    script = tmp_path / "ddp.py"
    settings = TINY + EXTRA + ["test_persons=0", "use_v=false", "log_every=3", "sample_every=1000",
                               "checkpoint_every=1000"]
    script.write_text(
        "import os, sys\nfrom safetensors.torch import save_file\n"
        "from motiongan.config import load_config\nfrom motiongan.training.loop import train\n"
        f"cfg = load_config('small', {settings!r})\n"
        f"t = train(cfg, {str(one_clip)!r}, {str(tmp_path / 'run')!r}, steps=100000, progress=False, time_budget=15)\n"
        "w = {f'{n}.{k}': v.contiguous() for n, m in t.nets.items() for k, v in m.state_dict().items()}\n"
        f"path = {str(tmp_path)!r} + f\"/rank{{os.environ['RANK']}}.safetensors\"\n"
        "save_file(w, path, {'step': str(t.iteration)})\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                    "29533", str(script)], check=True, env=env, timeout=300)
    (a, meta_a), (b, meta_b) = (load_tensors(tmp_path / f"rank{r}.safetensors") for r in (0, 1))
    end = json.loads((tmp_path / "run" / "stats.jsonl").read_text().splitlines()[-1])
    assert meta_a["step"] == meta_b["step"] == str(end["step"]) and 2 < end["step"] < 100000
    assert end["step"] % 3 == 0 and end["elapsed_s"] <= 15  # stopped at a vote (a logging step), in time
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    initial = Trainer(load_config("small", settings)).nets["G"].state_dict()
    assert any(not torch.equal(v, a[f"G.{k}"]) for k, v in initial.items())  # and training moved them
    assert (tmp_path / "run" / f"checkpoint-{end['step']:08d}.safetensors").exists()


@pytest.mark.slow
def test_resume_passes_over_a_truncated_newest_checkpoint_and_still_matches_a_straight_run(one_clip, tmp_path,
                                                                                           capsys):
    cfg = load_config("small", TINY + EXTRA + ["test_persons=0", "use_v=false"])
    straight = train(cfg, one_clip, tmp_path / "a", steps=6, progress=False)
    train(cfg, one_clip, tmp_path / "b", steps=4, progress=False)
    newest = tmp_path / "b" / "checkpoint-00000004.safetensors"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # what a kill mid-write could leave
    resumed = train(cfg, one_clip, tmp_path / "b", steps=6, resume=True, progress=False)
    assert "checkpoint-00000004.safetensors" in capsys.readouterr().err  # it says so
    for name, net in straight.nets.items():
        for (k, a), b in zip(net.state_dict().items(), resumed.nets[name].state_dict().values()):
            assert torch.equal(a, b), f"{name}.{k}"
    logged = [[json.loads(line) for line in (tmp_path / r / "stats.jsonl").read_text().splitlines()] for r in "ab"]
    steps = [[(r["step"], r["G/img"]) for r in run if "event" not in r] for run in logged]
    assert steps[1] == steps[0]  # each step logged once, with the straight run's losses, although 3-4 ran twice
    with pytest.raises(Exception, match="already at step 6"):
        train(cfg, one_clip, tmp_path / "b", steps=6, resume=True, progress=False)
