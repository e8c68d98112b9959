"""The bad-input corpus (issues 16 and 24): every case of every command ends with exit code 2 and one line
that names the file or setting at fault, leaves nothing at the output name and an existing output
unchanged."""
import contextlib
import errno
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from motiongan.cli import main
from motiongan.config import load_config
from motiongan.data.prepare import Settings, prepare
from motiongan.inference import MotionGAN
from motiongan.media import VideoWriter, ffmpeg_exe, write_image
from motiongan.networks import Generator
from motiongan.training.loop import train

TINY = ["image_size=64", "width=8", "n_res=2", "d_width=4", "d_res=2", "dv_width=4", "dv_res=2", "batch=1",
        "T=2", "workers=0", "use_v=false", "test_persons=0"]


@pytest.fixture(scope="module")
def f(tmp_path_factory, data_dir):
    """The files the cases use: good ones (a face, a track, a tiny generator, a cache) and bad ones."""
    d = tmp_path_factory.mktemp("corpus")
    cfg = load_config("small", TINY)
    torch.manual_seed(0)
    (gen,) = MotionGAN(Generator(**cfg.generator_kwargs()), cfg).export(d / "g.safetensors")
    track = np.load(os.path.join(os.path.dirname(__file__), "..", "motiongan", "assets", "demo_track.npy"))[:3]
    np.save(d / "track.npy", track)
    (d / "empty.npy").write_bytes(b"")
    np.save(d / "wrong.npy", np.zeros((3, 67, 2), np.float32))
    data = gen.read_bytes()
    (d / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    torch.save({"w": torch.zeros(1)}, d / "pickled.safetensors")
    (d / "bad.json").write_text("{ not json")
    (d / "table.json").write_text(json.dumps({"no": "expressions"}))
    (d / "garbage.png").write_bytes(b"not an image" * 20)
    (d / "bad.pts").write_text("version: 1\nn_points: 68\n{\n1 2\n}\n")
    (d / "nopts").mkdir()
    (d / "emptydir").mkdir()
    (d / "afile").write_text("x")
    (d / "exists.mp4").write_bytes(b"keep me")
    src = d / "videos"
    src.mkdir()
    os.symlink(data_dir / "grid" / "bbaf2n.mpg", src / "bbaf2n.mpg")
    prepare(src, "videos", d / "cache", Settings(size=64, max_frames=6), workers=1, progress=False)
    os.symlink(data_dir / "stills68" / "image_0001.png", d / "face.png")
    _speech_files(d, data_dir)
    _mouth_files(d, data_dir)
    return d


def _mouth_files(d: Path, data_dir: Path) -> None:
    """Donor sources for ``--mouths``: a bank of an older version, and a folder whose one face keeps its
    mouth closed."""
    from safetensors.numpy import save_file

    save_file({"mouth.crops": np.zeros((1, 8, 8, 3), np.uint8)}, str(d / "old_bank.safetensors"),
              metadata={"format": "motiongan-mouths", "version": "0", "parts": '["mouth"]'})
    (d / "closed").mkdir()
    os.symlink(data_dir / "expressions" / "yale" / "01_normal.png", d / "closed" / "01_normal.png")
    np.save(d / "same.npy", np.full((3, 68, 2), 40.0, np.float32))  # every point of a frame in one place
    (d / "text.npy").write_text("0 1 2\n3 4 5\n")


def _speech_files(d: Path, data_dir: Path) -> None:
    """Recordings for ``speak`` (one good, the rest bad), a face-less image and clips without sound."""
    def ffmpeg(*args):
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", *map(str, args)], check=True)

    ffmpeg("-i", data_dir / "grid" / "bbaf2n.mpg", "-vn", "-ac", "1", "-t", "1", d / "speech.wav")
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0.5", d / "silent.wav")
    (d / "empty.wav").write_bytes(b"")
    (d / "noise.mp3").write_bytes(np.random.default_rng(0).bytes(4096))
    with VideoWriter(d / "noaudio.mp4", 25) as vw:  # a video without sound
        for i in range(3):
            vw.write(np.full((64, 64, 3), 60 * i, np.uint8))
    (d / "mute" / "talking").mkdir(parents=True)  # laid out like ../shared/data, but no clip has sound
    shutil.copy(d / "noaudio.mp4", d / "mute" / "talking" / "noaudio.mp4")
    write_image(d / "wall.png", np.full((120, 120, 3), 200, np.uint8))


@pytest.fixture(scope="module")
def busy_port():
    """A port of 127.0.0.1 that something is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _cases():
    m = ["--checkpoint", "{g}"]
    anim = ["animate", "{face}", "{track}", "-o", "{out}/o.mp4"]
    edit = ["edit", "{face}", "--expression", "happy", "-o", "{out}/e.png"]
    ev = ["evaluate", "--checkpoint", "{g}", "--data", "{cache}", "--split", "all", "--test-list", "none",
          "--out", "{out}/ev"]
    tr = ["train", "--config", "small", "--data", "{cache}", "--out", "{out}/run", "--set", *TINY]
    return {
        # animate
        "animate: missing source": (["animate", "{d}/nope.png", "{track}", "-o", "{out}/o.mp4"], "nope.png"),
        "animate: missing driving": (["animate", "{face}", "{d}/nope.npy", "-o", "{out}/o.mp4"], "nope.npy"),
        "animate: 0-byte track": (["animate", "{face}", "{d}/empty.npy", "-o", "{out}/o.mp4", *m], "empty.npy"),
        "animate: track of 67 points": (["animate", "{face}", "{d}/wrong.npy", "-o", "{out}/o.mp4", *m],
                                        "wrong.npy"),
        "animate: source not an image": (["animate", "{d}/garbage.png", "{track}", "-o", "{out}/o.mp4", *m],
                                         "garbage.png"),
        "animate: folder without .pts": (["animate", "{face}", "{d}/nopts", "-o", "{out}/o.mp4", *m], "nopts"),
        "animate: truncated checkpoint": ([*anim, "--checkpoint", "{d}/truncated.safetensors"],
                                          "truncated.safetensors"),
        "animate: pickled checkpoint": ([*anim, "--checkpoint", "{d}/pickled.safetensors"], "pickled.safetensors"),
        "animate: missing checkpoint": ([*anim, "--checkpoint", "{d}/nope.safetensors"], "nope.safetensors"),
        "animate: output in a missing folder": (["animate", "{face}", "{track}", "-o", "{out}/no/o.mp4", *m],
                                                "no"),
        "animate: output onto a folder": (["animate", "{face}", "{track}", "-o", "{d}/emptydir", *m], "emptydir"),
        "animate: output .txt": (["animate", "{face}", "{track}", "-o", "{out}/o.txt", *m], "o.txt"),
        "animate: --device nonsense": ([*anim, *m, "--device", "toaster"], "toaster"),
        "animate: bad track before 'no model'": (["animate", "{face}", "{d}/empty.npy", "-o", "{out}/o.mp4"],
                                                 "empty.npy"),
        "edit: bad expressions before 'no model'": ([*edit, "--expressions", "{d}/bad.json"], "bad.json"),
        # ranges declared once in the options (options.py), refused before anything is read
        "prepare: --size 0": (["prepare", "{d}/videos", "--layout", "videos", "--out", "{out}/c", "--size", "0"],
                              "--size"),
        "prepare: --quality 101": (["prepare", "{d}/videos", "--layout", "videos", "--out", "{out}/c", "--quality",
                                    "101"], "--quality"),
        "animate: --fps 0": ([*anim, "--fps", "0"], "--fps"),
        "animate: --fps -1": ([*anim, "--fps", "-1"], "--fps"),
        "animate: --fps nan": ([*anim, "--fps", "nan"], "--fps"),
        "animate: --max-frames 0": ([*anim, "--max-frames", "0"], "--max-frames"),
        "edit: --strength 50": ([*edit, "--strength", "50"], "--strength"),
        "animate: --size 12x": ([*anim, "--size", "12x"], "--size"),
        "edit: --size 9000": ([*edit, "--size", "9000"], "--size"),
        # --size against the model (a fixed-size paper's G: its 64 px only), before any face is looked for: the
        # photo has none, and that would be another error
        "animate: --size 256 for the paper's G": (["animate", "{d}/wall.png", "{track}", "-o", "{out}/o.mp4", *m,
                                                   "--size", "256"], "--size"),
        "edit: --size native for the paper's G": (["edit", "{d}/wall.png", "--expression", "happy", "-o",
                                                   "{out}/e.png", *m, "--size", "native"], "--size"),
        "animate: a track whose points all coincide": (["animate", "{face}", "{d}/same.npy", "-o", "{out}/o.mp4"],
                                                       "same.npy"),
        "animate: a text file named .npy": (["animate", "{face}", "{d}/text.npy", "-o", "{out}/o.mp4"], "text.npy"),
        "animate: output in /proc": (["animate", "{face}", "{track}", "-o", "/proc/o.mp4"], "/proc"),
        # --mouths (animate, edit) and mouths build
        "animate: --mouths missing file": ([*anim, "--mouths", "{d}/nope.mp4"], "nope.mp4"),
        "animate: --mouths a video with no face": ([*anim, "--mouths", "{d}/noaudio.mp4"], "noaudio.mp4"),
        "animate: --mouths a generator, not a bank": ([*anim, "--mouths", "{g}"], "g.safetensors"),
        "animate: --mouths a bank of another version": ([*anim, "--mouths", "{d}/old_bank.safetensors"],
                                                        "old_bank.safetensors"),
        "animate: --mouths a folder with no open mouth": ([*anim, "--mouths", "{d}/closed"], "closed"),
        "animate: --mouths a folder without images": ([*anim, "--mouths", "{d}/emptydir"], "emptydir"),
        "animate: --mouths driver with a landmark track": ([*anim, "--mouths", "driver"], "--mouths"),
        "animate: --mouths own from a photo": ([*anim, "--mouths", "own"], "--mouths"),
        "animate: --mouths a text file": ([*anim, "--mouths", "{d}/bad.json"], "bad.json"),
        "edit: --mouths driver": ([*edit, "--mouths", "driver"], "--mouths"),
        "mouths build: missing source": (["mouths", "build", "{d}/nope.mp4", "-o", "{out}/b.safetensors"], "nope.mp4"),
        "mouths build: a video with no face": (["mouths", "build", "{d}/noaudio.mp4", "-o", "{out}/b.safetensors"],
                                               "noaudio.mp4"),
        "mouths build: output .txt": (["mouths", "build", "{d}/closed", "-o", "{out}/b.txt"], "b.txt"),
        # edit
        "edit: malformed expressions file": ([*edit, "--expressions", "{d}/bad.json", *m], "bad.json"),
        "edit: expressions file without a table": ([*edit, "--expressions", "{d}/table.json", *m], "table.json"),
        "edit: unknown expression": (["edit", "{face}", "--expression", "grumpy", "-o", "{out}/e.png", *m],
                                     "grumpy"),
        "edit: both target and expression": ([*edit, "--target", "{face}", *m], "--target"),
        "edit: neither target nor expression": (["edit", "{face}", "-o", "{out}/e.png", *m], "--expression"),
        "edit: missing source": (["edit", "{d}/nope.png", "--expression", "happy", "-o", "{out}/e.png"],
                                 "nope.png"),
        "edit: malformed target .pts": (["edit", "{face}", "--target", "{d}/bad.pts", "-o", "{out}/e.png", *m],
                                        "bad.pts"),
        "edit: output .mp4": (["edit", "{face}", "--expression", "happy", "-o", "{out}/e.mp4", *m], "e.mp4"),
        "edit: output in a missing folder": (["edit", "{face}", "--expression", "happy", "-o",
                                              "{out}/no/e.png", *m], "no"),
        # evaluate
        "evaluate: --max-frames 0": ([*ev, "--max-frames", "0"], "--max-frames"),
        "evaluate: missing checkpoint": (["evaluate", "--checkpoint", "{d}/nope.safetensors", "--data", "{cache}",
                                          "--out", "{out}/ev"], "nope.safetensors"),
        "evaluate: missing cache": (["evaluate", "--checkpoint", "{g}", "--data", "{d}/nocache", "--out",
                                     "{out}/ev"], "nocache"),
        "evaluate: a cache that is not one": (["evaluate", "--checkpoint", "{g}", "--data", "{d}/emptydir",
                                               "--out", "{out}/ev"], "emptydir"),
        "evaluate: --out is a file": (["evaluate", "--checkpoint", "{g}", "--data", "{cache}", "--out",
                                       "{d}/afile"], "afile"),
        # train
        "train: --set batch=abc": ([*tr, "batch=abc"], "batch"),
        "train: --set unknown key": ([*tr, "learning_rate=1"], "learning_rate"),
        "train: --set without =": ([*tr, "batch"], "batch"),
        "train: missing config": (["train", "--config", "{d}/nope.json", "--data", "{cache}", "--out",
                                   "{out}/run"], "nope.json"),
        "train: missing cache": (["train", "--config", "small", "--data", "{d}/nocache", "--out", "{out}/run"],
                                 "nocache"),
        "train: --resume with nothing to resume": ([*tr, "--resume"], "run"),
        "train: bad --time-budget": ([*tr, "--time-budget", "soon"], "soon"),
        "train: truncated --init-generator": ([*tr, "--init-generator", "{d}/truncated.safetensors"],
                                              "truncated.safetensors"),
        "train: --device nonsense": ([*tr, "--device", "toaster"], "toaster"),
        # export
        "export: truncated checkpoint": (["export", "{d}/truncated.safetensors", "-o", "{out}/x.safetensors"],
                                         "truncated.safetensors"),
        "export: output .txt": (["export", "{g}", "-o", "{out}/x.txt"], "x.txt"),
        "export: output folder under a file": (["export", "{g}", "-o", "{d}/afile/x.safetensors"], "afile"),
        # prepare, pack, expressions
        "prepare: missing source": (["prepare", "{d}/nosrc", "--layout", "videos", "--out", "{out}/c"], "nosrc"),
        "prepare: empty folder": (["prepare", "{d}/emptydir", "--layout", "videos", "--out", "{out}/c"],
                                  "emptydir"),
        "prepare: wrong layout": (["prepare", "{d}/videos", "--layout", "images", "--out", "{out}/c"], "videos"),
        "prepare: --out is a file": (["prepare", "{d}/videos", "--layout", "videos", "--out", "{d}/afile"],
                                     "afile"),
        "pack: missing cache": (["pack", "{d}/nocache", "--out", "{out}/p"], "nocache"),
        "expressions: missing folder": (["expressions", "{d}/nosrc", "-o", "{out}/x.json"], "nosrc"),
        "expressions: output .txt": (["expressions", "{d}/emptydir", "-o", "{out}/x.txt"], "x.txt"),
        **_speech_cases(m),
    }


def _speech_cases(m):
    """``speak``, ``train-speech`` and ``web``."""
    sp = ["speak", "{face}", "{d}/speech.wav", "-o", "{out}/s.mp4", *m]
    audio = lambda name: ["speak", "{face}", f"{{d}}/{name}", "-o", "{out}/s.mp4", *m]  # noqa: E731
    ts = ["train-speech", "--data", "{d}/emptydir", "--tracks", "{out}/tracks", "-o", "{out}/m.safetensors"]
    web = ["web", "--checkpoint", "{g}", "--port", "{port}"]
    return {
        "speak: neither -o nor --landmarks-only": (["speak", "{face}", "{d}/speech.wav"], "-o"),
        "speak: missing audio": (audio("nope.wav"), "nope.wav"),
        "speak: 0-byte audio": (audio("empty.wav"), "empty.wav"),
        "speak: audio that cannot be decoded": (audio("noise.mp3"), "noise.mp3"),
        "speak: silence": (audio("silent.wav"), "silent.wav"),
        "speak: a video without sound": (audio("noaudio.mp4"), "noaudio.mp4"),
        "speak: longer than --max-seconds": ([*sp, "--max-seconds", "0.5"], "speech.wav"),
        "speak: no face in the image": (["speak", "{d}/wall.png", "{d}/speech.wav", "-o", "{out}/s.mp4", *m],
                                        "wall.png"),
        "speak: source not an image": (["speak", "{d}/garbage.png", "{d}/speech.wav", "-o", "{out}/s.mp4", *m],
                                       "garbage.png"),
        "speak: missing source": (["speak", "{d}/nope.png", "{d}/speech.wav", "-o", "{out}/s.mp4", *m], "nope.png"),
        "speak: output .txt": (["speak", "{face}", "{d}/speech.wav", "-o", "{out}/s.txt", *m], "s.txt"),
        "speak: --landmarks-only .txt": (["speak", "{face}", "{d}/speech.wav", "--landmarks-only", "{out}/l.txt"],
                                         "l.txt"),
        "speak: output in a missing folder": (["speak", "{face}", "{d}/speech.wav", "-o", "{out}/no/s.mp4", *m],
                                              "no"),
        "speak: --fps 0": ([*sp, "--fps", "0"], "--fps"),
        "speak: --size 256 for the paper's G": (["speak", "{d}/wall.png", "{d}/speech.wav", "-o", "{out}/s.mp4", *m,
                                                 "--size", "256"], "--size"),
        "speak: --size for a dubbed video": (["speak", "{d}/noaudio.mp4", "{d}/speech.wav", "-o", "{out}/s.mp4",
                                              "--size", "256"], "--size"),
        "speak: --fps 1000": ([*sp, "--fps", "1000"], "--fps"),
        "speak: missing speech model": ([*sp, "--speech-model", "{d}/nope.safetensors"], "nope.safetensors"),
        "speak: a generator as the speech model": ([*sp, "--speech-model", "{g}"], "g.safetensors"),
        "speak: --device nonsense": ([*sp, "--device", "toaster"], "toaster"),
        "train-speech: missing data folder": (["train-speech", "--data", "{d}/nodata", "-o", "{out}/m.safetensors",
                                               "--tracks", "{out}/tracks"], "nodata"),
        "train-speech: data without clips": (ts, "emptydir"),
        "train-speech: clips without sound": (["train-speech", "--data", "{d}/mute", "--tracks", "{out}/tracks", "-o",
                                               "{out}/m.safetensors"], "mute"),
        "train-speech: output .txt": ([*ts[:-1], "{out}/m.txt"], "m.txt"),
        "train-speech: output folder under a file": ([*ts[:-1], "{d}/afile/m.safetensors"], "afile"),
        "train-speech: --tracks is a file": (["train-speech", "--data", "{d}/emptydir", "--tracks", "{d}/afile", "-o",
                                              "{out}/m.safetensors"], "afile"),
        "train-speech: --epochs 0": ([*ts, "--epochs", "0"], "--epochs"),
        "web: port in use": (web, "127.0.0.1:{port}"),
        "web: --max-frames 0": ([*web, "--max-frames", "0"], "--max-frames"),
        "web: --port 99999": (["web", "--checkpoint", "{g}", "--port", "99999"], "--port"),
        "web: missing checkpoint": (["web", "--checkpoint", "{d}/nope.safetensors", "--port", "0"],
                                    "nope.safetensors"),
        "web: --device nonsense": (["web", "--checkpoint", "{g}", "--port", "0", "--device", "toaster"], "toaster"),
    }


CASES = _cases()


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_naming_it_and_no_output(case, f, tmp_path, capsys, busy_port):
    if case.startswith("web:") and importlib.util.find_spec("gradio") is None:
        pytest.skip("gradio is not installed (pip install 'motiongan[web]'): motiongan web says only that")
    argv, named = CASES[case]
    paths = {"d": f, "face": f / "face.png", "track": f / "track.npy", "g": f / "g.safetensors", "cache": f / "cache",
             "out": tmp_path, "port": busy_port}
    argv, named = [a.format(**paths) for a in argv], named.format(**paths)
    before = {p: p.read_bytes() for p in f.rglob("*") if p.is_file()}
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in lines[0], lines
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file, no run folder
    assert before == {p: p.read_bytes() for p in f.rglob("*") if p.is_file()}  # inputs and outputs unchanged


def test_device_cuda_without_cuda_is_a_user_error(f, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["animate", str(f / "face.png"), str(f / "track.npy"), "-o", str(tmp_path / "o.mp4"), "--checkpoint",
                 str(f / "g.safetensors"), "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def _animate_until_the_video_is_started(f, tmp_path, out: Path) -> subprocess.Popen:
    np.save(tmp_path / "long.npy", np.repeat(np.load(f / "track.npy")[:1], 3000, 0))
    proc = subprocess.Popen([sys.executable, "-m", "motiongan.cli", "animate", str(f / "face.png"),
                             str(tmp_path / "long.npy"), "-o", str(out / "o.mp4"), "--checkpoint",
                             str(f / "g.safetensors")], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob(".o.tmp*.mp4")) and proc.poll() is None:
        time.sleep(0.1)
    assert list(out.glob(".o.tmp*.mp4")), "the video was not started"
    return proc


@pytest.mark.slow
def test_the_partial_video_of_a_killed_animate_is_removed_by_the_next_run_to_that_output(f, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    proc = _animate_until_the_video_is_started(f, tmp_path, out)
    proc.kill()  # SIGKILL: nothing can clean up
    proc.communicate(timeout=60)
    other = out / f".other.tmp{proc.pid}.mp4"  # another output's temporary, also of a dead process
    other.write_bytes(b"")
    assert main(["animate", str(f / "face.png"), str(f / "track.npy"), "-o", str(out / "o.mp4"),
                 "--checkpoint", str(f / "g.safetensors")]) == 0
    assert sorted(p.name for p in out.iterdir()) == [other.name, "o.mp4"]


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_animate_says_so_and_leaves_no_partial_video(sig, code, f, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    proc = _animate_until_the_video_is_started(f, tmp_path, out)
    proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == code and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("motiongan animate: ")
    assert list(out.iterdir()) == []  # no partial video, no temporary file


# ------------------------------------------------------------------------------ read-only output locations
def _obeying_permissions() -> list[str]:
    """A command prefix under which a child process is refused a read-only folder. Root ignores permission
    bits through two capabilities, so as root they are dropped from the child's bounding set (with
    util-linux's setpriv): the child stays uid 0, owner of the test files, and is denied writing where the
    owner may not. (Running it as 'nobody' instead would need the interpreter, here a pyenv under /root,
    to be readable by everyone.)"""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv (util-linux): cannot make a folder read-only to a child")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([*_obeying_permissions(), sys.executable, "-m", "motiongan.cli", *argv],
                          capture_output=True, text=True, timeout=120)


def _read_only(*folders: Path) -> None:
    for folder in folders:
        folder.chmod(0o555)
    probe = subprocess.run([*_obeying_permissions(), sys.executable, "-c", f"open({str(folders[0] / 'p')!r}, 'w')"],
                           capture_output=True, text=True)
    if "PermissionError" not in probe.stderr:  # the case would prove nothing
        pytest.fail(f"{folders[0]} is not read-only to a child process: {probe.stderr or 'it wrote a file'}")


def _ro_animate(f, ro):
    (ro / "o.mp4").write_bytes(b"an earlier video")
    return ["animate", f / "face.png", f / "track.npy", "-o", ro / "o.mp4", "--checkpoint", f / "g.safetensors"], [ro]


def _ro_edit(f, ro):
    (ro / "e.png").write_bytes(b"an earlier edit")
    return ["edit", f / "face.png", "--expression", "happy", "-o", ro / "e.png", "--checkpoint",
            f / "g.safetensors"], [ro]


def _ro_evaluate(f, ro):
    (ro / "table.md").write_text("an earlier evaluation")
    return ["evaluate", "--checkpoint", f / "g.safetensors", "--data", f / "cache", "--split", "all", "--test-list",
            "none", "--out", ro], [ro]


def _ro_prepare(f, ro):  # a prepared cache, all read-only
    shutil.copytree(f / "cache", ro, dirs_exist_ok=True)
    return ["prepare", f / "videos", "--layout", "videos", "--out", ro, "--size", "64"], [ro, ro / "clips",
                                                                                          ro / "records"]


def _ro_prepare_clips(f, ro):  # an empty cache: the cache folder is writable, the folder of its clips is not
    shutil.copytree(f / "cache", ro, dirs_exist_ok=True)
    for p in [*(ro / "clips").iterdir(), *(ro / "records").iterdir()]:
        p.unlink()
    return ["prepare", f / "videos", "--layout", "videos", "--out", ro, "--size", "64"], [ro / "clips"]


def _ro_export(f, ro):
    (ro / "x.safetensors").write_bytes(b"an earlier export")
    return ["export", f / "g.safetensors", "-o", ro / "x.safetensors", "--half"], [ro]


def _ro_speak(f, ro):
    (ro / "s.mp4").write_bytes(b"an earlier video")
    return ["speak", f / "face.png", f / "speech.wav", "-o", ro / "s.mp4", "--checkpoint", f / "g.safetensors"], [ro]


def _ro_speak_landmarks(f, ro):
    return ["speak", f / "face.png", f / "speech.wav", "--landmarks-only", ro / "l.npy"], [ro]


def _ro_train_speech(f, ro):
    return ["train-speech", "--data", f / "emptydir", "--tracks", ro / "tracks", "-o", ro / "m.safetensors"], [ro]


READ_ONLY = {"animate -o": _ro_animate, "edit -o": _ro_edit, "evaluate --out": _ro_evaluate,
             "prepare --out": _ro_prepare, "prepare --out, clips folder read-only": _ro_prepare_clips,
             "export -o": _ro_export, "speak -o": _ro_speak, "speak --landmarks-only": _ro_speak_landmarks,
             "train-speech -o": _ro_train_speech}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(READ_ONLY))
def test_a_read_only_output_location_exits_2_naming_it_and_writes_nothing(case, f, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    argv, read_only = READ_ONLY[case](f, ro)  # the first read-only folder is the one the message names
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    try:
        _read_only(*read_only)
        res = _cli(*map(str, argv))
    finally:
        for folder in read_only:
            folder.chmod(0o755)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1 and f"{read_only[0]}: folder is not writable" in lines[0], lines
    assert before == {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}  # nothing written or changed


# -------------------------------------------------------------------------------------- interruptions
def _children(pid: int) -> set[int]:
    found = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as stat:
            if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:  # after the name: state, parent
                found.add(int(entry))
    return found


def _prepare_two_grid_videos(data_dir, tmp_path, out, frames: int) -> list[str]:
    """``motiongan prepare`` arguments for two GRID videos (two people) into ``out`` at 64 px."""
    src = tmp_path / "videos"
    src.mkdir()
    for name in ("bbaf2n", "brbk7n"):
        os.symlink(data_dir / "grid" / f"{name}.mpg", src / f"{name}.mpg")
    return ["prepare", str(src), "--layout", "videos", "--out", str(out), "--size", "64", "--max-frames",
            str(frames), "--quiet"]


@pytest.mark.slow
@pytest.mark.parametrize("sig, code, said", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_an_interrupted_prepare_kills_its_workers_removes_their_temporary_files_and_resumes(sig, code, said, data_dir,
                                                                                          tmp_path, capsys):
    out = tmp_path / "cache"
    argv = _prepare_two_grid_videos(data_dir, tmp_path, out, 30)
    proc = subprocess.Popen([sys.executable, "-m", "motiongan.cli", *argv, "--workers", "2"], stderr=subprocess.PIPE,
                            text=True)
    deadline, workers = time.time() + 60, set()
    while time.time() < deadline and len(workers) < 2 and proc.poll() is None:
        workers |= _children(proc.pid)
        time.sleep(0.01)
    assert len(workers) == 2, "the workers did not start"
    for pid in workers:  # each worker in the middle of writing its clip, as far as the cache can tell
        (out / "clips" / f".videos-clip{pid}.npz.tmp{pid}").write_bytes(b"half a clip")
    proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == code and err.strip().splitlines() == [f"motiongan prepare: {said}"], err
    assert not (out / "manifest.json").exists()  # it stopped before the end
    assert [pid for pid in workers if os.path.exists(f"/proc/{pid}")] == []  # no worker outlives it
    assert list(out.rglob(".*")) == []  # no temporary file
    assert main([*argv, "--workers", "1"]) == 0  # and it resumes
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["clips"]) == 2 and manifest["frames"] == 60 and not manifest["failed"]


def test_a_full_disk_stops_prepare_at_the_first_clip_naming_it_and_a_rerun_prepares_everything(data_dir, tmp_path,
                                                                                                 monkeypatch, capsys):
    out = tmp_path / "cache"
    argv = [*_prepare_two_grid_videos(data_dir, tmp_path, out, 10), "--workers", "1"]
    savez = np.savez

    def full_disk(file, **arrays):
        savez(file, **arrays)  # the bytes go out, then the device is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "videos-bbaf2n.npz" in err[0], err
    assert not (out / "manifest.json").exists() and list((out / "records").iterdir()) == []  # nothing claimed
    assert list(out.rglob(".*")) == [] and list((out / "clips").iterdir()) == []  # no half-written clip
    monkeypatch.setattr(np, "savez", savez)
    assert main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["clips"]) == 2 and not manifest["failed"]


@pytest.mark.slow
def test_train_killed_while_writing_a_checkpoint_resumes_from_the_last_intact_one_and_ends_as_a_straight_run(
        one_clip, tmp_path, capsys):
    sets = [*TINY, "log_every=1", "sample_every=1000", "checkpoint_every=1"]
    train(load_config("small", sets), one_clip, tmp_path / "straight", steps=6, progress=False)
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "motiongan.cli", "train", "--config", "small", "--data",
                             str(one_clip), "--out", str(run), "--steps", "6", "--device", "cpu", "--set", *sets],
                            stderr=subprocess.DEVNULL)

    def writing() -> Path | None:
        """The temporary folder of a checkpoint after the first that is being written: it holds
        safetensors' temporary file (or the finished file) and the checkpoint is not in place yet."""
        for step in range(2, 6):
            tmp = run / f".checkpoint-{step:08d}.safetensors.tmp{proc.pid}"
            with contextlib.suppress(FileNotFoundError):
                if os.listdir(tmp) and not (run / f"checkpoint-{step:08d}.safetensors").exists():
                    return tmp
        return None

    caught = None
    while caught is None and proc.poll() is None:
        time.sleep(0.001)
        if writing():
            proc.send_signal(signal.SIGSTOP)  # frozen, then killed only if it is still in the middle of the write
            caught = writing()
            proc.send_signal(signal.SIGKILL if caught else signal.SIGCONT)
    proc.wait()
    assert caught is not None, "no checkpoint write was caught in progress"
    step = int(caught.name[12:20])
    assert main(["train", "--data", str(one_clip), "--out", str(run), "--steps", "6", "--device", "cpu",
                 "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"resuming from checkpoint-{step - 1:08d}.safetensors (step {step - 1}); removed 1 temporary" in err, err
    assert list(run.glob(".*")) == []  # the killed write's temporary folder is gone
    straight = load_file(str(tmp_path / "straight" / "checkpoint-00000006.safetensors"))
    resumed = load_file(str(run / "checkpoint-00000006.safetensors"))
    assert straight.keys() == resumed.keys() and all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_a_truncated_driver_says_in_one_plain_line_where_it_ended(f, tmp_path, capsys, data_dir):
    whole = tmp_path / "whole.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(data_dir / "grid" / "bbaf2n.mpg"), "-an",
                    "-c:v", "libx264", "-movflags", "+faststart", str(whole)], check=True)  # its index first
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert main(["animate", str(f / "face.png"), str(cut), "-o", str(tmp_path / "o.mp4"), "--mouths", "none"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    notes = [line for line in err if "note:" in line]
    assert len(notes) == 1 and notes[0].startswith("motiongan animate: note: ") and "cut.mp4" in notes[0]
    assert "ended at frame" in notes[0] and "of the 75" in notes[0] and "Warning" not in notes[0]


def test_a_prepare_where_every_clip_fails_leaves_no_cache_and_a_rerun_with_other_settings_works(f, tmp_path,
                                                                                                  capsys):
    faceless = tmp_path / "faceless"
    faceless.mkdir()
    shutil.copy(f / "noaudio.mp4", faceless / "grey.mp4")
    out = tmp_path / "cache"
    assert main(["prepare", str(faceless), "--layout", "videos", "--out", str(out), "--size", "32", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no clip could be prepared" in err[0] and "no face was found" in err[0]
    assert not (out / "manifest.json").exists()
    os.symlink(f / "videos" / "bbaf2n.mpg", faceless / "bbaf2n.mpg")
    assert main(["prepare", str(faceless), "--layout", "videos", "--out", str(out), "--size", "48", "--quiet",
                 "--max-frames", "4"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["size"] == 48 and len(manifest["clips"]) == 1
    assert all("\n" not in r["reason"] for r in manifest["failed"])


def test_a_note_is_one_plain_line_on_the_command_line_and_collected_by_the_page(f, tmp_path, capsys):
    import skimage.data

    from motiongan.errors import collecting_notes
    from motiongan.face import FaceLandmarker
    from motiongan.media import write_image

    two = np.concatenate([skimage.data.astronaut()[:300], skimage.data.astronaut()[:300, ::-1]], 1)
    write_image(tmp_path / "two.png", two)
    assert main(["animate", str(tmp_path / "two.png"), str(f / "track.npy"), "-o", str(tmp_path / "o.mp4"),
                 "--max-frames", "2"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]  # (beside a progress bar)
    assert notes == [f"motiongan animate: note: {tmp_path / 'two.png'}: 2 faces found, using the largest"]
    with collecting_notes() as notes:
        FaceLandmarker()(two, "two.png")
    assert notes == ["two.png: 2 faces found, using the largest"] and capsys.readouterr().err == ""
