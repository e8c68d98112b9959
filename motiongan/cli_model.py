"""The ``motiongan`` sub-commands that use a model: train, evaluate, animate, edit, expressions, demo."""
from __future__ import annotations

from pathlib import Path


def _device(name: str | None) -> str:
    import torch

    if name:
        return name
    return "cuda" if torch.cuda.is_available() else "cpu"


def _train(args):
    from .training.config import load_config
    from .training.loop import train

    if args.resume and (Path(args.out) / "config.json").exists() and args.config is None:
        cfg = load_config(str(Path(args.out) / "config.json"), args.set)
    else:
        cfg = load_config(args.config or "paper", args.set)
    train(cfg, args.data, args.out, device=_device(args.device), resume=args.resume, steps=args.steps)


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
    p.set_defaults(func=_train)
    add_evaluate(sub)


def _evaluate(args):
    from .evaluation.evaluate import evaluate

    res = evaluate(args.checkpoint, args.data, args.out, split=args.split, device=_device(args.device),
                   max_frames=args.max_frames, seed=args.seed, test_fraction=args.test_fraction,
                   test_persons=args.test_persons)
    print((Path(args.out) / "table.md").read_text())
    print(f"LPIPS / FID / FVD: skipped ({res['meta']['skipped']})")


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="the paper's metrics and Table 1 on a prepared split")
    p.add_argument("--checkpoint", action="append", required=True, help="a checkpoint (repeat for several)")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test", choices=["train", "test", "all"],
                   help="all: every clip (for a cache that holds only test people)")
    p.add_argument("--out", required=True)
    p.add_argument("--max-frames", type=int, default=None, help="evaluate at most this many frames per clip")
    p.add_argument("--seed", type=int, default=0, help="the split's seed (as in training)")
    p.add_argument("--test-fraction", type=float, default=0.3)
    p.add_argument("--test-persons", type=int, default=None)
    p.add_argument("--device", default=None)
    p.set_defaults(func=_evaluate)
