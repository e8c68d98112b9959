"""Dubbing (``motiongan speak VIDEO AUDIO``, motiongan.speech.dub): a video source, its loop, frames without a
face, its own resolution, the new audio, and bad sources."""
import subprocess

import numpy as np
import pytest

from motiongan.cli import main
from motiongan.media import VideoWriter, ffmpeg_exe, has_audio, iter_video, variable_rate, video_info
from motiongan.speech.dub import schedule, window


def test_the_video_plays_forward_then_ping_pongs_or_repeats_and_is_cut_when_the_speech_is_shorter():
    assert schedule(4, 3).tolist() == [0, 1, 2]
    assert schedule(4, 10).tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
    assert schedule(4, 10, "repeat").tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert schedule(1, 3).tolist() == [0, 0, 0]


@pytest.fixture(scope="module")
def media(tmp_path_factory, data_dir):
    """A GRID video (360 x 288, 75 frames), the same with grey frames spliced in, and speech of another sentence
    (1.2 s, so the 3 s video is cut) and a longer one (4 s, so it loops)."""
    d = tmp_path_factory.mktemp("dub")
    run = lambda *a: subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", *map(str, a)], check=True)  # noqa: E731
    other = sorted((data_dir / "grid_s1" / "s1").glob("*.mpg"))[5]
    run("-i", other, "-vn", "-ac", "1", "-t", "1.2", d / "short.wav")
    run("-i", other, "-vn", "-ac", "1", "-t", "2.4", d / "speech.wav")
    run("-i", other, "-vn", "-t", "1.2", "-c:a", "aac", d / "audio_only.mp4")  # an .mp4 whose one stream is sound
    run("-i", other, "-t", "1.2", "-r", "30", d / "speech30.mp4")  # the new speech from a 30 fps video
    # a variable frame rate: 40 frames 1/25 s apart, then 1/12.5 s apart (as a phone writes a still scene)
    run("-i", data_dir / "grid" / "bbaf2n.mpg", "-t", "3", "-an", "-fps_mode", "vfr",
        "-vf", "setpts='if(lt(N,40),N/25/TB,(40/25+(N-40)/12.5)/TB)'", d / "vfr.mp4")
    frames = list(iter_video(data_dir / "grid" / "bbaf2n.mpg", 40))
    with VideoWriter(d / "gaps.mp4", 25) as vw:  # frames 10-14 have no face
        for i, f in enumerate(frames):
            vw.write(np.full_like(f, 90) if 10 <= i < 15 else f)
    with VideoWriter(d / "short.mp4", 25) as vw:  # 0.6 s
        for f in frames[:15]:
            vw.write(f)
    with VideoWriter(d / "grey.mp4", 25) as vw:
        for f in frames[:30]:
            vw.write(np.full_like(f, 90))
    return d


def test_a_video_is_dubbed_at_its_own_resolution_with_the_new_audio_and_its_frames_outside_the_face_kept(
        media, data_dir, tmp_path):
    src = data_dir / "grid" / "bbaf2n.mpg"
    out = tmp_path / "dub.mp4"
    assert main(["speak", str(src), str(media / "short.wav"), "-o", str(out), "--quiet"]) == 0
    info = video_info(out)
    assert (info["width"], info["height"]) == (360, 288) and info["frames"] == 30  # 1.2 s at 25 fps: the video cut
    assert has_audio(out)
    dubbed, real = np.stack(list(iter_video(out))), np.stack(list(iter_video(src, 30)))
    from motiongan.face import FaceLandmarker

    pts = FaceLandmarker()(real[0])
    x0, y0, side = window(pts, real[0].shape)
    outside = np.ones(real.shape[1:3], bool)
    outside[y0:y0 + side, x0:x0 + side] = False
    assert np.abs(dubbed[:, outside].astype(int) - real[:, outside]).mean() < 3.0  # only the encoder's noise
    mouth = (slice(int(pts[51, 1]) - 4, int(pts[57, 1]) + 4), slice(int(pts[48, 0]), int(pts[54, 0])))
    assert np.abs(dubbed[(slice(None), *mouth)].astype(int) - real[(slice(None), *mouth)]).mean() > 4.0  # it moved


@pytest.mark.slow
def test_a_longer_speech_ping_pongs_the_video_and_frames_without_a_face_stay_as_they_were(media, tmp_path):
    out = tmp_path / "loop.mp4"
    assert main(["speak", str(media / "gaps.mp4"), str(media / "speech.wav"), "-o", str(out), "--quiet"]) == 0
    dubbed = np.stack(list(iter_video(out)))
    src = np.stack(list(iter_video(media / "gaps.mp4")))
    assert len(dubbed) == 60  # 2.4 s: 40 frames forward, then back
    order = schedule(40, 60)
    for k in np.flatnonzero((order >= 10) & (order < 15)):  # no face: unchanged but for the encoder
        assert np.abs(dubbed[k].astype(int) - src[order[k]]).mean() < 2.0
    k = int(np.flatnonzero(order == 30)[-1])  # on the way back
    assert np.abs(dubbed[k].astype(int) - src[30]).mean() < np.abs(dubbed[k].astype(int) - src[39]).mean()


def test_speech_from_a_video_of_another_frame_rate_and_a_variable_rate_source_are_dubbed_at_a_constant_rate(
        media, data_dir, tmp_path, capsys):
    assert variable_rate(media / "vfr.mp4") == 25.0 and variable_rate(data_dir / "grid" / "bbaf2n.mpg") is None
    for source, speech in ((data_dir / "grid" / "bbaf2n.mpg", "speech30.mp4"), (media / "vfr.mp4", "short.wav")):
        out = tmp_path / f"{speech}.mp4"
        assert main(["speak", str(source), str(media / speech), "-o", str(out), "--quiet"]) == 0
        info = video_info(out)  # the source's (nominal) rate, 1.2 s of speech
        assert (info["fps"], info["frames"]) == (25.0, 30) and has_audio(out), source
    err = capsys.readouterr().err
    assert "vfr.mp4: a variable frame rate; dubbed at a constant 25 fps" in err and "bbaf2n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.wav.mp4", "speech30.mp4.mp4"]  # no temporary left


@pytest.mark.parametrize("source, said", [("grey.mp4", "no face was found"), ("short.mp4", "at least 1 s"),
                                          ("audio_only.mp4", "cannot be decoded as a video")])
def test_a_bad_source_video_is_one_line_naming_it_exit_2_and_nothing_written(media, tmp_path, capsys, source, said):
    assert main(["speak", str(media / source), str(media / "short.wav"), "-o", str(tmp_path / "o.mp4")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and source in err[0] and said in err[0], err
    assert list(tmp_path.iterdir()) == []
