"""The speech sub-commands: ``speak``, ``train-speech``, ``evaluate-speech`` (thin wrappers)."""
from __future__ import annotations

import shlex
import sys

from ..models import ModelOptions, SpeechModelOptions
from ..options import add_options, options_from
from .data import SpeechDataOptions


def _speak(args):
    from ..inference.donors import check_mouths
    from ..media import check_output, read_image
    from ..models import resolve_device
    from .dub import check_source_video
    from .speak import SpeakOptions, check_request, check_source, is_video, speak

    options, models = options_from(args, SpeakOptions), options_from(args, ModelOptions)
    generator = models.checkpoint is not None or (args.output is not None and not args.draw)
    video = is_video(args.source)  # a video is dubbed: its frames are warped, no generator
    check_source(args.source, options)  # a video takes no --size; a photo's is checked against the model by speak
    if not video:
        check_request(args.output, args.landmarks_only, generator, options)
    check_mouths(options.mouths, None, source_video=video)
    for out, suffix in ((args.output, ".mp4"), (args.landmarks_only, ".npy")):
        if out is not None:
            check_output(out, {suffix})
    resolve_device(models.device)
    if video:
        check_source_video(args.source)
        generator = False
    else:
        read_image(args.source)  # a missing or unreadable image is reported before the models load
    sm = options_from(args, SpeechModelOptions).load()
    res = speak(args.source, args.audio, args.output, args.landmarks_only, options,
                model=models.load() if generator else None, speech_model=sm, progress=not args.quiet)
    if "out" in res:
        print(f"{res['out']}: {res['written']} frames at {res['fps']:g} fps ({res['seconds']:.2f} s of speech), "
              "with audio" + (f"; dubbed from {res['source_frames']} source frames ({res['loop']}), "
                              f"{res['unchanged']} without a face left as they were" if "source_frames" in res else ""))
    if "landmarks" in res:
        print(f"{res['landmarks']}: {res['frames']} x 68 x 2 landmarks (source image pixels)")


def _train_speech(args):
    from ..media import check_output, check_output_folder
    from .evaluate import table
    from .train import SpeechTrainOptions, train_speech

    cmd = "motiongan " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else ""
    options, where = options_from(args, SpeechTrainOptions), options_from(args, SpeechDataOptions)
    check_output(args.output, {".safetensors"}, create_folder=True)
    check_output_folder(where.tracks)
    model = train_speech(where.data, args.output, where.tracks, options, progress=not args.quiet, command=cmd)
    print(f"{args.output}: {model.info['frames']} frames of {model.info['clips']} clips, "
          f"{model.info['people']} people, {model.info['seconds']:.0f} s; output scale {model.scale:g}")
    print(table(model.info["validation"]))


def _evaluate_speech(args):
    import json

    from ..media import atomic_write_bytes
    from .evaluate import evaluate_speech, table

    where = options_from(args, SpeechDataOptions)
    res = evaluate_speech(options_from(args, SpeechModelOptions).load(), where.data, where.tracks, args.workers,
                          progress=not args.quiet)
    print(table(res))
    if args.json:
        atomic_write_bytes(args.json, json.dumps(res, indent=1).encode())


def add_commands(sub) -> None:
    from .speak import SpeakOptions
    from .train import SpeechTrainOptions

    p = sub.add_parser("speak", help="a talking-face video (or landmarks) from a face image and a recording")
    p.add_argument("source", help="face image, or a video of the person to dub (its own frames, motion and mouths)")
    p.add_argument("audio", help="speech: any file ffmpeg reads (wav, mp3, m4a, a video's audio)")
    p.add_argument("-o", "--output", default=None, help="output .mp4 (the recording's audio is muxed in)")
    p.add_argument("--landmarks-only", default=None, metavar="OUT.npy",
                   help="write the landmark track (N x 68 x 2, source image pixels)")
    add_options(p, SpeakOptions)
    add_options(p, ModelOptions)
    add_options(p, SpeechModelOptions)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_speak)

    p = sub.add_parser("train-speech", help="train the speech-to-landmarks model (CPU, minutes); prints the "
                                            "validation figures (the test groups: evaluate-speech)")
    add_options(p, SpeechDataOptions)
    p.add_argument("-o", "--output", required=True, help="output .safetensors")
    add_options(p, SpeechTrainOptions)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_train_speech)

    p = sub.add_parser("evaluate-speech", help="speech model vs baselines on held-out sentences and speakers")
    add_options(p, SpeechModelOptions)
    add_options(p, SpeechDataOptions)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", default=None, help="also write the figures as JSON")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_evaluate_speech)
