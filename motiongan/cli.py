"""The ``motiongan`` command: prepare, train, evaluate, animate, edit, expressions, demo."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

STARTED = time.monotonic()  # for train --time-budget: the budget counts from the command's start


def _prepare(args):
    from .data.prepare import Settings, prepare

    st = Settings(size=args.size, scale=args.scale, box_sigma=args.box_sigma, quality=args.quality,
                  max_frames=args.max_frames, landmark_sigma=args.landmark_sigma)
    for src in args.src:
        m = prepare(Path(src), args.layout, Path(args.out), st, workers=args.workers, progress=not args.quiet)
    print(f"{args.out}: {len(m['clips'])} clips, {m['frames']} frames, {len(m['persons'])} people; "
          f"{len(m['failed'])} failed, {len(m['skipped'])} frames/files skipped (see manifest.json)")


def _pack(args):
    from .data.pack import pack

    test_list = None if args.test_list.lower() == "none" else args.test_list
    m = pack(args.src, args.out, args.split, test_list, args.quality, args.max_frames_per_person, args.seed,
             progress=not args.quiet)
    size = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
    print(f"{args.out}: {len(m['clips'])} clips, {m['frames']} frames, {len(m['persons'])} people, "
          f"{size / 2**20:.1f} MiB")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="motiongan", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="detect landmarks, crop and cache face videos or images")
    p.add_argument("src", nargs="+", help="source folder(s)")
    p.add_argument("--layout", required=True, choices=["300vw", "videos", "images"])
    p.add_argument("--out", required=True, help="cache folder (created; resumed if it exists)")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--scale", type=float, default=1.6, help="crop side / larger landmark extent")
    p.add_argument("--box-sigma", type=float, default=3.0, help="temporal smoothing of crop boxes (frames)")
    p.add_argument("--landmark-sigma", type=float, default=0.0,
                   help="temporal smoothing of detected landmarks, frames (0: raw)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality of cached frames")
    p.add_argument("--max-frames", type=int, default=None, help="at most this many frames per video")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("pack", help="a smaller copy of a cache (one split, capped frames per person, "
                       "re-encoded) that fits an upload limit")
    p.add_argument("src", help="prepared cache folder")
    p.add_argument("--out", required=True, help="packed cache folder (replaced if it exists)")
    p.add_argument("--split", default="train", choices=["train", "test", "all"])
    p.add_argument("--test-list", default="v1", help="fixed test people (v1, or a file); 'none': random split")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality of the packed frames")
    p.add_argument("--max-frames-per-person", type=int, default=None,
                   help="keep whole clips of each person up to this many frames")
    p.add_argument("--seed", type=int, default=0, help="which clips a capped person keeps")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_pack)

    from . import cli_model, web

    cli_model.add_commands(sub)
    web.add_commands(sub)
    from .speech import cli as cli_speech

    cli_speech.add_commands(sub)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .data.cache import CacheError
    from .face import NoFaceError
    from .landmarks import LandmarkFileError
    from .media import MediaError
    from .training.checkpoint import CheckpointError

    try:
        args.func(args)
    except (CacheError, CheckpointError, NoFaceError, LandmarkFileError, MediaError,
            FileNotFoundError, ValueError) as e:
        print(f"motiongan {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
