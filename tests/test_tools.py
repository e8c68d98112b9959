"""The tools around the package (scripts/, benchmarks/, experiments/): none imports another as a library (what
they share lives in the package: one mouth box, one open-mouth rule, one metric registry), each experiment
says which model-card figure it produced, and every such path quoted by the model card and the code exists;
and the package's pixel-only series that the experiments score with."""
import ast
import re
from pathlib import Path

import numpy as np
import pytest

from motiongan.evaluation import metrics as M
from motiongan.evaluation import registry as R
from motiongan.evaluation import scoring
from motiongan.evaluation.scoring import image_scores, pixel_series
from motiongan.landmarks import EYES, INNER_MOUTH, MOUTH, MOUTH_GROW, OUTER_LIP, grown_box, mouth_box, open_mouth

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("scripts", "benchmarks", "experiments")
HELPERS = {"benchmarks/_timing.py"}  # a benchmarks-only helper (device sync, matrix-multiply rate), no figure
# where a quoted tool path must exist (README.md and docs/*.md are checked by their own review)
QUOTING = ["docs/MODEL_CARD.md", "Makefile", *FOLDERS, "motiongan", "tests"]


def _tools() -> list[Path]:
    return sorted(p for f in FOLDERS for p in (ROOT / f).glob("*.py"))


def test_no_script_benchmark_or_experiment_imports_another():
    stems = {p.stem: p for p in _tools() if str(p.relative_to(ROOT)) not in HELPERS}
    offenders = []
    for path in _tools():
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offenders += [f"{path.relative_to(ROOT)} imports {n}" for n in names if n.split(".")[0] in stems]
    assert offenders == []


def test_each_experiment_says_in_its_first_line_which_model_card_figure_it_produced():
    card = (ROOT / "docs" / "MODEL_CARD.md").read_text()
    experiments = sorted((ROOT / "experiments").glob("*.py"))
    assert experiments
    for path in experiments:
        first = ast.get_docstring(ast.parse(path.read_text())).splitlines()[0]
        assert first.startswith("Produced docs/MODEL_CARD.md"), (path.name, first)
        assert f"experiments/{path.name}" in card, path.name  # the card says how to make its figure again


def test_every_tool_path_quoted_in_the_model_card_and_the_code_exists():
    quoted = set()
    for where in QUOTING:
        files = [ROOT / where] if (ROOT / where).is_file() else [p for p in (ROOT / where).rglob("*")
                                                                   if p.suffix in (".py", ".sh", ".md")]
        for f in files:
            quoted |= {(f.relative_to(ROOT), m) for m in
                       re.findall(r"\b((?:scripts|benchmarks|experiments)/[\w.]+\.(?:py|sh))", f.read_text())}
    missing = sorted(f"{f}: {m}" for f, m in quoted if not (ROOT / m).is_file())
    assert missing == []


def _face(gap: float, shift: float = 0.0) -> np.ndarray:
    """68 points of a 64 px face: the eyes' outer corners 27 px apart, the lips around (32, 44), the inner lips
    ``gap`` px apart."""
    rng = np.random.default_rng(0)
    p = rng.uniform(16, 48, (68, 2)).astype(np.float32)
    p[list(EYES)] = [(17 + i, 20) for i in range(6)] + [(41 + i, 20) for i in range(6)]
    p[list(OUTER_LIP)] = [(22 + 20 * i / 11, 40 + 8 * np.sin(np.pi * i / 11)) for i in range(12)]
    p[list(INNER_MOUTH)] = [(26, 44), (29, 44), (32, 44), (35, 44), (38, 44), (35, 44), (32, 44), (29, 44)]  # closed
    p[65:68, 1] += gap  # the lower inner lip
    return p + shift


def test_the_mouth_box_is_the_lips_box_grown_by_a_quarter_and_the_mouth_scores_use_it():
    pts = _face(4.0, shift=0.3)
    box = mouth_box(pts, (64, 64, 3))
    assert box[0].start > 0
    assert MOUTH_GROW == 0.25 and box == grown_box(pts[list(MOUTH)], 0.25, (64, 64, 3))
    assert scoring.mouth_box is mouth_box and scoring.open_mouth is open_mouth  # one rule, one box
    rng = np.random.default_rng(1)
    real = rng.integers(0, 256, (1, 64, 64, 3)).astype(np.uint8)
    gen = real.copy()
    gen[0][box] = 255 - gen[0][box]
    assert image_scores(gen, real, pts[None])["mouth_psnr"] == [pytest.approx(M.psnr(gen[0][box], real[0][box]))]
    outside = real.copy()
    outside[0, 0:box[0].start] = 0  # every row above the box: the mouth figure does not see them
    assert image_scores(outside, real, pts[None])["mouth_psnr"] == [float("inf")]


def test_pixel_series_score_frames_after_the_source_with_the_package_open_mouth_rule():
    lms = np.stack([_face(g) for g in (1, 1.5, 4, 6, 0.5)])  # open: wider than frame 0's by 0.05 x 27 px
    rng = np.random.default_rng(2)
    real = rng.integers(0, 256, (5, 64, 64, 3)).astype(np.uint8)
    gen = np.clip(real.astype(int) + rng.choice([-4, 4], real.shape), 0, 255).astype(np.uint8)
    series = pixel_series(gen, real, lms)
    assert len(series["psnr"]) == len(series["open_mouth"]) == 4  # frame 0, the source, left out
    assert series["open_mouth"] == open_mouth(lms, lms[0])[1:].tolist() == [False, True, True, False]
    assert series["psnr"] == image_scores(gen[1:], real[1:], lms[1:])["psnr"]
    figure, frames = R.OPEN_MOUTH_PSNR([series])
    assert frames == 2 and figure == pytest.approx(np.mean(series["mouth_psnr"][1:3]))
