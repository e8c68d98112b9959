"""The options dataclasses are the one source of each command's settings: the CLI's flags are made from
them, so a default or a value given on the command line reaches the library unchanged."""
import dataclasses
import typing

import pytest

from motiongan.checkpoint import ExportOptions
from motiongan.cli import build_parser
from motiongan.data.pack import PackOptions
from motiongan.data.prepare import Settings
from motiongan.data.split import SplitOptions
from motiongan.errors import MotionGANError
from motiongan.evaluation.compare import CompareOptions
from motiongan.evaluation.evaluate import EvaluateOptions
from motiongan.inference.animate import AnimateOptions
from motiongan.inference.edit import EditOptions
from motiongan.models import DeviceOptions, ModelOptions, SpeechModelOptions
from motiongan.options import options_from
from motiongan.speech.data import SpeechDataOptions
from motiongan.speech.speak import SpeakOptions
from motiongan.speech.train import SpeechTrainOptions
from motiongan.training.loop import TrainOptions
from motiongan.web import WebOptions

REQUIRED = {  # each command's required arguments
    "prepare": ["src", "--layout", "videos", "--out", "c"], "pack": ["src", "--out", "p"],
    "train": ["--data", "d", "--out", "r"], "evaluate": ["--data", "d", "--out", "o"],
    "compare": ["new", "--data", "d", "--out", "o"], "export": ["ckpt", "-o", "g.safetensors"],
    "animate": ["face.png", "drv.mp4", "-o", "o.mp4"], "edit": ["face.png", "--expression", "happy", "-o", "o.png"],
    "demo": [], "web": [], "speak": ["face.png", "a.wav", "-o", "o.mp4"], "train-speech": ["-o", "s.safetensors"],
    "evaluate-speech": [],
}
OPTIONS = {  # each command's options classes
    "prepare": [Settings], "pack": [PackOptions], "train": [TrainOptions, DeviceOptions],
    "evaluate": [EvaluateOptions, DeviceOptions], "compare": [CompareOptions, DeviceOptions],
    "export": [ExportOptions], "animate": [AnimateOptions, ModelOptions], "edit": [EditOptions, ModelOptions],
    "demo": [ModelOptions], "web": [WebOptions, ModelOptions],
    "speak": [SpeakOptions, ModelOptions, SpeechModelOptions], "train-speech": [SpeechTrainOptions, SpeechDataOptions],
    "evaluate-speech": [SpeechModelOptions, SpeechDataOptions],
}
# command, its required arguments, an options class
COMMANDS = [(command, REQUIRED[command], cls) for command, classes in OPTIONS.items() for cls in classes]
IDS = [f"{command}-{cls.__name__}" for command, _, cls in COMMANDS]


