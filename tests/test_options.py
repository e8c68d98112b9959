"""The options dataclasses are the one source of each command's settings: the CLI's flags are made from
them, so a default or a value given on the command line reaches the library unchanged."""
import dataclasses
import typing

import pytest

from motiongan.cli import build_parser
from motiongan.data.pack import PackOptions
from motiongan.data.prepare import Settings
from motiongan.errors import MotionGANError
from motiongan.evaluation.compare import CompareOptions
from motiongan.evaluation.evaluate import EvaluateOptions
from motiongan.inference.animate import AnimateOptions
from motiongan.inference.edit import EditOptions
from motiongan.options import options_from
from motiongan.speech.speak import SpeakOptions
from motiongan.speech.train import SpeechTrainOptions

# command, its required arguments, its options class
COMMANDS = [
    ("prepare", ["src", "--layout", "videos", "--out", "c"], Settings),
    ("pack", ["src", "--out", "p"], PackOptions),
    ("evaluate", ["--checkpoint", "g", "--data", "d", "--out", "o"], EvaluateOptions),
    ("compare", ["new", "--data", "d", "--out", "o"], CompareOptions),
    ("animate", ["face.png", "drv.mp4", "-o", "o.mp4"], AnimateOptions),
    ("edit", ["face.png", "--expression", "happy", "-o", "o.png"], EditOptions),
    ("speak", ["face.png", "a.wav", "-o", "o.mp4"], SpeakOptions),
    ("train-speech", ["-o", "s.safetensors"], SpeechTrainOptions),
]


def _defaults(cls, **given):
    """The dataclass's defaults without running its checks (EditOptions needs a target or an expression)."""
    return {f.name: given.get(f.name, f.default) for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("command,required,cls", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_command_without_flags_gets_the_api_defaults(command, required, cls):
    args = build_parser().parse_args([command, *required])
    given = {"expression": "happy"} if cls is EditOptions else {}
    assert {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)} == _defaults(cls, **given)


def _flag_value(f, value):
    """A non-default value for field ``f`` and the command-line words that give it."""
    flag = "--" + f.name.replace("_", "-")
    if isinstance(f.default, bool):
        return not f.default, [("--no-" + f.name.replace("_", "-")) if f.default else flag]
    if f.metadata.get("choices"):
        other = [c for c in f.metadata["choices"] if c != f.default][0]
        return other, [flag, other]
    return value, [flag, str(value)]


@pytest.mark.parametrize("command,required,cls", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_field_has_a_flag_that_reaches_the_options_unchanged(command, required, cls):
    fields = [f for f in dataclasses.fields(cls) if not (cls is EditOptions and f.name in ("expression", "target"))]
    expected, words = {}, []
    hints = typing.get_type_hints(cls)
    for i, f in enumerate(fields):
        typ = [t for t in (typing.get_args(hints[f.name]) or [hints[f.name]]) if t is not type(None)][0]
        value, w = _flag_value(f, typ(7 + i) if typ in (int, float) else f"x{i}")
        expected[f.name], words = value, words + w
    opts = options_from(build_parser().parse_args([command, *required, *words]), cls)
    assert {k: getattr(opts, k) for k in expected} == expected


def test_edit_options_refuse_both_or_neither_of_target_and_expression():
    with pytest.raises(MotionGANError, match="exactly one"):
        EditOptions()
    with pytest.raises(MotionGANError, match="exactly one"):
        EditOptions(expression="happy", target="t.png")


def test_evaluate_options_refuse_zero_frames_before_any_work():
    with pytest.raises(MotionGANError, match="--max-frames 0"):
        EvaluateOptions(max_frames=0)
