"""Training configurations: JSON files in ``motiongan/configs`` (``base`` names a file to inherit from),
any value overridable as ``key=value`` (the value parsed as JSON when it parses)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .data.split import SplitOptions
from .errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@dataclass
class Config:
    name: str = "paper"
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
    # the StarGAN baseline's own settings (model=stargan only)
    stargan_d_layers: int = 6
    lambda_gp: float = 10.0
    lambda_cls: float = 1.0
    lambda_rec: float = 10.0
    n_critic: int = 5
    # optimisation
    lr: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999
    batch: int = 4
    T: int = 4
    min_gap: int = 2
    mirror: bool = True
    steps: int = 100000
    seed: int = 0
    # who the test people are (SplitOptions): the fixed list (motiongan/data/splits); None: random split by seed
    test_list: str | None = "v1"
    test_fraction: float = 0.3  # random split only
    test_persons: int | None = None  # random split only
    person_power: float = 0.0  # P(person) ~ windows ** power: 0 balances people, 1 follows frame counts
    closed_source: float = 0.0  # P(the source is among the clip's least-open-mouth quarter of frames)
    workers: int = 2
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    channels_last: bool = True  # on CUDA
    device_data: bool = True  # on CUDA: decode the cache once into GPU memory, no loader workers
    # torch.compile G, Df and Dv (StarGAN: G) for training: the same maths in fused kernels, compiled
    # during the first steps; checkpoints unchanged; a run may resume with the other value (trainer.py)
    compile: bool = False
    # exponential moving average of G for the export (StyleGAN): half-life ema_kimg thousand clips,
    # ramped up to ema_rampup x the clips seen so far; 0 switches it off
    ema_kimg: float = 0.0
    ema_rampup: float = 0.05
    d_warmup: int = 0  # steps that train Df and Dv alone against G (for a G started from an export)
    # bookkeeping
    log_every: int = 50
    sample_every: int = 1000
    checkpoint_every: int = 2000
    checkpoint_minutes: float = 10.0  # also checkpoint at the first logging step this long after the last (0: off)

    @property
    def people(self) -> SplitOptions:
        """Who the test people are (the split the training set leaves out)."""
        return SplitOptions(test_list=self.test_list, seed=self.seed, test_fraction=self.test_fraction,
                            test_persons=self.test_persons)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def trains_like(self, other: "Config") -> bool:
        """Whether the two train the same networks the same way (they may differ in :data:`HOW`)."""
        mine, theirs = asdict(self), asdict(other)
        return all(mine[k] == theirs[k] for k in mine if k not in HOW)

    @classmethod
    def from_json(cls, text: str) -> "Config":
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
        for f in fields(cls):
            if f.name in data and not _fits(data[f.name], f.type):
                raise ConfigError(f"{f.name}={json.dumps(data[f.name])}: expected {f.type}")
        return cls(**data)

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


# settings that change how a run is carried out, not what it computes: a run may resume with other values
HOW = {"compile", "workers", "device_data", "steps", "log_every", "sample_every", "checkpoint_every",
       "checkpoint_minutes"}


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
    """A named configuration (``paper``, ``small``, ...) or a JSON file, with ``key=value`` overrides."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{name_or_path}: no such configuration (available: {', '.join(available())})")
    data = json.loads(path.read_text())
    base = data.pop("base", None)
    merged = json.loads(load_config(base).to_json()) if base else {}
    merged.update(data)
    merged.setdefault("name", path.stem)
    valid = {f.name for f in fields(Config)}
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value")
        key, value = item.split("=", 1)
        if key not in valid:
            raise ConfigError(f"override {item!r}: unknown key {key!r}")
        merged[key] = _coerce(value)
    return Config.from_json(json.dumps(merged))