def _defaults(cls, **given):
    """The dataclass's defaults without running its checks (EditOptions needs a target or an expression)."""
    return {f.name: given.get(f.name, f.default) for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("command,required,cls", COMMANDS, ids=IDS)
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


def _number(f, typ, preferred):
    """A number for field ``f`` other than its default: ``preferred`` if its declared range allows it, else
    one inside the range."""
    low, high = f.metadata.get("range", (None, None))
    for v in (preferred, low, high, (low or 0) + 1, (high or 2) - 1):
        if v is None:
            continue
        v = typ(v)
        if v != f.default and (low is None or v >= low) and (high is None or v <= high):
            return v
    raise AssertionError(f"no value for {f.name}")


@pytest.mark.parametrize("command,required,cls", COMMANDS, ids=IDS)
def test_every_field_has_a_flag_that_reaches_the_options_unchanged(command, required, cls):
    fields = [f for f in dataclasses.fields(cls) if not (cls is EditOptions and f.name in ("expression", "target"))]
    expected, words = {}, []
    hints = typing.get_type_hints(cls)
    for i, f in enumerate(fields):
        typ = [t for t in (typing.get_args(hints[f.name]) or [hints[f.name]]) if t is not type(None)][0]
        value, w = _flag_value(f, _number(f, typ, 7 + i) if typ in (int, float) else f"x{i}")
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


def test_evaluate_takes_several_checkpoints_on_one_device():
    args = build_parser().parse_args(["evaluate", *REQUIRED["evaluate"], "--checkpoint", "a", "--checkpoint", "b",
                                      "--device", "cpu"])
    assert (args.checkpoint, args.device) == (["a", "b"], "cpu")
    assert build_parser().parse_args(["evaluate", *REQUIRED["evaluate"]]).checkpoint is None


def test_a_shared_flag_reads_the_same_in_every_command():
    """``--device``, ``--checkpoint`` and the split flags come from one dataclass each: one help text."""
    sub = next(a for a in build_parser()._actions if a.choices and "train" in a.choices).choices
    helps = {}
    for parser in sub.values():
        for action in parser._actions:
            for flag in {"--device", "--checkpoint", "--test-list", "--test-fraction", "--test-persons"}:
                if flag in action.option_strings:
                    helps.setdefault(flag, set()).add(action.help.removesuffix(" (repeat for several)"))
    assert {flag: len(h) for flag, h in helps.items()} == dict.fromkeys(helps, 1)
    assert len(helps) == 5


def test_compare_asks_evaluate_for_the_test_split_with_every_setting_it_was_given():
    given = CompareOptions(max_frames=5, test_list="none", seed=3, test_fraction=0.5, test_persons=2, videos=True,
                           score_cache="none", workers=0)
    o = given.evaluate_options()
    assert o.split == "test" and {k: getattr(o, k) for k in dataclasses.asdict(given)} == dataclasses.asdict(given)


def test_training_reads_who_is_tested_from_its_config():
    from motiongan.config import load_config

    cfg = load_config("small", ["test_list=none", "seed=4", "test_persons=2"])
    assert cfg.people == SplitOptions(test_list="none", seed=4, test_fraction=0.3, test_persons=2)


def test_web_options_refuse_no_frames_before_any_work():
    with pytest.raises(MotionGANError, match="--max-frames"):
        WebOptions(max_frames=0)


@pytest.mark.parametrize("command,required,cls", COMMANDS, ids=IDS)
def test_every_declared_range_is_checked_on_the_command_line_naming_the_flag(command, required, cls):
    for f in dataclasses.fields(cls):
        if "range" not in f.metadata:
            continue
        low, high = f.metadata["range"]
        for bad in [v for v in (None if low is None else low - 1, None if high is None else high + 1) if v is not None]:
            args = build_parser().parse_args([command, *required, "--" + f.name.replace("_", "-"), str(bad)])
            with pytest.raises(MotionGANError, match="--" + f.name.replace("_", "-")):
                options_from(args, cls)


def _numeric_fields():
    """(command, required arguments, field, low, high) of every numeric option of every command."""
    out = []
    for command, required, cls in COMMANDS:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            typ = [t for t in (typing.get_args(hints[f.name]) or [hints[f.name]]) if t is not type(None)][0]
            if typ in (int, float):
                out.append((command, required, f.name, *f.metadata.get("range", (None, None))))
    return out


NUMERIC = _numeric_fields()


def _bad_values(low, high):
    """Words no numeric option takes (of the wrong type) and numbers outside the declared range."""
    from hypothesis import strategies as st

    words = st.sampled_from(["abc", "", "1,5", "0x10", "1e", "--", "two", "½"])
    outside = []
    if low is not None:
        outside.append(st.floats(max_value=low - 1e-3, allow_nan=False, allow_infinity=True))
    if high is not None:
        outside.append(st.floats(min_value=high + 1e-3, allow_nan=False, allow_infinity=True))
    numbers = st.one_of(*outside).map(lambda v: repr(float(v))) if outside else st.nothing()
    return st.one_of(words, numbers, st.just("nan")) if outside else words


def test_random_bad_values_of_every_numeric_option_end_in_exit_2_and_one_line(capsys, tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from motiongan.cli import main

    @st.composite
    def cases(draw):
        command, required, name, low, high = draw(st.sampled_from(NUMERIC))
        return command, required, name, draw(_bad_values(low, high))

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(cases())
    def check(case):
        command, required, name, value = case
        argv = [command, *[str(tmp_path / a) if a.endswith((".png", ".mp4", ".wav", ".safetensors")) else a
                           for a in required], "--" + name.replace("_", "-"), value]
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's refusal of a word of the wrong type
            code = e.code
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and "Traceback" not in err[0], (argv, err)

    check()
