"""The checkpoint format (``motiongan/checkpoint.py``): tensor names and metadata, run folders, rotation, the
intact-checkpoint search, and one save/load vocabulary for every model file. No data, no training: fast."""
import json

import numpy as np
import pytest
import torch
from conftest import TINY

from motiongan.checkpoint import (
    KEEP,
    Checkpoint,
    CheckpointError,
    checkpoint_path,
    checkpoints,
    generator_path,
    latest_checkpoint,
    load_tensors,
    newest_intact_checkpoint,
    prefixed,
    rotate,
    save_checkpoint,
    save_generator,
    save_tensors,
    unprefixed,
)
from motiongan.config import load_config
from motiongan.inference import MotionGAN
from motiongan.models import load_speech_model
from motiongan.speech.model import SpeechModel, SpeechNet
from motiongan.training.trainer import Trainer


def _config(*extra):
    return load_config("small", TINY + ["use_v=false", "ema_kimg=0.01", *extra])


def _trained_a_little(cfg) -> Trainer:
    """A trainer whose networks, optimiser moments and G_ema all moved (one made-up step per network)."""
    trainer = Trainer(cfg)
    for name, net in trainer.nets.items():
        sum(p.square().sum() for p in net.parameters()).backward()
        trainer.opts[name].step()
    trainer.G_ema.load_state_dict({k: v * 0.5 for k, v in trainer.nets["G"].state_dict().items()})
    torch.rand(3)  # move the random state away from the seed's
    return trainer


def _small_run(run, steps) -> None:
    net = torch.nn.Linear(2, 2)
    for s in steps:
        save_checkpoint(run, {"w": torch.full((2,), float(s))}, net, "{}", s)


def test_training_checkpoint_names_round_trip_networks_moments_ema_and_random_state(tmp_path):
    cfg = _config()
    trainer = _trained_a_little(cfg)
    saved = trainer.state_dict()
    heads = {k.split(".")[0] for k in saved}
    assert heads == {"G", "Df", "Dv", "opt", "G_ema", "rng"}
    assert {k.split(".")[1] for k in saved if k.startswith("opt.")} == {"G", "Df", "Dv"}
    assert "rng.torch" in saved and unprefixed("G_ema", saved).keys() == trainer.G_ema.state_dict().keys()
    path = save_checkpoint(tmp_path, saved, trainer.G_export, cfg.to_json(), 7)
    assert path == checkpoint_path(tmp_path, 7) and path.name == "checkpoint-00000007.safetensors"
    ckpt = Checkpoint.read(path)
    assert ckpt.is_training and ckpt.step == 7 and ckpt.config.trains_like(cfg)
    again = Trainer(cfg)
    again.load_state_dict(ckpt.tensors)
    assert torch.equal(torch.get_rng_state(), saved["rng.torch"])
    restored = again.state_dict()
    assert restored.keys() == saved.keys() and all(torch.equal(restored[k], saved[k]) for k in saved)


def test_prefixes_round_trip_and_leave_other_names_alone():
    t = {"a": torch.zeros(1), "b.c": torch.ones(1)}
    mixed = {**prefixed("G", t), **prefixed("G_ema", t), "rng.torch": torch.zeros(1)}
    assert set(mixed) == {"G.a", "G.b.c", "G_ema.a", "G_ema.b.c", "rng.torch"}
    assert unprefixed("G", mixed).keys() == t.keys()


def test_rotation_keeps_the_last_two_checkpoints_and_the_newest_export(tmp_path):
    _small_run(tmp_path, range(1, 6))
    assert KEEP == 2
    assert [p.name for p in checkpoints(tmp_path)] == ["checkpoint-00000004.safetensors",
                                                        "checkpoint-00000005.safetensors"]
    assert latest_checkpoint(tmp_path) == checkpoint_path(tmp_path, 5)
    assert load_tensors(generator_path(tmp_path))[1]["step"] == "5"
    assert rotate(tmp_path, keep=1) == [checkpoint_path(tmp_path, 4)]
    assert latest_checkpoint(tmp_path / "nothing") is None


