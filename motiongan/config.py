"""Training configurations: JSON files in ``motiongan/configs`` (``base`` names a file to inherit from).

A configuration is in sections, as Thin-Plate-Spline-Motion-Model's YAML is, one small dataclass each:

- ``data`` (:class:`DataConfig`): what a training clip is (``T``, ``min_gap``, ``mirror``), who the test people
  are, how people and sources are drawn, and how clips are loaded (``workers``, ``device_data``);
- ``model`` (:class:`ModelConfig`): the networks built: the objective's family (``model``: motiongan or
  stargan), the crop (``image_size``, ``sigma``), G (paper or warp, with the warp's painting settings), Df,
  Dv and the StarGAN D;
- ``loss`` (:class:`LossConfig`): which terms of the objective are on (``use_df``, ``use_dv``, ``use_v``)
  and their weights (``lambda_*``);
- ``optimiser`` (:class:`OptimiserConfig`): how the weights are updated: Adam, ``batch``, who steps when
  (``n_critic``, ``d_warmup``), G's moving average (``ema_*``) and the arithmetic (``amp``,
  ``channels_last``, ``compile``);
- ``schedule`` (:class:`ScheduleConfig`): how long a run is and when it logs, samples and checkpoints.

``name`` and ``seed`` (weights, clips and a random split of people) stay at the top. Code reads
``cfg.model.width``, ``cfg.optimiser.lr``.

Every field's name is unique across the sections, so a bare name addresses it as well as its dotted one:
``key=value`` overrides (``--set``) take ``width=8`` or ``model.width=8`` (the value parsed as JSON when it
parses), and ``Config(width=8)`` builds one. A JSON object's top-level key is a section (its value an
object) or a bare field name: the flat files of older run folders, checkpoints and exports load as they are;
:meth:`Config.to_json` writes sections.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .data.split import SplitOptions
from .errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@dataclass
class DataConfig:
    T: int = 4
    min_gap: int = 2
    mirror: bool = True
    # who the test people are (SplitOptions): the fixed list (motiongan/data/splits); None: random split by seed
    test_list: str | None = "v1"
    test_fraction: float = 0.3  # random split only
    test_persons: int | None = None  # random split only
    person_power: float = 0.0  # P(person) ~ windows ** power: 0 balances people, 1 follows frame counts
    closed_source: float = 0.0  # P(the source is among the clip's least-open-mouth quarter of frames)
    workers: int = 2
    device_data: bool = True  # on CUDA: decode the cache once into GPU memory, no loader workers


@dataclass
class ModelConfig:
    model: str = "motiongan"  # motiongan | stargan
    image_size: int = 128
    sigma: float = 1.5  # heatmap Gaussian, pixels at image_size
    # generator G: "paper" synthesises every pixel; "warp" paints over the landmark warp (warp_generator.py)
    generator: str = "paper"
    paint: str = "gated"  # warp G: gated (inner mouth and eyes opening wider than the source's) | anywhere
    mask_bias: float = 8.0  # warp G: the mask's initial bias (the untrained G returns the warp)
    # warp G, gated: the mouth painted by a smoothstep of its inner-lip area ratio, target over source, from
    # stretch_low to stretch_high (None: by how much wider it opens alone)
    stretch_low: float | None = None
    stretch_high: float | None = None
    paint_skip: bool = False  # warp G, gated: the network runs only on frames with something to paint
    paint_eyes: bool = True  # warp G, gated: eyes opening wider are painted too (False: the mouth only)
    tps_border: int = 5  # warp G: thin-plate spline points pinned per side of the crop
    tps_regularisation: float = 0.0
    g_maps: bool = True  # warp G: landmark heatmaps among its inputs (costly on CPU)
    width: int = 64
    n_down: int = 2
    n_res: int = 6
    g_upsample: str = "transposed"  # transposed (StarGAN's 4x4 stride-2) | resize (nearest x2 + 3x3 conv)
    # discriminators Df, Dv (and the StarGAN baseline's D)
    d_width: int = 64
    d_res: int = 6
    dv_width: int = 64
    dv_res: int = 6
    dv_landmark_kernel: int = 7  # spatial kernel of Dv^l's last convolution (the paper is silent)
    stargan_d_layers: int = 6  # model=stargan only

    def stretch_range(self) -> tuple[float, float] | None:
        if (self.stretch_low is None) != (self.stretch_high is None):
            raise ConfigError("stretch_low and stretch_high: give both or neither")
        return None if self.stretch_low is None else (self.stretch_low, self.stretch_high)

    def generator_kwargs(self) -> dict:
        stargan = self.model == "stargan"
        if self.generator == "warp" and not stargan:
            return {"architecture": "warp", "width": self.width, "n_down": self.n_down, "n_res": self.n_res,
                    "recurrent": True, "upsample": self.g_upsample, "paint": self.paint,
                    "mask_bias": self.mask_bias, "border": self.tps_border,
                    "regularisation": self.tps_regularisation, "maps": self.g_maps,
                    "stretch": self.stretch_range(), "skip": self.paint_skip, "eyes": self.paint_eyes}
        if self.generator != "paper":
            raise ConfigError(f"generator {self.generator!r}: use paper or warp (StarGAN: paper)")
        return {"width": self.width, "n_down": self.n_down, "n_res": self.n_res,
                "recurrent": not stargan, "source_landmarks": not stargan, "upsample": self.g_upsample}


@dataclass
class LossConfig:
    # which parts of the paper's objective are on (the ablations of Table 1)
    use_df: bool = True
    use_dv: bool = True
    use_v: bool = True
    # loss weights, section 4.1
    lambda_img: float = 1.0
    lambda_adv: float = 0.01
    lambda_lms: float = 10.0
    lambda_id: float = 0.1
    lambda_dv_lms: float = 100.0
    # the StarGAN baseline's own (model=stargan only)
    lambda_gp: float = 10.0
    lambda_cls: float = 1.0
    lambda_rec: float = 10.0


@dataclass
class OptimiserConfig:
    lr: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999
    batch: int = 4
    n_critic: int = 5  # StarGAN: D steps per G step
    d_warmup: int = 0  # steps that train Df and Dv alone against G (for a G started from an export)
    # exponential moving average of G for the export (StyleGAN): half-life ema_kimg thousand clips,
    # ramped up to ema_rampup x the clips seen so far; 0 switches it off
    ema_kimg: float = 0.0
    ema_rampup: float = 0.05
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    channels_last: bool = True  # on CUDA
    # torch.compile G, Df and Dv (StarGAN: G) for training: the same maths in fused kernels, compiled
    # during the first steps; checkpoints unchanged; a run may resume with the other value (trainer.py)
    compile: bool = False


@dataclass
class ScheduleConfig:
    steps: int = 100000
    log_every: int = 50
    sample_every: int = 1000
    checkpoint_every: int = 2000
    checkpoint_minutes: float = 10.0  # also checkpoint at the first logging step this long after the last (0: off)


SECTIONS = {"data": DataConfig, "model": ModelConfig, "loss": LossConfig, "optimiser": OptimiserConfig,
            "schedule": ScheduleConfig}
TOP = {"name": "str", "seed": "int"}  # the fields outside the sections, with their annotations
# every field's section (None: at the top) and annotation, by its bare name (unique across the sections)
FIELDS: dict[str, tuple[str | None, str]] = {
    **{k: (None, t) for k, t in TOP.items()},
    **{f.name: (s, f.type) for s, kind in SECTIONS.items() for f in fields(kind)}}
assert len(FIELDS) == len(TOP) + sum(len(fields(k)) for k in SECTIONS.values()), "a field name is repeated"


@dataclass(init=False)
class Config:
    """The training configuration: ``name``, ``seed`` and the five sections (the module's docstring)."""

    name: str
    seed: int
    data: DataConfig
    model: ModelConfig
    loss: LossConfig
    optimiser: OptimiserConfig
    schedule: ScheduleConfig

    def __init__(self, name: str = "paper", seed: int = 0, data: DataConfig | None = None,
                 model: ModelConfig | None = None, loss: LossConfig | None = None,
                 optimiser: OptimiserConfig | None = None, schedule: ScheduleConfig | None = None, **bare):
        """Sections as given (default: their defaults), then any field by its bare name: ``Config(width=8)``."""
        if isinstance(model, str):  # the bare field model.model, not the section
            bare["model"], model = model, None
        self.name, self.seed = name, seed
        given = {"data": data, "model": model, "loss": loss, "optimiser": optimiser, "schedule": schedule}
        for section, kind in SECTIONS.items():
            setattr(self, section, given[section] if given[section] is not None else kind())
        for key, value in bare.items():
            section = _section_of(key, f"Config({key}=...)")
            setattr(getattr(self, section), key, value)

    @property
    def people(self) -> SplitOptions:
        """Who the test people are (the split the training set leaves out)."""
        d = self.data
        return SplitOptions(test_list=d.test_list, seed=self.seed, test_fraction=d.test_fraction,
                            test_persons=d.test_persons)

    def flat(self) -> dict:
        """Every field by its bare name (the form older files recorded)."""
        out = {k: getattr(self, k) for k in TOP}
        for section in SECTIONS:
            out.update(asdict(getattr(self, section)))
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def trains_like(self, other: "Config") -> bool:
        """Whether the two train the same networks the same way (they may differ in :data:`HOW`)."""
        mine, theirs = self.flat(), other.flat()
        return all(mine[k] == theirs[k] for k in mine if k not in HOW)

    @classmethod
    def from_json(cls, text: str) -> "Config":
        """Sections, bare field names (a flat file of an older run) or both."""
        return cls.from_flat(flatten(json.loads(text)))

    @classmethod
    def from_flat(cls, data: dict) -> "Config":
        """From fields by bare name, each checked against its annotation."""
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise ConfigError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
        for key, value in data.items():
            if not _fits(value, FIELDS[key][1]):
                raise ConfigError(f"{key}={json.dumps(value)}: expected {FIELDS[key][1]}")
        return cls(**data)

    def stretch_range(self) -> tuple[float, float] | None:
        return self.model.stretch_range()

    def generator_kwargs(self) -> dict:
        return self.model.generator_kwargs()


# settings that change how a run is carried out, not what it computes: a run may resume with other values
HOW = {"compile", "workers", "device_data", "steps", "log_every", "sample_every", "checkpoint_every",
       "checkpoint_minutes"}


def _section_of(key: str, where: str) -> str | None:
    """The section of a field given by its bare name; refused when no field has that name."""
    if key not in FIELDS:
        close = difflib.get_close_matches(key, FIELDS, n=3)
        raise ConfigError(f"{where}: unknown key {key!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    return FIELDS[key][0]


def flatten(data: dict) -> dict:
    """A configuration object's fields by bare name: each top-level key is a section (its value an object,
    its keys that section's fields) or a field's bare name."""
    flat = {}
    for key, value in data.items():
        if key in SECTIONS and isinstance(value, dict):
            names = {f.name for f in fields(SECTIONS[key])}
            unknown = set(value) - names
            if unknown:
                raise ConfigError(f"unknown keys in section {key}: {', '.join(sorted(unknown))}")
            flat.update(value)
        else:
            flat[key] = value
    return flat


def _key(dotted: str, item: str) -> str:
    """An override's key as a bare field name: ``section.key`` or ``key``, refused when unknown."""
    section, _, key = dotted.rpartition(".")
    if section and section not in SECTIONS:
        raise ConfigError(f"override {item!r}: unknown section {section!r} (sections: {', '.join(SECTIONS)})")
    if _section_of(key, f"override {item!r}") != (section or FIELDS[key][0]):
        raise ConfigError(f"override {item!r}: {key!r} is in section {FIELDS[key][0] or 'none (the top)'}")
    return key


def _fits(value, annotation: str) -> bool:
    """Whether a JSON value fits a field annotated ``int``, ``float``, ``bool``, ``str``, ``X | None``."""
    kinds = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "None": (type(None),)}
    allowed = tuple(t for part in annotation.split("|") for t in kinds[part.strip()])
    return isinstance(value, allowed) and (bool in allowed or not isinstance(value, bool))


def available() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def _coerce(value: str):
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def load_config(name_or_path: str, overrides: list[str] | None = None) -> Config:
    """A named configuration (``paper``, ``small``, ...) or a JSON file (in sections, or flat as older run
    folders wrote it), with ``key=value`` or ``section.key=value`` overrides."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{name_or_path}: no such configuration (available: {', '.join(available())})")
    data = json.loads(path.read_text())
    base = data.pop("base", None)
    merged = load_config(base).flat() if base else {}
    merged.update(flatten(data))
    merged.setdefault("name", path.stem)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value")
        key, value = item.split("=", 1)
        merged[_key(key, item)] = _coerce(value)
    return Config.from_flat(merged)
