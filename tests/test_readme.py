"""The README works as written (issue 32): it is short, its links and the docs pages' links lead somewhere,
and every ``motiongan`` command in its shell blocks exists with every flag it uses. The cheap ones run for
real (placeholder files replaced by real ones: the astronaut as the photo, a GRID clip of ../shared/data as
the driver and the recording); the rest run with ``--help`` appended, which argparse answers after it has
parsed the sub-command and the values before it, and whose text must name each of the line's flags.

The docs pages' ``motiongan`` commands get the ``--help`` check too (their figures take minutes to hours)."""
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
DATA = ROOT.parent / "shared" / "data"  # as tests/conftest.py
MAX_LINES = 250
PROGRAMS = ("motiongan", ".venv/bin/motiongan")
CLIP, OTHER_CLIP = DATA / "grid" / "bbaf2n.mpg", DATA / "grid" / "lbax4n.mpg"
INPUTS = {  # placeholder inputs of the README's commands -> real files (None: the astronaut, made here)
    "face.jpg": None,
    "driver.mp4": CLIP, "me.mp4": CLIP, "interview.mp4": CLIP,  # a face video with sound
    "speech.wav": OTHER_CLIP,  # another sentence's audio (a dubbed video says something new)
    "smiling.jpg": DATA / "expressions" / "yale" / "01_happy.png",
    "neutral.jpg": DATA / "expressions" / "yale" / "01_normal.png",
}
WORDS = {"ROUND": "1"}  # placeholders that must parse as numbers even under --help
FAST_FRAMES = "3"  # animate runs stop after this many driving frames


