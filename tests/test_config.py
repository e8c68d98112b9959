"""The training configuration in sections (issue 32 item 6): older flat files load into the same values,
sections round-trip, overrides take bare or dotted keys, and old run folders and shipped exports still load."""
import json
from dataclasses import fields

import pytest

from motiongan.checkpoint import Checkpoint, checkpoints, load_tensors, save_tensors
from motiongan.config import FIELDS, HOW, SECTIONS, Config, load_config
from motiongan.errors import ConfigError
from motiongan.training.loop import train

TINY = ["image_size=64", "width=8", "n_res=2", "d_width=4", "d_res=2", "dv_width=4", "dv_res=2", "batch=1",
        "T=2", "workers=0", "log_every=1", "sample_every=1000", "checkpoint_every=1000", "use_v=false",
        "test_list=null", "test_persons=0"]

# the configuration the shipped warp_cpu export records (written flat, before the sections, and before paint_eyes)
WARP_CPU_FLAT = {
    "T": 4, "amp": True, "batch": 4, "beta1": 0.9, "beta2": 0.999, "channels_last": True, "checkpoint_every": 500,
    "checkpoint_minutes": 10, "closed_source": 0.0, "compile": False, "d_res": 6, "d_warmup": 0, "d_width": 64,
    "device_data": True, "dv_landmark_kernel": 3, "dv_res": 6, "dv_width": 64, "ema_kimg": 0.5, "ema_rampup": 0.05,
    "g_maps": False, "g_upsample": "resize", "generator": "warp", "image_size": 128, "lambda_adv": 0.01,
    "lambda_cls": 1.0, "lambda_dv_lms": 100.0, "lambda_gp": 10.0, "lambda_id": 0.1, "lambda_img": 1.0,
    "lambda_lms": 10.0, "lambda_rec": 10.0, "log_every": 20, "lr": 0.0005, "mask_bias": 2.0, "min_gap": 2,
    "mirror": True, "model": "motiongan", "n_critic": 5, "n_down": 2, "n_res": 4, "name": "warp_cpu",
    "paint": "gated", "paint_skip": True, "person_power": 0.0, "sample_every": 200, "seed": 0, "sigma": 1.5,
    "stargan_d_layers": 6, "steps": 100000, "stretch_high": 3.0, "stretch_low": 1.5, "test_fraction": 0.3,
    "test_list": "v1", "test_persons": None, "tps_border": 5, "tps_regularisation": 0.0, "use_df": False,
    "use_dv": False, "use_v": False, "width": 16, "workers": 1}


def test_a_flat_config_of_the_old_form_loads_into_its_sections_with_the_same_values():
    cfg = Config.from_json(json.dumps(WARP_CPU_FLAT))
    assert cfg.flat() == {**WARP_CPU_FLAT, "paint_eyes": True}  # a field it predates: the default
    assert (cfg.model.width, cfg.model.generator, cfg.optimiser.lr, cfg.data.T, cfg.schedule.log_every) == \
        (16, "warp", 0.0005, 4, 20)
    assert (cfg.loss.use_v, cfg.model.model, cfg.seed, cfg.name) == (False, "motiongan", 0, "warp_cpu")
    assert cfg.stretch_range() == (1.5, 3.0) and cfg.generator_kwargs()["architecture"] == "warp"
    assert cfg.trains_like(load_config("warp_cpu", ["paint_eyes=true"]))  # today's warp_cpu.json but for eyes
    shipped = Checkpoint.read("motiongan/assets/warp_cpu")  # the export's own recorded JSON
    assert json.loads(shipped.meta["config"]) == WARP_CPU_FLAT and shipped.config == cfg


def test_every_field_has_one_section_and_one_bare_name():
    assert set(SECTIONS) == {"data", "model", "loss", "optimiser", "schedule"}
    assert len(FIELDS) == 62 and HOW <= set(FIELDS)
    for section, kind in SECTIONS.items():
        assert all(FIELDS[f.name][0] == section for f in fields(kind))


