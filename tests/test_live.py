"""Following a driver frame by frame: tracking that recovers, the camera path fed from a file, Ctrl-C."""
import os
import signal

import numpy as np
import pytest

from motiongan.cli import main
from motiongan.face.landmarker import FaceLandmarker
from motiongan.inference.driver import Capture, follow_driver, is_live, until_interrupted
from motiongan.landmarks import interocular
from motiongan.media import MediaError, read_image, video_info


class CountingLandmarker(FaceLandmarker):
    def __init__(self):
        super().__init__()
        self.detections = self.near = 0

    def detect(self, rgb, near=None):
        self.detections += 1
        self.near += near is not None
        return super().detect(rgb, near)


@pytest.fixture(scope="module")
def face(data_dir):
    return read_image(data_dir / "stills68" / "image_0001.png")


def _shifted(img, dx, dy):
    """The image on a larger grey canvas, moved by (dx, dy)."""
    h, w = img.shape[:2]
    canvas = np.full((h + 200, w + 200, 3), 128, np.uint8)
    canvas[100 + dy:100 + dy + h, 100 + dx:100 + dx + w] = img
    return canvas


def test_tracking_detects_rarely_loses_the_face_when_it_goes_and_recovers_where_it_comes_back(face):
    lm = CountingLandmarker()
    blank = np.full_like(_shifted(face, 0, 0), 128)
    frames = [_shifted(face, 0, 0)] * 12 + [blank] * 3 + [_shifted(face, 80, 60)] * 6
    here = lm(frames[0])
    there = lm(frames[-1])
    lm.detections = lm.near = 0
    pts = [p for _, p in lm.follow(frames, redetect_every=10)]
    iod = float(interocular(here))
    assert all(np.abs(p - here).max() < 0.1 * iod for p in pts[:12])  # tracked where it is
    assert all(p is None for p in pts[12:15])  # gone: lost, not made up
    assert all(np.abs(p - there).max() < 0.1 * iod for p in pts[15:])  # found again where it came back
    # the detector ran on frames 0, 10 and 20, on the 3 lost frames and the first one after them: not on all 21
    assert lm.detections == 7
    assert lm.near == 2  # the checks at frames 10 and 20 searched only around the tracked face


def test_the_driver_holds_the_source_still_until_a_face_appears_then_follows_it(face, landmarker):
    blank = np.full_like(face, 128)
    src = landmarker(face)
    driven = list(follow_driver([blank, blank, face, face], src, landmarker, 128))
    assert driven[0].landmarks is None and np.array_equal(driven[0].target, src)
    assert driven[2].landmarks is not None
    # the same face, not moving: the source's own shape (up to the fit in a tracked box)
    assert np.abs(driven[3].target - src).max() < 0.02 * float(interocular(src))


def test_a_driving_video_without_any_face_is_an_error_that_leaves_no_video(face, data_dir, tmp_path, capsys):
    from motiongan.media import VideoWriter

    with VideoWriter(tmp_path / "wall.mp4", 25.0) as vw:
        for _ in range(8):
            vw.write(np.full((96, 96, 3), 128, np.uint8))
    code = main(["animate", str(data_dir / "stills68" / "image_0001.png"), str(tmp_path / "wall.mp4"), "-o",
                 str(tmp_path / "o.mp4"), "--checkpoint", "warp"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].endswith("wall.mp4: no face was found in any of its 8 frames")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wall.mp4"]


def test_live_mode_runs_from_a_stream_url_and_stops_after_max_frames(data_dir, tmp_path):
    stream = "file://" + os.path.abspath(data_dir / "grid" / "bbaf2n.mpg")
    assert is_live(stream) and is_live("0") and not is_live(data_dir / "grid" / "bbaf2n.mpg")
    out = tmp_path / "live.mp4"
    assert main(["animate", str(data_dir / "stills68" / "image_0001.png"), stream, "-o", str(out), "--max-frames", "12",
                 "--checkpoint", "warp", "--side-by-side"]) == 0
    info = video_info(out)
    assert info["frames"] == 12 and info["fps"] == pytest.approx(25.0) and info["width"] == 3 * info["height"]


def test_a_camera_or_stream_that_cannot_be_opened_is_a_clear_error(data_dir, tmp_path, capsys):
    with pytest.raises(MediaError, match="cannot be opened"):
        Capture("file://" + str(tmp_path / "missing.mp4"))
    code = main(["animate", str(data_dir / "stills68" / "image_0001.png"), "7", "-o", str(tmp_path / "o.mp4"),
                 "--checkpoint", "warp"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].endswith("7: the camera cannot be opened") and not list(tmp_path.iterdir())


def test_ctrl_c_during_a_live_run_stops_between_frames_instead_of_raising():
    before = signal.getsignal(signal.SIGINT)
    with until_interrupted() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(2.0)
    assert signal.getsignal(signal.SIGINT) == before  # restored


@pytest.mark.slow
def test_ctrl_c_ends_a_live_run_and_keeps_the_video_written_so_far(data_dir, tmp_path):
    import subprocess
    import sys
    import time

    import cv2

    from motiongan.media import VideoWriter

    face = cv2.resize(read_image(data_dir / "stills68" / "image_0001.png"), (256, 256))
    with VideoWriter(tmp_path / "long.mp4", 25.0) as vw:  # a stream that would last 40 s
        for _ in range(1000):
            vw.write(face)
    out = tmp_path / "out"
    out.mkdir()
    argv = ["animate", str(data_dir / "stills68" / "image_0001.png"), "file://" + str(tmp_path / "long.mp4"),
            "-o", str(out / "live.mp4"), "--checkpoint", "warp"]
    proc = subprocess.Popen([sys.executable, "-m", "motiongan.cli", *argv], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob(".live.tmp*.mp4")) and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 0 and "Traceback" not in err
    assert [p.name for p in out.iterdir()] == ["live.mp4"]  # the video so far, no temporary left
    assert 0 < video_info(out / "live.mp4")["frames"] < 1000