def test_intact_search_passes_over_a_truncated_newest_checkpoint_and_says_so(tmp_path, capsys):
    _small_run(tmp_path, (2, 3))
    newest = checkpoint_path(tmp_path, 3)
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # what a kill mid-write could leave
    found = newest_intact_checkpoint(tmp_path)
    assert found.path == checkpoint_path(tmp_path, 2) and found.step == 2 and torch.equal(found.tensors["w"],
                                                                                           torch.full((2,), 2.0))
    err = capsys.readouterr().err
    assert "checkpoint-00000003.safetensors" in err and "resuming from checkpoint-00000002.safetensors" in err
    older = checkpoint_path(tmp_path, 2)
    older.write_bytes(b"")
    with pytest.raises(CheckpointError, match="checkpoint-00000002"):  # none intact: the oldest's error
        newest_intact_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        newest_intact_checkpoint(tmp_path / "empty")


def test_a_training_checkpoints_g_loads_as_a_generator_with_or_without_recorded_arguments(tmp_path):
    cfg = _config()
    trainer = _trained_a_little(cfg)
    path = save_checkpoint(tmp_path / "run", trainer.state_dict(), trainer.G_export, cfg.to_json(), 3)
    G = trainer.nets["G"].state_dict()
    tensors, meta = load_tensors(path)
    assert json.loads(meta["generator"]) == trainer.nets["G"].kwargs
    model = MotionGAN.from_checkpoint(path)
    assert model.step == 3 and all(torch.equal(v, G[k]) for k, v in model.G.state_dict().items())
    old = {k: v for k, v in meta.items() if k != "generator"}  # written before checkpoints recorded G's arguments
    save_tensors(tmp_path / "old.safetensors", tensors, old)
    again = MotionGAN.from_checkpoint(tmp_path / "old.safetensors")
    assert all(torch.equal(v, G[k]) for k, v in again.G.state_dict().items())
    export = MotionGAN.from_checkpoint(generator_path(tmp_path / "run"))  # the export is G_ema
    ema = trainer.G_ema.state_dict()
    assert all(torch.equal(v, ema[k]) for k, v in export.G.state_dict().items())


def test_an_fp16_sharded_export_reads_back_from_any_shard_or_its_folder(tmp_path):
    cfg = _config()
    G = Trainer(cfg).nets["G"]
    files = save_generator(tmp_path / "g.safetensors", G, cfg.to_json(), 5, half=True, shard_mb=0.01)
    assert len(files) >= 2 and [f.name for f in files][0] == f"g-00001-of-{len(files):05d}.safetensors"
    for handle in (files[-1], tmp_path):
        ckpt = Checkpoint.read(handle)
        assert not ckpt.is_training and ckpt.step == 5 and ckpt.generator_kwargs == G.kwargs
        assert all(torch.equal(ckpt.generator_tensors[k], v.half()) for k, v in G.state_dict().items())
    save_tensors(tmp_path / "bare.safetensors", {"w": torch.zeros(1)}, {"kind": "generator"})
    with pytest.raises(CheckpointError, match="not a MotionGAN checkpoint"):
        Checkpoint.read(tmp_path / "bare.safetensors")


def test_the_speech_model_uses_the_same_vocabulary_export_from_checkpoint_and_load(tmp_path):
    net = SpeechNet(context=4, width=8, hidden=8)
    model = SpeechModel(net, np.zeros((68, 2), np.float32), {"mean": np.ones((20, 2), np.float32)}, {"run": "x"},
                        scale=1.1)
    (path,) = model.export(tmp_path / "speech.safetensors")
    for again in (SpeechModel.from_checkpoint(path), load_speech_model(path)):
        assert again.scale == 1.1 and again.info == {"run": "x"} and again.context == 4
        assert np.array_equal(again.baselines["mean"], model.baselines["mean"])
        assert all(torch.equal(v, net.state_dict()[k]) for k, v in again.net.state_dict().items())
    cfg = _config()
    (g,) = save_generator(tmp_path / "g.safetensors", Trainer(cfg).nets["G"], cfg.to_json(), 0)
    with pytest.raises(CheckpointError, match="not a MotionGAN speech model"):
        SpeechModel.from_checkpoint(g)
    with pytest.raises(CheckpointError, match="not a MotionGAN checkpoint.*motiongan-speech"):
        MotionGAN.from_checkpoint(path)  # and the other way round