def test_to_json_writes_sections_and_reads_back_the_same():
    cfg = load_config("warp_cpu", ["width=8", "stretch_low=null", "stretch_high=null"])
    data = json.loads(cfg.to_json())
    assert set(data) == {"name", "seed", *SECTIONS} and data["model"]["width"] == 8
    assert "lr" in data["optimiser"] and "lr" not in data
    again = Config.from_json(cfg.to_json())
    assert again == cfg and again.to_json() == cfg.to_json()
    assert Config.from_json(json.dumps(cfg.flat())) == cfg  # flat and sectioned forms are one configuration


def test_overrides_take_bare_and_dotted_keys():
    bare = load_config("small", ["width=8", "lr=0.001", "T=8", "use_v=false", "steps=5", "seed=3"])
    dotted = load_config("small", ["model.width=8", "optimiser.lr=0.001", "data.T=8", "loss.use_v=false",
                                   "schedule.steps=5", "seed=3"])
    assert bare == dotted
    assert (bare.model.width, bare.optimiser.lr, bare.data.T, bare.loss.use_v, bare.schedule.steps, bare.seed) == \
        (8, 0.001, 8, False, 5, 3)
    assert load_config("paper", ["model=stargan"]).model.model == "stargan"
    assert load_config("paper", ["model.model=stargan"]).model.model == "stargan"
    assert Config(width=8, lr=0.5).model.width == 8 and Config(width=8, lr=0.5).optimiser.lr == 0.5


@pytest.mark.parametrize("item, message", [
    ("learning_rate=1", "unknown key 'learning_rate'"),
    ("model.lrr=1", "unknown key 'lrr'"),
    ("model.lr=1", "'lr' is in section optimiser"),
    ("optim.lr=1", "unknown section 'optim'"),
    ("width", "expected key=value"),
    ("width=wide", "width=\"wide\": expected int"),
])
def test_an_unknown_or_misplaced_key_is_refused_with_a_clear_config_error(item, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config("small", [item])


def test_unknown_keys_in_a_file_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown configuration keys: learning_rate"):
        Config.from_json(json.dumps({**WARP_CPU_FLAT, "learning_rate": 1}))
    with pytest.raises(ConfigError, match="unknown keys in section model: lr"):
        Config.from_json(json.dumps({"model": {"lr": 1}}))
    (tmp_path / "mine.json").write_text(json.dumps({"base": "small", "model": {"width": 8}, "lr": 0.01}))
    mine = load_config(str(tmp_path / "mine.json"))  # a file may mix sections and bare names
    assert (mine.model.width, mine.optimiser.lr, mine.model.image_size) == (8, 0.01, 64)


@pytest.mark.parametrize("name", ["paper", "warp_cpu"])
def test_the_shipped_generators_still_load(name):
    from motiongan.models import load_generator

    model = load_generator(name, "cpu")
    assert model.size == 128 and model.spec.sigma == 1.5
    assert json.loads(model.spec.recorded)["name"] in ("relay", "warp_cpu")  # exported flat, kept as recorded


def _flatten_run(run):
    """Rewrite a run folder as older versions wrote it: a flat config.json and flat checkpoint metadata."""
    config = run / "config.json"
    config.write_text(json.dumps(Config.from_json(config.read_text()).flat(), indent=1))
    for path in checkpoints(run):
        tensors, meta = load_tensors(path)
        save_tensors(path, tensors, {**meta, "config": json.dumps(Config.from_json(meta["config"]).flat())})


def test_a_run_folder_with_a_flat_config_json_still_resumes(one_clip, tmp_path):
    run = tmp_path / "run"
    train(load_config("small", TINY), one_clip, run, steps=1, progress=False)
    _flatten_run(run)
    assert "width" in json.loads((run / "config.json").read_text())  # flat, as before the sections
    cfg = load_config(str(run / "config.json"))  # as `motiongan train --resume` reads it
    assert cfg.name == "small" and cfg.model.width == 8
    trainer = train(cfg, one_clip, run, steps=2, resume=True, progress=False)
    assert trainer.iteration == 2
    assert json.loads((run / "config.json").read_text())["model"]["width"] == 8  # rewritten in sections
