"""The web page (``motiongan web``) served on 127.0.0.1 and driven by a real headless Chromium.

The server runs as its own process, exactly as a user starts it, with a tiny generator trained here for
one step (fast on CPU; its output is noise, which is all these tests need). The browser is
Debian's ``chromium`` driven through Playwright; nothing is downloaded. Without Chromium, Playwright or
Gradio the browser tests skip and say which is missing. They are marked slow: `-m "not slow"` leaves them out.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from motiongan.cli import main
from motiongan.media import VideoWriter, ffmpeg_exe, has_audio, iter_video, read_image, video_info, write_image

CHROMIUM = os.environ.get("MOTIONGAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TINY = ["image_size=64", "width=8", "n_res=2", "d_width=4", "d_res=2", "dv_width=4", "dv_res=2", "batch=1",
        "T=2", "workers=0", "use_v=false", "test_persons=0", "sample_every=100"]
MAX_FRAMES = 20
TRACK = Path(__file__).resolve().parents[1] / "motiongan" / "assets" / "demo_track.npy"


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    import importlib.util

    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium; .ci/run does)"
    for module, hint in [("gradio", "pip install 'motiongan[web]'"), ("playwright", "pip install -r "
                                                                                      "requirements-web.txt")]:
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed ({hint})"
    return None


@pytest.fixture(scope="module")
def files(tmp_path_factory, data_dir):
    """Inputs as a user has them: a photo with a face, one without, landmark tracks, a broken track."""
    from skimage import data

    d = tmp_path_factory.mktemp("inputs")
    write_image(d / "astronaut.png", data.astronaut())
    write_image(d / "coffee.png", data.coffee())
    write_image(d / "two.png", np.concatenate([data.astronaut()[:300], data.astronaut()[:300, ::-1]], 1))
    track = np.load(TRACK)
    for n in (6, 8, 10, 30):
        np.save(d / f"track{n}.npy", track[:n])
    (d / "broken.npy").write_bytes(b"this is not a numpy file")
    with VideoWriter(d / "driver.mp4", 25) as vw:  # a real talking face, 10 frames
        for frame in iter_video(data_dir / "grid" / "bbaf2n.mpg", max_frames=10):
            vw.write(frame)
    grid = ["-i", str(data_dir / "grid" / "bbaf2n.mpg"), "-vn", "-ac", "1"]
    for name, args in [("speech.wav", ["-ss", "1.0"] + grid + ["-t", "0.4"]),  # 0.4 s: 10 frames at 25 fps
                       ("long.wav", grid + ["-t", "3"]),
                       ("silent.wav", ["-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0.5"])]:
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", *args, str(d / name)], check=True)
    return d


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, data_dir):
    """A tiny generator trained for one step in the test."""
    from motiongan.config import load_config
    from motiongan.data.prepare import Settings, prepare
    from motiongan.training.loop import train

    reason = _missing()
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    src = tmp_path_factory.mktemp("src")
    os.symlink(data_dir / "grid" / "lbax4n.mpg", src / "lbax4n.mpg")
    cache = tmp_path_factory.mktemp("cache")
    prepare(src, "videos", cache, Settings(size=64, max_frames=12), workers=1, progress=False)
    run = tmp_path_factory.mktemp("run")
    train(load_config("small", TINY), cache, run, steps=1, progress=False)
    return run / "generator.safetensors"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(checkpoint, tmp_path_factory):
    """``motiongan web`` in its own process, with its own empty TMPDIR and working folder."""
    tmp, cwd = tmp_path_factory.mktemp("server_tmp"), tmp_path_factory.mktemp("server_cwd")
    port = _free_port()
    log = open(tmp_path_factory.mktemp("log") / "server.log", "w+")
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).resolve().parents[1])] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    proc = subprocess.Popen([sys.executable, "-m", "motiongan.cli", "web", "--checkpoint", str(checkpoint),
                             "--port", str(port), "--max-frames", str(MAX_FRAMES)],
                            cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                log.seek(0)
                pytest.fail(f"motiongan web did not start:\n{log.read()}")
            time.sleep(0.5)
    yield {"url": url, "proc": proc, "tmp": tmp, "cwd": cwd, "log": log}
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)  # a fresh profile each launch
        yield b
        b.close()


def _open(browser, server):
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    page.goto(server["url"])
    page.wait_for_selector("#animate-run")
    return page


@pytest.fixture
def page(browser, server):
    page = _open(browser, server)
    yield page
    page.context.close()


def _animate(page, photo, driving):
    page.set_input_files("#animate-photo input[type=file]", str(photo))
    page.set_input_files("#animate-driving input[type=file]", str(driving))
    _uploaded(page, "#animate-driving")
    page.click("#animate-run")


def _uploaded(page, component: str) -> None:
    """Wait until a file component shows its uploaded file (a link to it)."""
    page.wait_for_selector(f"{component} a[href]")


def _fetch(page, url, out: Path) -> Path:
    out.write_bytes(page.request.get(url).body())
    return out


def _cli_error(capsys, *argv) -> str:
    """The message the command line prints for the same input, as a user sees it in the page (upload
    folders shortened to file names)."""
    assert main(list(argv)) == 2
    msg = capsys.readouterr().err.strip().split(": error: ", 1)[1]
    for a in argv:
        if os.path.isabs(a):
            msg = msg.replace(a, Path(a).name)
    return msg


PLAY = """async (sel) => {
    const v = document.querySelector(sel);
    v.muted = true;
    if (v.readyState < 2) await new Promise(r => v.addEventListener('loadeddata', r, {once: true}));
    const ended = new Promise(r => v.addEventListener('ended', r, {once: true}));
    await v.play();
    await ended;
    const q = v.getVideoPlaybackQuality();
    return {duration: v.duration, width: v.videoWidth, height: v.videoHeight,
            decoded: q.totalVideoFrames - q.droppedVideoFrames, error: v.error && v.error.message};
}"""


@pytest.mark.slow
def test_animate_from_a_track_plays_in_the_browser_with_one_frame_per_landmark_set(page, server, files, tmp_path):
    _animate(page, files / "astronaut.png", files / "track8.npy")
    page.wait_for_selector("#animate-video video[src]")
    page.get_by_text("8 frames at 25 fps").wait_for()
    played = page.evaluate(PLAY, "#animate-video video")
    assert played["error"] is None and (played["width"], played["height"]) == (64, 64)
    assert played["duration"] == pytest.approx(8 / 25, abs=0.05)
    assert played["decoded"] == 8  # the browser decoded every frame
    src = page.get_attribute("#animate-video video", "src")
    info = video_info(_fetch(page, src, tmp_path / "result.mp4"))
    assert info["frames"] == 8 and info["fps"] == pytest.approx(25)
    link = page.get_attribute("#animate-download a[href]", "href")  # the download offers the same video
    assert video_info(_fetch(page, link, tmp_path / "download.mp4"))["frames"] == 8
    detected = page.get_attribute("#animate-detected img", "src")  # the photo with what was detected
    shown = read_image(_fetch(page, detected, tmp_path / "detected.webp"))
    assert shown.shape == read_image(files / "astronaut.png").shape


@pytest.mark.slow
def test_a_driving_video_side_by_side_shows_photo_driver_and_result(page, files, tmp_path):
    page.get_by_label("Side by side").check()
    _animate(page, files / "astronaut.png", files / "driver.mp4")
    page.get_by_text("10 frames at 25 fps").wait_for()
    info = video_info(_fetch(page, page.get_attribute("#animate-video video", "src"), tmp_path / "sbs.mp4"))
    assert info["frames"] == 10 and (info["width"], info["height"]) == (3 * 64, 64)


@pytest.mark.slow
def test_two_users_at_once_each_get_their_own_video(browser, server, files, tmp_path):
    pages = [_open(browser, server), _open(browser, server)]
    try:
        for pg, n in zip(pages, (10, 6)):
            _animate(pg, files / "astronaut.png", files / f"track{n}.npy")
        for i, (pg, n) in enumerate(zip(pages, (10, 6))):
            pg.get_by_text(f"{n} frames at 25 fps").wait_for()
            src = pg.get_attribute("#animate-video video", "src")
            assert video_info(_fetch(pg, src, tmp_path / f"{i}.mp4"))["frames"] == n
    finally:
        for pg in pages:
            pg.context.close()


@pytest.mark.slow
@pytest.mark.parametrize("photo, driving", [("coffee.png", "track8.npy"), ("astronaut.png", "broken.npy")],
                         ids=["photo_without_a_face", "unreadable_track"])
def test_bad_input_shows_the_command_lines_message_not_a_traceback(page, files, checkpoint, capsys, tmp_path,
                                                                   photo, driving):
    expected = _cli_error(capsys, "animate", str(files / photo), str(files / driving), "-o",
                          str(tmp_path / "out.mp4"), "--checkpoint", str(checkpoint))
    _animate(page, files / photo, files / driving)
    page.get_by_text(expected).first.wait_for()
    assert "Traceback" not in page.inner_text("body")
    assert not page.query_selector("#animate-video video")


@pytest.mark.slow
def test_a_photo_with_two_faces_warns_as_the_command_line_does_and_still_animates(page, files, landmarker):
    from motiongan.errors import collecting_notes

    with collecting_notes() as notes:  # what the command line prints
        landmarker(read_image(files / "two.png"), "two.png")
    expected = notes[0]
    assert expected == "two.png: 2 faces found, using the largest"
    _animate(page, files / "two.png", files / "track6.npy")
    page.get_by_text(expected).first.wait_for()
    page.get_by_text("6 frames at 25 fps").wait_for()


@pytest.mark.slow
def test_the_motion_chosen_on_the_page_reaches_the_command_lines_check(page, files):
    page.get_by_label("face mesh", exact=False).check()  # the page's model is a trained G, not the landmark warp
    _animate(page, files / "astronaut.png", files / "driver.mp4")
    page.get_by_text("motion: mesh motion moves the photo's own pixels").first.wait_for()
    assert not page.query_selector("#animate-video video")


@pytest.mark.slow
def test_a_driver_longer_than_the_limit_is_refused_naming_the_limit(page, files):
    _animate(page, files / "astronaut.png", files / "track30.npy")
    page.get_by_text(f"track30.npy: 30 frames, more than this page's limit of {MAX_FRAMES}").first.wait_for()
    assert not page.query_selector("#animate-video video")


@pytest.mark.slow
def test_edit_with_a_named_expression_gives_an_image_at_the_models_size(page, files, tmp_path):
    page.get_by_role("tab", name="Edit").click()
    page.set_input_files("#edit-photo input[type=file]", str(files / "astronaut.png"))
    page.wait_for_selector("#edit-detected img")  # previewed on upload
    page.click("#edit-run")
    page.get_by_text("'happy' at strength 1").wait_for()
    result = read_image(_fetch(page, page.get_attribute("#edit-download a[href]", "href"), tmp_path / "e.png"))
    assert result.shape == (64, 64, 3)


def _speak(page, photo, audio):
    page.get_by_role("tab", name="Speak").click()
    page.set_input_files("#speak-photo input[type=file]", str(photo))
    page.set_input_files("#speak-audio input[type=file]", str(audio))
    _uploaded(page, "#speak-audio")
    page.click("#speak-run")


@pytest.mark.slow
def test_speak_gives_a_video_with_one_frame_per_25th_of_a_second_and_the_recordings_sound(page, files, tmp_path):
    _speak(page, files / "astronaut.png", files / "speech.wav")
    page.get_by_text("10 frames at 25 fps").wait_for()
    out = _fetch(page, page.get_attribute("#speak-download a[href]", "href"), tmp_path / "speak.mp4")
    assert video_info(out)["frames"] == 10 and has_audio(out)
    assert page.evaluate(PLAY, "#speak-video video")["decoded"] == 10


@pytest.mark.slow
def test_bad_audio_shows_the_command_lines_message_and_a_long_one_the_pages_limit(page, files, checkpoint,
                                                                               capsys, tmp_path):
    expected = _cli_error(capsys, "speak", str(files / "astronaut.png"), str(files / "silent.wav"), "-o",
                          str(tmp_path / "out.mp4"), "--checkpoint", str(checkpoint))
    assert "silent" in expected
    _speak(page, files / "astronaut.png", files / "silent.wav")
    page.get_by_text(expected).first.wait_for()
    page.reload()
    _speak(page, files / "astronaut.png", files / "long.wav")
    page.get_by_text(f"this page's limit is {MAX_FRAMES} frames at 25 fps").first.wait_for()
    assert not page.query_selector("#speak-video video")


@pytest.mark.slow
def test_stopping_the_server_removes_everything_it_wrote(server):
    proc = server["proc"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) is not None
    server["log"].seek(0)
    log = server["log"].read()
    assert "Traceback" not in log, log
    assert list(server["tmp"].iterdir()) == [] and list(server["cwd"].iterdir()) == [], log


def test_web_without_gradio_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "gradio", None)  # as if not installed
    with pytest.raises(SystemExit, match=r"pip install 'motiongan\[web\]'"):
        main(["web", "--checkpoint", "unused.safetensors"])


# ------------------------------------------------------------------------- the page's functions, no browser
@pytest.fixture(scope="module")
def page_functions(tmp_path_factory, files):
    """The page's :class:`Page` on the landmark warp (no network), and the inputs as Gradio keeps uploads:
    under a temporary folder, each in a folder of its own."""
    from motiongan.models import load_generator
    from motiongan.web import Page

    uploads = tmp_path_factory.mktemp("gradio_uploads")
    for f in files.iterdir():
        (uploads / f"hash_{f.stem}").mkdir()
        os.symlink(f, uploads / f"hash_{f.stem}" / f.name)
    upload = {f.name: str(uploads / f"hash_{f.stem}" / f.name) for f in files.iterdir()}
    return Page(load_generator("warp", "cpu"), tmp_path_factory.mktemp("results"), MAX_FRAMES), upload


def test_the_pages_functions_render_as_the_commands_do(page_functions):
    page, up = page_functions
    _, video, status = page.animate(up["astronaut.png"], up["track8.npy"], side_by_side=True)
    assert video_info(video)["frames"] == 8 and video_info(video)["width"] == 3 * page.model.default_output
    assert status.startswith(f"**{Path(video).name}**: 8 frames at 25 fps")
    _, image, status = page.edit(up["astronaut.png"], "named expression", "happy", None, None)
    side = page.model.default_output
    assert read_image(image).shape == (side, side, 3) and "'happy'" in status
    _, video, _ = page.speak(up["astronaut.png"], up["speech.wav"])
    assert video_info(video)["frames"] == 10 and has_audio(video)
    _, _, status = page.animate(up["two.png"], up["track6.npy"])
    assert status.endswith("\n\ntwo.png: 2 faces found, using the largest")  # the upload's name, not its path


@pytest.mark.parametrize("action, expected", [
    (("animate", "coffee.png", "track8.npy"), "coffee.png: no face was found"),
    (("animate", "astronaut.png", "broken.npy"), "broken.npy: not a NumPy landmark file"),
    (("animate", "astronaut.png", "track30.npy"), f"track30.npy: 30 frames, more than this page's limit of "
                                                  f"{MAX_FRAMES} (whoever runs the page can raise it"),
    (("speak", "astronaut.png", "silent.wav"), "silent.wav: the audio is silent"),
    (("speak", "astronaut.png", "long.wav"), f"long.wav: 3 s long, more than 0.8 s (this page's limit is "
                                             f"{MAX_FRAMES} frames at 25 fps; whoever runs the page can raise it"),
], ids=["no_face", "unreadable_track", "long_driver", "silence", "long_recording"])
def test_the_page_says_errors_from_their_fields_calling_uploads_by_their_names(page_functions, action, expected):
    from motiongan.errors import MotionGANError
    from motiongan.web import message_of

    page, up = page_functions
    fn, photo, other = action
    with pytest.raises(MotionGANError) as caught:
        getattr(page, fn)(up[photo], up[other])
    said = message_of(caught.value)
    assert said.startswith(expected) and len(said.splitlines()) == 1, said
    assert str(Path(up[photo]).parents[1]) not in said  # no upload folder


def test_the_page_animates_at_the_output_size_asked_as_the_command_line_does(page_functions):
    page, up = page_functions
    _, video, status = page.animate(up["astronaut.png"], up["track6.npy"], size="256")
    info = video_info(video)
    assert (info["frames"], info["width"], info["height"]) == (6, 256, 256)
    assert next(iter_video(video)).shape == (256, 256, 3)
    assert status.startswith(f"**{Path(video).name}**: 6 frames at 25 fps, face at 256 x 256 px")
    _, video, status = page.animate(up["astronaut.png"], up["track6.npy"])  # the model's default size, not said
    assert video_info(video)["width"] == page.model.default_output and " px" not in status


def test_a_bad_output_size_is_refused_naming_it_before_anything_is_written(page_functions):
    from motiongan.errors import MotionGANError
    from motiongan.web import message_of

    page, up = page_functions
    before = set(page.results.iterdir())
    with pytest.raises(MotionGANError) as caught:
        page.animate(up["astronaut.png"], up["track6.npy"], size="12x")
    assert message_of(caught.value) == "output size: expected a number of pixels from 32 to 4096 or native, got '12x'"
    assert set(page.results.iterdir()) == before


@pytest.mark.parametrize("driver", ["driver.mp4", "track8.npy"])
def test_the_page_and_the_command_line_render_the_same_frames_pixel_for_pixel(driver, files, tmp_path):
    from motiongan.models import load_generator
    from motiongan.web import Page

    page = Page(load_generator("warp", "cpu"), tmp_path / "results")
    _, video, _ = page.animate(str(files / "astronaut.png"), str(files / driver))
    out = tmp_path / "cli.mp4"
    assert main(["animate", str(files / "astronaut.png"), str(files / driver), "-o", str(out),
                 "--checkpoint", "warp"]) == 0
    on_page, on_cli = (np.stack(list(iter_video(v))) for v in (video, out))
    assert on_page.shape == on_cli.shape and on_page.shape[1] == 256  # the warp's default output size
    assert np.array_equal(on_page, on_cli)


def test_the_page_moves_the_face_by_the_drivers_mesh_as_animate_motion_mesh_does(files, tmp_path):
    pytest.importorskip("ai_edge_litert", reason="the mesh extra (ai-edge-litert) is not installed")
    from motiongan.models import load_generator
    from motiongan.web import MOTION_CHOICES, Page

    assert "mesh" in MOTION_CHOICES.values()
    page = Page(load_generator("warp", "cpu"), tmp_path / "results")
    _, video, _ = page.animate(str(files / "astronaut.png"), str(files / "driver.mp4"), motion="mesh")
    out = tmp_path / "cli.mp4"
    assert main(["animate", str(files / "astronaut.png"), str(files / "driver.mp4"), "-o", str(out),
                 "--checkpoint", "warp", "--motion", "mesh"]) == 0
    on_page, on_cli = (np.stack(list(iter_video(v))) for v in (video, out))
    assert on_page.shape == on_cli.shape and np.array_equal(on_page, on_cli)


def test_the_page_refuses_mesh_motion_for_a_landmark_track_naming_the_setting(page_functions):
    from motiongan.errors import MotionGANError
    from motiongan.web import message_of

    page, up = page_functions
    with pytest.raises(MotionGANError) as caught:
        page.animate(up["astronaut.png"], up["track6.npy"], motion="mesh")
    assert message_of(caught.value).startswith("motion: mesh motion follows a driving video")


def test_the_speak_tab_dubs_a_video_as_the_command_line_does(page_functions, data_dir):
    page, up = page_functions
    _, video, status = page.speak(str(data_dir / "grid" / "bbaf2n.mpg"), up["speech.wav"])
    info = video_info(video)
    assert (info["width"], info["height"], info["frames"]) == (360, 288, 10) and has_audio(video)
    assert "10 frames at 25 fps" in status


@pytest.mark.parametrize("fn, value", [("speak", 1000.0), ("speak", -3.0), ("speak", float("nan")),
                                       ("edit", 50.0), ("edit", -1.0), ("edit", float("inf"))])
def test_the_page_refuses_out_of_range_numbers_with_the_command_lines_ranges(page_functions, fn, value):
    from motiongan.errors import MotionGANError
    from motiongan.web import message_of

    page, up = page_functions
    with pytest.raises(MotionGANError) as caught:
        if fn == "speak":
            page.speak(up["astronaut.png"], up["speech.wav"], fps=value)
        else:
            page.edit(up["astronaut.png"], "named expression", "happy", None, None, strength=value)
    assert len(message_of(caught.value).splitlines()) == 1


def test_edit_and_speak_on_the_page_take_the_output_size_as_the_command_line_does(page_functions, data_dir):
    from motiongan.errors import MotionGANError
    from motiongan.web import message_of

    page, up = page_functions
    _, image, _ = page.edit(up["astronaut.png"], "named expression", "happy", None, None, size="320")
    assert read_image(image).shape == (320, 320, 3)
    _, video, _ = page.speak(up["astronaut.png"], up["speech.wav"], size="96")
    assert (video_info(video)["width"], video_info(video)["height"]) == (96, 96)
    with pytest.raises(MotionGANError) as caught:  # a dubbed video keeps its own resolution
        page.speak(str(data_dir / "grid" / "bbaf2n.mpg"), up["speech.wav"], size="256")
    assert message_of(caught.value).startswith("output size: a video is dubbed at its own frames' resolution")


def test_the_page_refuses_a_size_the_papers_g_cannot_render_before_looking_for_a_face(files, tmp_path):
    """The page's size check is the command line's: a fixed-size network takes its own size alone, refused
    before the photo (here one without a face) is looked at."""
    from motiongan.config import load_config
    from motiongan.errors import MotionGANError
    from motiongan.inference import MotionGAN
    from motiongan.networks import Generator
    from motiongan.web import Page, message_of, size_choices

    cfg = load_config("small", ["image_size=64", "width=8", "n_res=2"])
    page = Page(MotionGAN(Generator(**cfg.generator_kwargs()), cfg, name="tiny"), tmp_path / "results")
    photo = str(files / "coffee.png")
    calls = [lambda: page.animate(photo, str(files / "track6.npy"), size="256"),
             lambda: page.edit(photo, "named expression", "happy", None, None, size="native"),
             lambda: page.speak(photo, str(files / "speech.wav"), size="128")]
    for call in calls:
        with pytest.raises(MotionGANError) as caught:
            call()
        assert message_of(caught.value).startswith("output size: expected 64 (or no size), got ")
    assert list(page.results.iterdir()) == []
    assert size_choices(64, 64, warps=False) == ["default (64)"]  # the page offers no size it would refuse
