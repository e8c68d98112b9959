"""Speech -> landmarks -> video: audio reading, features, the shipped speech model, ``motiongan speak``."""
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from motiongan.cli import main
from motiongan.media import ffmpeg_exe, has_audio, video_info
from motiongan.models import load_speech_model
from motiongan.speech.audio import SAMPLE_RATE, Speech, load_audio
from motiongan.speech.canonical import MOUTH_AND_JAW, to_canonical
from motiongan.speech.data import (
    GROUPS,
    HELD_GRID,
    HELD_SENTENCES,
    TRAIN,
    VALID_SENTENCES,
    VALIDATION,
    Clip,
    find_clips,
    person_split,
    track_video,
)
from motiongan.speech.evaluate import AMPLITUDE_SCALES, SCALES, evaluate_clip, fit_amplitude, fit_scale
from motiongan.speech.model import SpeechModel

GRID_SECONDS = 2.98  # the audio of a GRID clip


def ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", *map(str, args)], check=True)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny networks: one thread is as fast, and far faster when other jobs load the 2 cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def grid_clip(data_dir):
    return data_dir / "grid" / "lbax4n.mpg"


@pytest.fixture(scope="module")
def wav(grid_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("wav") / "speech.wav"
    ffmpeg("-i", grid_clip, "-vn", out)
    return out


@pytest.fixture(scope="module")
def source_image(data_dir):
    return data_dir / "stills68" / "image_0001.png"


@pytest.fixture(scope="module")
def speech_model():
    return load_speech_model()


# -------------------------------------------------------------------------------------------- audio
@pytest.mark.parametrize("fps", [10, 24, 25, 29.97, 30, 60])
def test_features_give_one_window_per_frame_at_any_fps(fps):
    rng = np.random.default_rng(0)
    n = int(3.3 * SAMPLE_RATE)
    wave = (rng.normal(0, 0.1, n) * np.sin(np.linspace(0, 20, n))).astype(np.float32)
    speech = Speech.from_wave(wave)
    n = speech.n_frames(fps)
    assert n == math.ceil(3.3 * fps - 1e-3)
    assert speech.windows(n, fps, 20).shape == (n, 41, 40)
    centres = speech.hop_index(n, fps, 0)[:, 0] * 0.01  # seconds
    want = np.minimum((np.arange(n) + 0.5) / fps, (len(speech.mel) - 1) * 0.01)  # clamped at the end
    np.testing.assert_allclose(centres, want, atol=0.0051)
    # chunks agree with the whole
    np.testing.assert_array_equal(speech.windows(n, fps, 20, 5, 9), speech.windows(n, fps, 20)[5:9])


def test_audio_of_a_video_and_of_its_wav_and_m4a_agree(grid_clip, wav, tmp_path):
    m4a = tmp_path / "speech.m4a"
    ffmpeg("-i", wav, m4a)
    a, b, c = load_audio(grid_clip), load_audio(wav), load_audio(m4a)
    assert len(a) == len(b) == pytest.approx(GRID_SECONDS * SAMPLE_RATE, abs=0.01 * SAMPLE_RATE)
    assert abs(len(c) - len(a)) < 0.05 * SAMPLE_RATE
    assert np.corrcoef(a, b)[0, 1] > 0.99
    assert Speech.from_wave(a).n_frames(25) == video_info(grid_clip)["frames"] == 75


# ------------------------------------------------------------------------------------------- split
def test_validation_people_are_training_people_of_the_other_sets_apart_from_train_and_test(data_dir):
    refs = find_clips(data_dir)
    people = {split: {r.person for r in refs if r.split == split} for split in (TRAIN, VALIDATION, *GROUPS)}
    assert people[VALIDATION] == {  # fixed by hashes of the ids: the same in every run and process
        "hdtf/retalking_4", "mead/W040", "talking/d10", "voxceleb/celebvhq_2KGPYEFnsU_8", "voxceleb/lia_driving2",
        "voxceleb/pcavs_00098", "voxceleb/pcavs_00373", "voxceleb/vc2_5176", "voxceleb/vc2_6209"}
    assert len(people[TRAIN]) > 3 * len(people[VALIDATION])
    assert not any(p.startswith("grid") for p in people[VALIDATION])
    assert not people[VALIDATION] & people[TRAIN]
    assert not people[VALIDATION] & set().union(*(people[g] for g in GROUPS))
    assert {person_split(p) for p in people[VALIDATION]} == {VALIDATION}
    assert people[TRAIN] & people[HELD_SENTENCES] == {"grid/s1"}  # new sentences of a training speaker
    s1 = {split: sum(r.person == "grid/s1" and r.split == split for r in refs) for split in (TRAIN, VALID_SENTENCES,
                                                                                            HELD_SENTENCES)}
    assert s1 == {TRAIN: 160, VALID_SENTENCES: 20, HELD_SENTENCES: 20}


# ------------------------------------------------------------------------------------------- model
def test_speech_model_file_round_trips_and_is_small(speech_model, tmp_path):
    speech = Speech.from_wave(np.sin(np.linspace(0, 900, SAMPLE_RATE)).astype(np.float32) * 0.3)
    speech_model.export(tmp_path / "m.safetensors")
    again = SpeechModel.from_checkpoint(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(again.displacements(speech, 25), speech_model.displacements(speech, 25))
    assert speech_model.displacements(speech, 25)[:, [i for i in range(68) if i not in MOUTH_AND_JAW]].max() == 0
    shipped = sorted((os.path.dirname(__file__) + "/../motiongan/assets/" + f) for f in
                     os.listdir(os.path.dirname(__file__) + "/../motiongan/assets") if f.startswith("speech-"))
    assert shipped and all(os.path.getsize(f) < 5 * 2**20 for f in shipped)


def test_a_generator_file_is_not_taken_for_a_speech_model(tmp_path):
    import torch

    from motiongan.checkpoint import CheckpointError, save_tensors

    save_tensors(tmp_path / "g.safetensors", {"w": torch.zeros(2)}, {"kind": "generator"})
    with pytest.raises(CheckpointError, match="g.safetensors"):
        SpeechModel.from_checkpoint(tmp_path / "g.safetensors")


@pytest.mark.slow
@pytest.mark.parametrize("split", [HELD_SENTENCES, HELD_GRID])
def test_shipped_model_beats_both_baselines_on_held_out_grid_clips(speech_model, data_dir, split):
    """Measured here on two held-out clips (a new sentence of s1, or new speakers), not read from a file."""
    refs = [r for r in find_clips(data_dir) if r.split == split][:2]
    results = []
    for ref in refs:
        track, fps = track_video(ref.path)
        res, _ = evaluate_clip(speech_model, Clip(ref, track, fps, load_audio(ref.path)))
        results.append(res)
    mean = {m: np.mean([r[m] for r in results], 0) for m in results[0]}
    print(split, {m: tuple(round(float(v), 4) for v in x) for m, x in mean.items()})
    model_err, model_corr, _ = mean["speech model"]  # (and the amplitude)
    for base in ("mean track", "loudness -> mouth"):
        assert model_err < mean[base][0]
        assert model_corr > mean[base][1]


@pytest.mark.slow
def test_output_scale_is_fitted_on_validation_stored_in_the_file_and_applied(data_dir, tmp_path):
    """train-speech --calibrate-by error on four GRID clips (s1: a validation sentence and two training ones;
    one filed as a validation person's)."""
    from motiongan.speech.train import SpeechTrainOptions, train_speech

    val_person = "vc2_5176"
    assert person_split(f"voxceleb/{val_person}") == VALIDATION
    data = tmp_path / "data"
    (data / "grid_s1" / "s1").mkdir(parents=True)
    (data / "voxceleb" / val_person).mkdir(parents=True)
    s1 = sorted((data_dir / "grid_s1" / "s1").glob("*.mpg"))
    for p in s1[:3]:
        (data / "grid_s1" / "s1" / p.name).symlink_to(p)
    (data / "voxceleb" / val_person / "clip.mpg").symlink_to(data_dir / "grid" / "lbax4n.mpg")
    out = tmp_path / "m.safetensors"
    options = SpeechTrainOptions(epochs=3, batch=32, workers=1, calibrate_by="error")  # the fit for error
    train_speech(data, out, tmp_path / "tracks", options, progress=False)
    model = SpeechModel.from_checkpoint(out)
    curves = {g: {float(k): v for k, v in c.items()} for g, c in model.info["scale_curves"].items()}
    assert set(curves) == {VALIDATION, VALID_SENTENCES} and sorted(curves[VALIDATION]) == list(SCALES)
    relative = {s: np.mean([c[s] / c[0.0] for c in curves.values()]) for s in SCALES}
    assert model.scale == min(relative, key=relative.get) != 1.0
    assert model.info["clips"] == 2 and model.info["validation_people"] == 1
    assert {g: r["clips"] for g, r in model.info["validation"].items()} == {VALIDATION: 1, VALID_SENTENCES: 1}
    # the errors are the evaluation's: scale 0 is the mean track, and the stored scale is the one applied
    valid = [c for c in load_clips_of(data, tmp_path / "tracks") if c.ref.split in (VALIDATION, VALID_SENTENCES)]
    for clip in valid:
        res, _ = evaluate_clip(model, clip)
        assert res["mean track"][0] == pytest.approx(curves[clip.ref.split][0.0], rel=1e-4)
        assert res["speech model"][0] == pytest.approx(curves[clip.ref.split][model.scale], rel=1e-4)
    assert fit_scale(model, valid)[0] == model.scale
    # by amplitude: the scale whose predicted opening varies as much as the real one, averaged over the groups
    scale, amp = fit_amplitude(model, valid)
    overall = {s: np.mean([c[s] for c in amp.values()]) for s in AMPLITUDE_SCALES}
    assert abs(overall[scale] - 1) == min(abs(v - 1) for v in overall.values())
    assert overall[AMPLITUDE_SCALES[-1]] > overall[AMPLITUDE_SCALES[0]]  # a larger scale, a larger mouth motion
    speech = Speech.from_wave(valid[0].wave)
    raw, mean = model.displacements(speech, 25, scale=1.0), model.baseline("mean", speech, 25)
    np.testing.assert_allclose(model.displacements(speech, 25), mean + model.scale * (raw - mean), atol=1e-5)


def test_amplitude_leaves_out_a_clip_whose_real_mouth_stays_still(speech_model):
    """Two clips of one group with the same speech: one real mouth opens and closes, the other only jitters
    (below AMPLITUDE_FLOOR). The still one keeps its error and correlation but not its amplitude ratio, which
    would be the prediction's motion over the tracker's noise."""
    from motiongan.speech.canonical import mouth_opening
    from motiongan.speech.data import ClipRef
    from motiongan.speech.evaluate import AMPLITUDE_FLOOR, amplitude, evaluate_clips, table

    n, fps = 75, 25.0
    rng = np.random.default_rng(0)
    t = np.arange(int(n / fps * SAMPLE_RATE)) / SAMPLE_RATE
    wave = (rng.normal(0, 0.1, len(t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2).astype(np.float32)
    face = speech_model.template * 100 + 200  # image pixels: inter-ocular distance 100
    lower_inner_lip = [65, 66, 67]

    def clip(gap: np.ndarray) -> Clip:  # the lower inner lip moved down by ``gap`` (inter-ocular units)
        track = np.repeat(face[None], n, 0).astype(np.float32)
        track[:, lower_inner_lip, 1] += 100 * gap[:, None]
        return Clip(ClipRef(Path("x.mpg"), "x", HELD_SENTENCES), track, fps, wave)

    moving = clip(0.05 * (1 + np.sin(np.arange(n) / 3)))
    still = clip(0.003 * rng.standard_normal(n))
    openings = {k: mouth_opening(to_canonical(c.track, speech_model.template)).std()
                for k, c in (("moving", moving), ("still", still))}
    assert openings["still"] < AMPLITUDE_FLOOR < openings["moving"]
    res = evaluate_clips(speech_model, [moving, still], (HELD_SENTENCES,))[HELD_SENTENCES]["speech model"]
    assert res["amplitude_clips"] == 1
    assert res["amplitude"] == pytest.approx(evaluate_clip(speech_model, moving)[0]["speech model"][2])
    assert math.isnan(evaluate_clip(speech_model, still)[0]["speech model"][2])
    assert amplitude(still.track, still.track, floor=0.0) == pytest.approx(1.0)  # no floor: it would count
    assert "(1 of 2 clips)" in table({HELD_SENTENCES: {"clips": 2, "frames": 2 * n, "speech model": res}})


def load_clips_of(data, tracks):
    from motiongan.speech.data import load_clips

    return load_clips(find_clips(data), tracks, workers=1, progress=False)


def test_prediction_runs_faster_than_real_time(speech_model, wav):
    import time

    speech = Speech.from_file(wav)
    t = time.perf_counter()
    speech_model.displacements(speech, 25)
    assert time.perf_counter() - t < speech.seconds


# ------------------------------------------------------------------------------------------- speak
def test_speak_writes_landmarks_and_a_drawn_video_with_audio_without_a_generator(source_image, wav, tmp_path,
                                                                                  speech_model):
    npy, mp4 = tmp_path / "lms.npy", tmp_path / "drawn.mp4"
    assert main(["speak", str(source_image), str(wav), "--landmarks-only", str(npy), "--quiet"]) == 0
    track = np.load(npy)
    assert track.shape == (75, 68, 2)
    moved = np.abs(track - track.mean(0)).max(0).max(-1)
    assert moved[MOUTH_AND_JAW].max() > 0.5 and moved[17:48].max() < 1e-3  # only mouth and jaw move (pixels)
    assert main(["speak", str(source_image), str(wav), "-o", str(mp4), "--draw", "--fps", "30", "--quiet"]) == 0
    info = video_info(mp4)
    assert info["frames"] == math.ceil(GRID_SECONDS * 30) and info["fps"] == pytest.approx(30)
    assert has_audio(mp4)


@pytest.fixture(scope="module")
def tiny_generator(tmp_path_factory, grid_clip):
    """A tiny generator trained for a few steps in the test (fast, unlike the shipped one)."""
    from motiongan.config import load_config
    from motiongan.data.prepare import Settings, prepare
    from motiongan.training.loop import train

    tiny = ["image_size=64", "width=8", "n_res=2", "d_width=4", "d_res=2", "dv_width=4", "dv_res=2", "batch=1",
            "T=2", "workers=0", "use_v=false", "test_persons=0", "sample_every=100"]
    src = tmp_path_factory.mktemp("src")
    os.symlink(grid_clip, src / grid_clip.name)
    cache = tmp_path_factory.mktemp("cache")
    prepare(src, "videos", cache, Settings(size=64, max_frames=12), workers=1, progress=False)
    run = tmp_path_factory.mktemp("run")
    train(load_config("small", tiny), cache, run, steps=2, progress=False)
    return run / "generator.safetensors"


@pytest.mark.parametrize("audio", ["wav", "mp4"])
def test_speak_with_a_generator_keeps_the_audio_and_one_frame_per_frame_time(audio, tiny_generator, source_image,
                                                                             wav, grid_clip, tmp_path):
    out = tmp_path / "talking.mp4"
    speech = wav if audio == "wav" else grid_clip
    assert main(["speak", str(source_image), str(speech), "-o", str(out), "--checkpoint", str(tiny_generator),
                 "--quiet"]) == 0
    info = video_info(out)
    assert info["frames"] == 75 and info["fps"] == pytest.approx(25) and (info["width"], info["height"]) == (64, 64)
    assert has_audio(out)


# --------------------------------------------------------------------------------------- bad audio
@pytest.fixture(scope="module")
def long_wav(tmp_path_factory):
    p = tmp_path_factory.mktemp("long") / "long.wav"  # 601 s: past the default 600 s limit
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:sample_rate=8000", "-t", "601", "-ac", "1", "-c:a", "pcm_u8", p)
    return p


def _bad_audio(kind, tmp_path, data_dir, long_wav):
    if kind == "empty":
        p = tmp_path / "empty.wav"
        p.write_bytes(b"")
    elif kind == "no audio stream":
        p = data_dir / "voxceleb" / "dagan_driving" / sorted(os.listdir(data_dir / "voxceleb" / "dagan_driving"))[0]
        assert not has_audio(p)
    elif kind == "silence":
        p = tmp_path / "silence.wav"
        ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "2", p)
    elif kind == "too long":
        p = long_wav
    elif kind == "not audio":
        p = tmp_path / "noise.mp3"
        p.write_bytes(os.urandom(4096))
    elif kind == "missing":
        p = tmp_path / "missing.wav"
    return p


@pytest.mark.parametrize("kind", ["empty", "no audio stream", "silence", "too long", "not audio", "missing"])
@pytest.mark.parametrize("mode", ["video", "landmarks"])
def test_bad_audio_exits_2_naming_the_file_and_writes_nothing(kind, mode, source_image, tmp_path, data_dir, long_wav,
                                                             capsys):
    bad = _bad_audio(kind, tmp_path, data_dir, long_wav)
    out = tmp_path / "out" / ("o.mp4" if mode == "video" else "o.npy")
    out.parent.mkdir()
    flag = ["-o", str(out), "--draw"] if mode == "video" else ["--landmarks-only", str(out)]
    assert main(["speak", str(source_image), str(bad), *flag, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and "Traceback" not in err
    assert list(out.parent.iterdir()) == []
