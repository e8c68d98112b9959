"""The ``motiongan`` sub-commands that use a model: train, evaluate, animate, edit, expressions, demo."""
from __future__ import annotations

from pathlib import Path


def _device(name: str | None) -> str:
    import torch

    if name:
        return name
    return "cuda" if torch.cuda.is_available() else "cpu"


def _train(args):
    from .cli import STARTED
    from .training.config import load_config
    from .training.loop import parse_duration, train

    if args.resume and (Path(args.out) / "config.json").exists() and args.config is None:
        cfg = load_config(str(Path(args.out) / "config.json"), args.set)
    else:
        cfg = load_config(args.config or "paper", args.set)
    budget = parse_duration(args.time_budget) if args.time_budget else None
    train(cfg, args.data, args.out, device=_device(args.device), resume=args.resume, steps=args.steps,
          time_budget=budget, started=STARTED, init_generator=args.init_generator)


def add_commands(sub) -> None:
    p = sub.add_parser("train", help="train MotionGAN, an ablation or the StarGAN baseline on a prepared cache")
    p.add_argument("--config", default=None, help="paper, img_only, no_v, no_df, no_dv, stargan, small, or a "
                   "JSON file (default: paper; with --resume, the run's own config.json)")
    p.add_argument("--data", required=True, help="prepared cache folder")
    p.add_argument("--out", required=True, help="run folder, e.g. runs/paper")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override configuration values")
    p.add_argument("--steps", type=int, default=None, help="train until this step (default: the config's)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--time-budget", default=None, metavar="DURATION",
                   help="stop cleanly (checkpoint + generator export) before this much wall time since the "
                        "command started, e.g. 540s, 9m, 1h30m")
    p.add_argument("--init-generator", default=None, metavar="PATH",
                   help="start G from a generator export (a file, a shard or a folder of shards); "
                        "the discriminators start fresh (see d_warmup)")
    p.set_defaults(func=_train)
    add_evaluate(sub)
    add_compare(sub)
    add_inference(sub)
    add_demo(sub)
    add_export(sub)


def _evaluate(args):
    from .evaluation.evaluate import evaluate

    res = evaluate(args.checkpoint, args.data, args.out, split=args.split, device=_device(args.device),
                   max_frames=args.max_frames, seed=args.seed, test_fraction=args.test_fraction,
                   test_persons=args.test_persons, test_list=_test_list(args.test_list))
    print((Path(args.out) / "table.md").read_text())
    print(f"LPIPS / FID / FVD: skipped ({res['meta']['skipped']})")


def _compare(args):
    from .evaluation.compare import compare

    r = compare(args.new, args.old or _shipped_model(), args.data, args.out, device=_device(args.device),
                max_frames=args.max_frames, test_list=_test_list(args.test_list))
    print((Path(args.out) / "table.md").read_text())
    for k, d in r["differences"].items():
        print(f"{k}: new {d['new']:.2f}, old {d['old']:.2f}, difference {d['diff']:+.2f} (noise +-{d['noise']:.2f})")
    print("verdict: " + ("BETTER: ship it" if r["better"] else "not better: " + "; ".join(r["reasons"])))


def add_compare(sub) -> None:
    p = sub.add_parser("compare", help="the relay's gate: is generator NEW better than OLD on the test people?")
    p.add_argument("new", help="the new generator (export, shard or folder of shards)")
    p.add_argument("old", nargs="?", default=None, help="the generator to beat (default: the shipped one)")
    p.add_argument("--data", required=True, help="a prepared cache holding the test people")
    p.add_argument("--out", required=True)
    p.add_argument("--max-frames", type=int, default=40, help="frames per clip (the same for both)")
    p.add_argument("--test-list", default="v1")
    p.add_argument("--device", default=None)
    p.set_defaults(func=_compare)


