"""The ``motiongan`` command: prepare, pack, train, evaluate, export, animate, edit, expressions, demo.

Each command checks its arguments and output locations first, then calls one library function. A
:class:`~motiongan.errors.MotionGANError` (or a missing file) is printed on one line, exit 2; Ctrl-C and
SIGTERM end with one line and exit 130 / 143, temporary files removed; anything else is a bug and keeps its
traceback.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from . import config
from .errors import ConfigError, MotionGANError, printing_notes
from .models import DeviceOptions, ModelOptions, generator_source, is_name, resolve_device
from .options import add_options, options_from

STARTED = time.monotonic()  # for train --time-budget: the budget counts from the command's start


# ------------------------------------------------------------------------------------ shared checks
def _exists(*paths) -> None:
    for p in paths:
        if not is_name(p) and not Path(p).exists():
            raise FileNotFoundError(f"{p}: no such file or folder")


def _animator(args, compile: bool = False):
    """The model (``--checkpoint``: a name of ``motiongan.models`` or a file; else the default) and a face
    landmarker, on ``--device``."""
    from .inference.animate import Animator

    return Animator(options_from(args, ModelOptions).load(), compile=compile)


# ----------------------------------------------------------------------------------------- commands
def _prepare(args):
    from .data.prepare import Settings, prepare
    from .media import check_output_folder

    _exists(*args.src)
    check_output_folder(args.out)
    st = options_from(args, Settings)
    for src in args.src:
        m = prepare(Path(src), args.layout, Path(args.out), st, workers=args.workers, progress=not args.quiet)
    print(f"{args.out}: {len(m['clips'])} clips, {m['frames']} frames, {len(m['persons'])} people; "
          f"{len(m['failed'])} failed, {len(m['skipped'])} frames/files skipped (see manifest.json)")


def _pack(args):
    from .data.pack import PackOptions, pack

    m = pack(args.src, args.out, options_from(args, PackOptions), progress=not args.quiet)
    size = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
    print(f"{args.out}: {len(m['clips'])} clips, {m['frames']} frames, {len(m['persons'])} people, "
          f"{size / 2**20:.1f} MiB")


def _train(args):
    from .config import load_config
    from .media import check_output_folder
    from .training.loop import TrainOptions, train

    options = options_from(args, TrainOptions)
    _exists(args.data, options.init_generator)
    run_config = Path(args.out) / "config.json"
    cfg = load_config(str(run_config) if options.resume and run_config.exists() and args.config is None
                      else args.config or "paper", args.set)
    device = resolve_device(args.device)
    check_output_folder(args.out)
    train(cfg, args.data, args.out, options, device=device, started=STARTED)


def _evaluate(args):
    from .evaluation.evaluate import EvaluateOptions, evaluate
    from .media import check_output_folder

    checkpoints = [generator_source(c) for c in args.checkpoint or [None]]
    _exists(*checkpoints, args.data)
    options = options_from(args, EvaluateOptions)
    check_output_folder(args.out)
    res = evaluate(checkpoints, args.data, args.out, options, device=resolve_device(args.device))
    print((Path(args.out) / "table.md").read_text())
    print(f"LPIPS / FID / FVD: skipped ({res['meta']['skipped']})")


def _compare(args):
    from .evaluation.compare import CompareOptions, compare

    new, old = generator_source(args.new), generator_source(args.old)
    _exists(new, old, args.data)
    r = compare(new, old, args.data, args.out, options_from(args, CompareOptions), device=resolve_device(args.device))
    print((Path(args.out) / "table.md").read_text())
    for k, d in r["differences"].items():
        print(f"{k}: new {d['new']:.2f}, old {d['old']:.2f}, difference {d['diff']:+.2f} (noise +-{d['noise']:.2f})")
    print("verdict: " + ("BETTER: ship it" if r["better"] else "not better: " + "; ".join(r["reasons"])))


def _export(args):
    from .checkpoint import ExportOptions
    from .inference.model import MotionGAN
    from .media import check_output

    o = options_from(args, ExportOptions)
    _exists(args.checkpoint)
    check_output(args.output, {".safetensors"}, create_folder=True)
    for f in MotionGAN.from_checkpoint(args.checkpoint).export(args.output, half=o.half, shard_mb=o.shard_mb):
        print(f"{f}: {f.stat().st_size / 2**20:.1f} MiB")


def _animate(args):
    from .inference.animate import AnimateOptions, check_inputs

    options = options_from(args, AnimateOptions)
    check_inputs(args.source, args.driving, args.output, options)  # every input error before the model loads
    res = _animator(args, args.compile).animate(args.source, args.driving, args.output, options, progress=True)
    print(f"{res['out']}: {res['frames']} frames at {res['fps']:g} fps" + (", with audio" if res["audio"] else ""))


def _edit(args):
    import numpy as np

    from .inference.donors import check_mouths
    from .inference.edit import EditOptions, edit_image, load_expressions
    from .media import IMAGE_SUFFIXES, atomic_write_file, check_output

    if (args.target is None) == (args.expression is None):
        raise ConfigError("give exactly one of --target IMAGE_OR_PTS and --expression NAME")
    options = options_from(args, EditOptions)
    _exists(args.source, args.target, args.target_neutral)
    load_expressions(args.expressions)  # a bad expressions file is reported before the model loads
    check_mouths(options.mouths, None)
    check_output(args.output, IMAGE_SUFFIXES)
    target = edit_image(_animator(args), args.source, args.output, options)
    if args.save_landmarks:
        atomic_write_file(Path(args.output).with_suffix(".landmarks.npy"), lambda f: np.save(f, target))
    print(f"{args.output}: written")


def _expressions(args):
    from .inference.edit import measure_expressions, save_expressions
    from .media import check_output

    _exists(args.src)
    check_output(args.output, {".json"})
    data, skipped = measure_expressions(args.src, args.neutral)
    save_expressions(args.output, data)
    print(f"{args.output}: " + ", ".join(f"{k} ({v['people']} people)" for k, v in data["expressions"].items())
          + f"; {skipped} images without a face")


def _mouths_build(args):
    from .inference.donors import bank_from_media, check_mouths
    from .media import check_output

    if args.src in ("auto", "none", "driver", "own") or Path(args.src).suffix.lower() == ".safetensors":
        raise ConfigError("build a bank from a video, an image folder or a folder of videos", path=args.src)
    check_mouths(args.src, None)
    check_output(args.output, {".safetensors"})
    from .face import FaceLandmarker

    bank = bank_from_media(Path(args.src), FaceLandmarker(), progress=not args.quiet, max_frames=args.max_frames)
    bank.save(args.output)
    print(f"{args.output}: " + ", ".join(f"{len(p)} {name} donors at {p.side} px" for name, p in bank.parts.items()))


def _demo(args):
    from .inference.demo import demo
    from .media import check_output_folder

    check_output_folder(args.out)
    n = demo(_animator(args), args.out)
    print(f"{args.out}: demo.mp4 ({n} frames), demo_side_by_side.mp4 (source | target landmarks | "
          "generated), demo_strip.png (source, then 7 generated frames)")


# ------------------------------------------------------------------------------------------- parser
def _add_data_commands(sub) -> None:
    from .data.pack import PackOptions
    from .data.prepare import Settings

    p = sub.add_parser("prepare", help="detect landmarks, crop and cache face videos or images")
    p.add_argument("src", nargs="+", help="source folder(s)")
    p.add_argument("--layout", required=True, choices=["300vw", "videos", "images"])
    p.add_argument("--out", required=True, help="cache folder (created; resumed if it exists)")
    add_options(p, Settings)
    p.add_argument("--workers", type=int, default=None, help="processes (default: the CPU cores)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("pack", help="a smaller copy of a cache (one split, capped frames per person, "
                       "re-encoded) that fits an upload limit")
    p.add_argument("src", help="prepared cache folder")
    p.add_argument("--out", required=True, help="packed cache folder (replaced if it exists)")
    add_options(p, PackOptions)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_pack)


def _add_training_commands(sub) -> None:
    from .checkpoint import ExportOptions
    from .evaluation.compare import CompareOptions
    from .evaluation.evaluate import EvaluateOptions
    from .training.loop import TrainOptions

    p = sub.add_parser("train", help="train MotionGAN, an ablation or the StarGAN baseline on a prepared cache")
    p.add_argument("--config", default=None, help=", ".join(config.available()) + ", or a JSON file (default: "
                   "paper; with --resume, the run's own config.json)")
    p.add_argument("--data", required=True, help="prepared cache folder")
    p.add_argument("--out", required=True, help="run folder, e.g. runs/paper")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override configuration values "
                   "(the test people: test_list, seed, test_fraction, test_persons)")
    add_options(p, TrainOptions)
    add_options(p, DeviceOptions)
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="the paper's metrics and Table 1 on a prepared split")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    add_options(p, EvaluateOptions)
    add_options(p, ModelOptions, more_help={"checkpoint": "(repeat for several)"}, repeat=("checkpoint",))
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("compare", help="the relay's gate: is generator NEW better than OLD on the test people?")
    p.add_argument("new", help="the new generator (export, shard or folder of shards)")
    p.add_argument("old", nargs="?", default=None, help="the generator to beat (default: the shipped default)")
    p.add_argument("--data", required=True, help="a prepared cache holding the test people")
    p.add_argument("--out", required=True)
    add_options(p, CompareOptions)
    add_options(p, DeviceOptions)
    p.set_defaults(func=_compare)

    p = sub.add_parser("export", help="export a checkpoint's generator (fp16, shards) for inference or shipping")
    p.add_argument("checkpoint", help="a training checkpoint, generator export, shard or folder of shards")
    p.add_argument("-o", "--output", required=True, help="output .safetensors (shards get -0000i-of-0000n)")
    add_options(p, ExportOptions)
    p.set_defaults(func=_export)


def _add_inference_commands(sub) -> None:
    from .inference.animate import AnimateOptions
    from .inference.edit import EditOptions

    p = sub.add_parser("animate", help="animate a face image from a driving video or landmark track")
    p.add_argument("source", help="face image")
    p.add_argument("driving", help="video, .npy landmark track (N x 68 x 2), folder of .pts files, camera index "
                   "(0: the first camera) or stream URL (rtsp://, http://, file://): live, frame by frame")
    p.add_argument("-o", "--output", required=True, help="output .mp4")
    add_options(p, AnimateOptions)
    p.add_argument("--compile", action="store_true", help="torch.compile the generator (for long videos)")
    add_options(p, ModelOptions)
    p.set_defaults(func=_animate)

    p = sub.add_parser("edit", help="change a face's expression (from another face or a named expression)")
    p.add_argument("source", help="face image")
    add_options(p, EditOptions, more_help={"expression": f"(the shipped file's: {_shipped_expressions()})"})
    p.add_argument("--save-landmarks", action="store_true", help="also write the target landmarks (.npy)")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg)")
    add_options(p, ModelOptions)
    p.set_defaults(func=_edit)

    p = sub.add_parser("expressions", help="measure named expressions from a labelled face-image folder")
    p.add_argument("src", help="folder of PERSON_LABEL images (e.g. ../shared/data/expressions/yale)")
    p.add_argument("--neutral", default="normal", help="the label of neutral faces")
    p.add_argument("-o", "--output", required=True, help="output .json")
    p.set_defaults(func=_expressions)

    p = sub.add_parser("mouths", help="real mouths and eyes for --mouths: build a donor bank")
    build = p.add_subparsers(dest="action", required=True, parser_class=_Parser).add_parser(
        "build", help="a bank of donor mouths and eyes from a video or an image folder (safetensors)")
    build.add_argument("src", help="a video or a folder of images of faces")
    build.add_argument("-o", "--output", required=True, help="output .safetensors")
    build.add_argument("--max-frames", type=int, default=3000, help="track at most this many video frames")
    build.add_argument("--quiet", action="store_true")
    build.set_defaults(func=_mouths_build)

    p = sub.add_parser("demo", help="animate the astronaut (scikit-image) with the shipped landmark track")
    p.add_argument("--out", default="demo_out")
    add_options(p, ModelOptions)
    p.set_defaults(func=_demo)


def _shipped_expressions() -> str:
    import json

    from .assets import asset

    path = asset("expressions.json")
    try:
        return ", ".join(json.loads(path.read_text())["expressions"])
    except (OSError, ValueError, KeyError):
        return "none"


class _Parser(argparse.ArgumentParser):
    """argparse's parser whose usage errors are one line, as every other error (``--help`` shows the usage)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="motiongan", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_data_commands(sub)
    _add_training_commands(sub)
    _add_inference_commands(sub)
    # sub-packages with their own commands register them here, one line each: <module>.add_commands(sub)
    from . import web
    from .speech import cli as speech_cli

    web.add_commands(sub)
    speech_cli.add_commands(sub)
    return ap


class _Terminated(BaseException):
    """SIGTERM, raised where the program is so that context managers remove their temporary files."""


def _terminate(signum, frame):
    raise _Terminated()


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    from tqdm import tqdm

    def say(message):  # a note is one plain line, above any progress bar
        tqdm.write(f"motiongan {args.command}: note: {message}", file=sys.stderr)
    try:
        with printing_notes(say):
            args.func(args)
    except (MotionGANError, FileNotFoundError) as e:
        print(f"motiongan {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"motiongan {args.command}: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"motiongan {args.command}: terminated", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