# ------------------------------------------------------------------------------------ reading the pages
def _without_code(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```(?:bash|sh|shell)[ \t]*\n(.*?)^```", text, flags=re.M | re.S)


def _cli_args(words: list[str]) -> list[str] | None:
    """The arguments after the program of a ``motiongan`` command line (also ``... -m motiongan.cli``)."""
    if words and words[0] in PROGRAMS:
        return words[1:]
    if words and words[0] in ("python", "python3", "torchrun") and "motiongan.cli" in words:
        i = words.index("motiongan.cli")
        return words[i + 1:] if words[i - 1] == "-m" else None
    return None


def commands(path: Path) -> list[list[str]]:
    """Each ``motiongan`` command of a page's shell blocks, as its argument list (comments and the brackets of
    optional arguments removed)."""
    found = []
    for block in shell_blocks(path.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            args = _cli_args([w.strip("[]") for w in shlex.split(line, comments=True)])
            if args:
                found.append([a for a in args if a])
    return found


def flags(args: list[str]) -> list[str]:
    return [a.split("=")[0] for a in args if re.match(r"--?[a-zA-Z]", a)]


def _help_ids(cmds: list[list[str]], prefix: str) -> list[str]:
    return [f"{prefix}{i}-{'-'.join(a[:1])}" for i, a in enumerate(cmds)]


README_COMMANDS = commands(README)
DOCS_COMMANDS = [(p.name, args) for p in DOCS for args in commands(p)]


# ---------------------------------------------------------------------------------- the --help check
_DRIVER = """
import contextlib, io, json, sys
from motiongan.cli import build_parser
results = []
for argv in json.load(sys.stdin):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            build_parser().parse_args(argv)
            code = "parsed: --help did not stop it"
        except SystemExit as e:
            code = e.code
    results.append({"code": code, "out": out.getvalue(), "err": err.getvalue()})
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def help_of(tmp_path_factory):
    """Each command line with ``--help`` appended, through the CLI's parser, in one process (one start-up
    instead of one per line): ``help_of(args)`` -> its exit code, stdout and stderr."""
    lines = [[WORDS.get(a, a) for a in args] + ["--help"] for args in README_COMMANDS + [a for _, a in DOCS_COMMANDS]]
    proc = subprocess.run([sys.executable, "-c", _DRIVER], input=json.dumps(lines), capture_output=True, text=True,
                          cwd=tmp_path_factory.mktemp("help"), timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = dict(zip(map(json.dumps, lines), json.loads(proc.stdout)))
    return lambda args: results[json.dumps([WORDS.get(a, a) for a in args] + ["--help"])]


def _check_help(args: list[str], result: dict) -> None:
    line = "motiongan " + shlex.join(args)
    assert result["code"] == 0, f"{line}: {result['err'].strip() or result['code']}"
    text = result["out"]
    missing = [f for f in flags(args) if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", text)]
    assert not missing, f"{line}: no such flag {', '.join(missing)} in its --help"


def test_readme_has_the_everyday_commands():
    assert len(README_COMMANDS) >= 10, "the README's shell blocks were not read"
    assert {"animate", "edit", "speak", "web", "prepare", "train", "evaluate"} <= {a[0] for a in README_COMMANDS}


@pytest.mark.parametrize("args", README_COMMANDS, ids=_help_ids(README_COMMANDS, "readme"))
def test_readme_command_exists(args, help_of):
    _check_help(args, help_of(args))


@pytest.mark.parametrize("page, args", DOCS_COMMANDS,
                         ids=[f"{p[:-3]}{i}-{a[0]}" for i, (p, a) in enumerate(DOCS_COMMANDS)])
def test_docs_command_exists(page, args, help_of):
    _check_help(args, help_of(args))


# ------------------------------------------------------------------------------------- the real runs
def real_run(args: list[str]) -> tuple[list[str], bool] | None:
    """The command as run for real (and whether that is slow), or None where only --help is cheap."""
    command = args[0]
    if command == "animate":
        if args[2].isdigit() or "://" in args[2]:  # a camera or a stream
            return None
        run = args if "--max-frames" in args else args + ["--max-frames", FAST_FRAMES]
        return run, "--mouths" in args  # own mouths: the donor video is tracked whole first
    if command == "edit":
        return args, False
    if command in ("speak", "demo"):  # a whole recording or the whole track (10-35 s on 2 cores)
        return args, True
    return None


def _real_params():
    params = []
    for i, args in enumerate(README_COMMANDS):
        run = real_run(args)
        if run is not None:
            params.append(pytest.param(run[0], id=f"readme{i}-{args[0]}", marks=[pytest.mark.slow] if run[1] else []))
    return params


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    from skimage import data, io

    path = tmp_path_factory.mktemp("photo") / "face.jpg"
    io.imsave(path, data.astronaut())
    return path


def _inputs(args: list[str], photo: Path) -> list[str]:
    out = []
    for a in args:
        real = photo if a in INPUTS and INPUTS[a] is None else INPUTS.get(a)
        if real is not None and not Path(real).exists():
            pytest.skip(f"shared data not found at {real}: this command reads real faces from ../shared/data")
        if real is None and a.startswith("motiongan/assets/"):
            real = ROOT / a
        out.append(str(real) if real is not None else a)
    return out


def _outputs(args: list[str]) -> list[str]:
    after = {"-o", "--output", "--landmarks-only", "--out"}
    outs = [b for a, b in zip(args, args[1:]) if a in after]
    return outs or (["demo_out/demo.mp4"] if args[0] == "demo" else [])


def test_some_readme_commands_run_for_real():
    assert {p.values[0][0] for p in _real_params()} >= {"animate", "edit", "speak"}


@pytest.mark.parametrize("args", _real_params())
def test_readme_command_runs(args, photo, tmp_path):
    argv = _inputs(args, photo)
    proc = subprocess.run([sys.executable, "-m", "motiongan.cli", *argv], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"motiongan {shlex.join(argv)}:\n{proc.stderr[-3000:]}"
    for out in _outputs(args):
        assert (tmp_path / out).is_file() and (tmp_path / out).stat().st_size > 0, f"{out} was not written"


@pytest.mark.slow
def test_make_demo_needs_no_trained_model(tmp_path):
    """``make demo``'s command, as the Makefile runs it, on a fresh checkout's assets alone."""
    recipe = re.search(r"^demo:.*\n\t(.*)$", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
    args = shlex.split(recipe)
    assert args[0].endswith("motiongan"), recipe
    proc = subprocess.run([sys.executable, "-m", "motiongan.cli", *args[1:]], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("demo.mp4", "demo_side_by_side.mp4", "demo_strip.png"):
        assert (tmp_path / "demo_out" / name).is_file(), name


# ----------------------------------------------------------------------------------- length and links
def test_readme_is_short():
    n = len(README.read_text().splitlines())
    assert n <= MAX_LINES, f"README.md has {n} lines (at most {MAX_LINES}: move details to docs/)"


def test_make_targets_exist():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    used = {w.split()[1] for b in shell_blocks(README.read_text()) for w in b.splitlines() if w.startswith("make ")}
    assert used and used <= targets, f"no Makefile target {sorted(used - targets)}"


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#+ (.*)$", _without_code(path.read_text()), flags=re.M)}


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_relative_links_exist(page):
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", _without_code(page.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto: ...
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if not path.exists():
            bad.append(f"{target} (no such file)")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            bad.append(f"{target} (no such heading)")
    assert not bad, f"{page.name}: broken links: {', '.join(bad)}"