def _test_list(value: str | None) -> str | None:
    return None if value is None or value.lower() == "none" else value


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="the paper's metrics and Table 1 on a prepared split")
    p.add_argument("--checkpoint", action="append", required=True, help="a checkpoint (repeat for several)")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test", choices=["train", "test", "all"],
                   help="all: every clip (for a cache that holds only test people)")
    p.add_argument("--out", required=True)
    p.add_argument("--max-frames", type=int, default=None, help="evaluate at most this many frames per clip")
    p.add_argument("--test-list", default="v1", help="the fixed test people (v1, or a file of person ids); "
                   "'none': a random split by --seed, --test-fraction, --test-persons (for your own data)")
    p.add_argument("--seed", type=int, default=0, help="the random split's seed (as in training)")
    p.add_argument("--test-fraction", type=float, default=0.3)
    p.add_argument("--test-persons", type=int, default=None)
    p.add_argument("--device", default=None)
    p.set_defaults(func=_evaluate)


def _load_model(args):
    from .inference.model import MotionGAN

    return MotionGAN.from_checkpoint(args.checkpoint or _shipped_model(), _device(args.device))


def _shipped_model() -> str:
    from .training.checkpoint import CheckpointError

    assets = Path(__file__).resolve().parent / "assets"
    found = sorted(assets.glob("generator*.safetensors"))  # one file, or shards 00001-of-N ...
    if not found:
        raise CheckpointError("no trained model ships with this version of MotionGAN yet; pass --checkpoint "
                              "PATH (a run's generator.safetensors or checkpoint-*.safetensors)")
    return str(found[0])


def _animate(args):
    from .inference.animate import Animator

    res = Animator(_load_model(args), compile=args.compile).animate(
        args.source, args.driving, args.output, retarget_motion=not args.no_retarget,
        side_by_side=args.side_by_side, overlay=args.overlay, paste=args.paste, fps=args.fps, progress=True)
    print(f"{res['out']}: {res['frames']} frames at {res['fps']:g} fps" + (", with audio" if res["audio"] else ""))


def _edit(args):
    import numpy as np

    from .face import FaceLandmarker
    from .inference import edit as E
    from .inference.animate import Animator, load_source
    from .landmarks import read_pts
    from .media import read_image, write_image

    if (args.target is None) == (args.expression is None):
        raise ValueError("give exactly one of --target IMAGE_OR_PTS and --expression NAME")
    model = _load_model(args)
    lm = FaceLandmarker()
    source = load_source(args.source, model.size, lm)
    data = E.load_expressions(args.expressions)
    if args.expression:
        target = E.named_expression(source.landmarks, args.expression, data, args.strength)
    else:
        t = Path(args.target)
        shape = read_pts(t) if t.suffix.lower() == ".pts" else lm(read_image(t), str(t))
        neutral = None
        if args.target_neutral:
            n = Path(args.target_neutral)
            neutral = read_pts(n) if n.suffix.lower() == ".pts" else lm(read_image(n), str(n))
        target = E.transfer_expression(source.landmarks, shape, neutral, data, args.strength)
    frame = next(Animator(model, lm).frames(source, target[None]))
    if args.paste:
        from .inference.animate import paste_back

        frame = paste_back(source.image, frame, source.matrix)
    write_image(args.output, frame)
    if args.save_landmarks:
        np.save(Path(args.output).with_suffix(".landmarks.npy"), target)
    print(f"{args.output}: written")


def _expressions(args):
    from .face import FaceLandmarker, NoFaceError
    from .data.prepare import IMAGE_SUFFIXES, image_person_and_label
    from .inference import edit as E
    from .media import read_image

    lm, shapes, skipped = FaceLandmarker(upsample=1), {}, 0
    for f in sorted(Path(args.src).rglob("*")):
        if f.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        person, label = image_person_and_label(f.stem)
        try:
            shapes.setdefault(f"{f.parent}/{person}", {})[label] = lm(read_image(f), str(f))
        except NoFaceError:
            skipped += 1
    data = E.compute_expressions(shapes, args.neutral)
    E.save_expressions(args.output, data)
    print(f"{args.output}: " + ", ".join(f"{k} ({v['people']} people)" for k, v in data["expressions"].items())
          + f"; {skipped} images without a face")


def _model_args(p):
    p.add_argument("--checkpoint", default=None, help="default: the model the project ships")
    p.add_argument("--device", default=None)


def add_inference(sub) -> None:
    p = sub.add_parser("animate", help="animate a face image from a driving video or landmark track")
    p.add_argument("source", help="face image")
    p.add_argument("driving", help="video, .npy landmark track (N x 68 x 2) or folder of .pts files")
    p.add_argument("-o", "--output", required=True, help="output .mp4")
    p.add_argument("--no-retarget", action="store_true", help="use the driving landmarks as given (paper)")
    p.add_argument("--side-by-side", action="store_true", help="source | driving with landmarks | result")
    p.add_argument("--overlay", action="store_true", help="draw the target landmarks on the result")
    p.add_argument("--paste", action="store_true", help="paste the generated crop back into the source image")
    p.add_argument("--fps", type=float, default=None, help="default: the driver's (25 for landmark files)")
    p.add_argument("--compile", action="store_true", help="torch.compile the generator (for long videos)")
    _model_args(p)
    p.set_defaults(func=_animate)

    p = sub.add_parser("edit", help="change a face's expression (from another face or a named expression)")
    p.add_argument("source")
    p.add_argument("--target", default=None, help="image or .pts whose expression to transfer")
    p.add_argument("--target-neutral", default=None, help="the target person's neutral image or .pts")
    p.add_argument("--expression", default=None, help="a named expression (see --expressions file)")
    p.add_argument("--expressions", default=None, help="expressions file (default: the shipped one)")
    p.add_argument("--strength", type=float, default=1.0)
    p.add_argument("--paste", action="store_true")
    p.add_argument("--save-landmarks", action="store_true")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg)")
    _model_args(p)
    p.set_defaults(func=_edit)

    p = sub.add_parser("expressions", help="measure named expressions from a labelled face-image folder")
    p.add_argument("src", help="folder of PERSON_LABEL images (e.g. ../shared/data/expressions/yale)")
    p.add_argument("--neutral", default="normal", help="the label of neutral faces")
    p.add_argument("-o", "--output", required=True, help="output .json")
    p.set_defaults(func=_expressions)


def _demo(args):
    import numpy as np
    from skimage import data as skdata

    from .draw import draw_landmarks, grid
    from .inference.animate import Animator, load_driving, load_source, target_track
    from .media import VideoWriter, write_image

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    anim = Animator(_load_model(args))
    size = anim.model.size
    source = load_source(skdata.astronaut(), size, anim.landmarker, "astronaut (scikit-image)")
    driving = load_driving(Path(__file__).resolve().parent / "assets" / "demo_track.npy")
    targets = target_track(source, driving, size)
    frames = []
    with VideoWriter(out / "demo.mp4", driving.fps) as plain, \
            VideoWriter(out / "demo_side_by_side.mp4", driving.fps) as sbs:
        for frame, t in zip(anim.frames(source, targets), targets):
            plain.write(frame)
            sbs.write(np.concatenate([source.crop, draw_landmarks(np.zeros_like(frame), t, radius=1), frame], 1))
            frames.append(frame)
    picks = np.linspace(0, len(frames) - 1, 7).round().astype(int)
    write_image(out / "demo_strip.png", grid([source.crop] + [frames[i] for i in picks], 8))
    print(f"{out}: demo.mp4 ({len(frames)} frames), demo_side_by_side.mp4 (source | target landmarks | "
          "generated), demo_strip.png (source, then 7 generated frames)")


def add_demo(sub) -> None:
    p = sub.add_parser("demo", help="animate the astronaut (scikit-image) with the shipped landmark track")
    p.add_argument("--out", default="demo_out")
    _model_args(p)
    p.set_defaults(func=_demo)


def _export(args):
    from .inference.model import MotionGAN
    from .training.checkpoint import save_generator

    model = MotionGAN.from_checkpoint(args.checkpoint)
    files = save_generator(args.output, model.G, model.config.to_json(), model.step, half=args.half,
                           shard_mb=args.shard_mb)
    for f in files:
        print(f"{f}: {f.stat().st_size / 2**20:.1f} MiB")


def add_export(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint's generator (fp16, shards) for inference or shipping")
    p.add_argument("checkpoint", help="a training checkpoint, generator export, shard or folder of shards")
    p.add_argument("-o", "--output", required=True, help="output .safetensors (shards get -0000i-of-0000n)")
    p.add_argument("--half", action="store_true", help="store weights in fp16")
    p.add_argument("--shard-mb", type=float, default=None, help="at most this many MiB per file")
    p.set_defaults(func=_export)
