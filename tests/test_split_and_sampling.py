"""The fixed test people, person-balanced sampling, GPU-resident samples and packed caches (issue 13)."""
import os
from collections import Counter

import numpy as np
import pytest
import torch

from motiongan.data import Cache, ResidentClips, SplitOptions, TrainingClips, read_test_list
from motiongan.data.pack import PackOptions, pack
from motiongan.data.prepare import Settings, prepare
from motiongan.training.loop import StepBatches

VIDEO = {".mp4", ".mpg"}


@pytest.fixture(scope="module")
def mixed_cache(tmp_path_factory, data_dir):
    """GRID clips laid out as people: s1 with two clips (one of them grid/bbaf2n), pwij3p (a test person)
    and brbk7n, 20 frames each."""
    src = tmp_path_factory.mktemp("src") / "grid"  # the folder names make the person ids
    src.mkdir()
    os.symlink(data_dir / "grid" / "bbaf2n.mpg", src / "bbaf2n.mpg")
    os.symlink(data_dir / "grid" / "pwij3p.mpg", src / "pwij3p.mpg")
    os.symlink(data_dir / "grid" / "brbk7n.mpg", src / "brbk7n.mpg")
    s1 = tmp_path_factory.mktemp("src") / "grid_s1" / "s1"
    s1.mkdir(parents=True)
    os.symlink(data_dir / "grid_s1" / "s1" / "bbal7s.mpg", s1 / "bbal7s.mpg")
    out = tmp_path_factory.mktemp("cache")
    st = Settings(size=64, max_frames=20)
    prepare(src, "videos", out, st, workers=1, progress=False)
    prepare(s1.parent, "videos", out, st, workers=1, progress=False)
    return Cache(out)


def test_fixed_test_list_covers_every_source_folder_and_about_a_fifth_of_the_people(data_dir):
    listed = read_test_list("v1")
    folders = {p.split("/")[0] for p in listed}
    assert {"grid", "talking", "voxceleb", "mead", "hdtf", "expressions"} <= folders
    people = set()
    for folder in ("grid", "talking"):  # one person per file
        people |= {f"{folder}/{p.stem}" for p in (data_dir / folder).iterdir() if p.suffix in VIDEO}
    for folder in ("voxceleb", "mead", "hdtf", "grid_s1"):  # one person per sub-folder
        people |= {f"{folder}/{p.name}" for p in (data_dir / folder).iterdir() if p.is_dir()}
    people.discard("grid/bbaf2n")  # speaker s1, the same person as grid_s1/s1
    video_test = [p for p in listed if not p.startswith("expressions/")]
    assert set(video_test) <= people
    assert 0.15 <= len(video_test) / len(people) <= 0.25, (len(video_test), len(people))


def test_one_person_across_two_folders_gets_one_id(mixed_cache):
    owners = {c["clip_id"]: c["person"] for c in mixed_cache.clips}
    assert owners["grid-bbaf2n"] == owners["grid_s1-s1_bbal7s"] == "grid_s1/s1"


def test_no_test_person_appears_in_any_training_sample(mixed_cache):
    ds = TrainingClips(mixed_cache, "train", T=4, people=SplitOptions(test_list="v1"))
    test_people = set(read_test_list("v1"))
    seen = {mixed_cache.clips[ds.clip_ids[ds.plan(i)[0]]]["person"] for i in range(2000)}
    assert "grid/pwij3p" in mixed_cache.persons and not seen & test_people
    assert seen == set(mixed_cache.persons) - test_people


@pytest.mark.parametrize("power", [0.0, 1.0])
def test_person_balanced_sampler_frequencies_match_its_formula(mixed_cache, power):
    ds = TrainingClips(mixed_cache, "all", T=4, people=SplitOptions(test_list=None), person_power=power)
    windows = {p: sum(len(ds.windows[k]) for k in ks) for p, ks in zip(ds.persons, ds.person_clips)}
    expected = {p: w**power for p, w in windows.items()}
    total = sum(expected.values())
    n = 6000
    counts = Counter(ds.persons[[k in ks for ks in ds.person_clips].index(True)]
                     for k, *_ in (ds.plan(i) for i in range(n)))
    for p, e in expected.items():
        prob = e / total
        sigma = np.sqrt(prob * (1 - prob) / n)
        assert abs(counts[p] / n - prob) < 4 * sigma, (p, counts[p] / n, prob)
    # the person with two clips: each clip in proportion to its windows
    s1 = ds.person_clips[ds.persons.index("grid_s1/s1")]
    assert len(s1) == 2


def test_a_resumed_sampler_continues_the_same_sequence(mixed_cache):
    ds = TrainingClips(mixed_cache, "train", T=4, people=SplitOptions(test_list="v1"))
    whole = list(StepBatches(0, 10, 3))
    resumed = list(StepBatches(6, 10, 3))
    assert resumed == whole[6:]
    assert [ds.plan(i) for b in resumed for i in b] == [ds.plan(i) for b in whole[6:] for i in b]


def test_device_resident_samples_equal_the_datasets(mixed_cache):
    ds = TrainingClips(mixed_cache, "train", T=4, people=SplitOptions(test_list="v1"))
    resident = ResidentClips(ds, "cpu")
    idx = list(range(40, 56))
    batch = resident.batch(idx)
    items = [ds[i] for i in idx]
    assert any(ds.plan(i)[3] for i in idx) and not all(ds.plan(i)[3] for i in idx)  # both mirrored and not
    for key, name in (("source", "source"), ("source_landmarks", "source_landmarks"), ("frames", "frames"),
                      ("landmarks", "landmarks")):
        assert torch.equal(batch[key], torch.stack([it[name] for it in items])), key


def test_pack_keeps_training_people_within_the_frame_cap(mixed_cache, tmp_path):
    m = pack(mixed_cache.root, tmp_path / "p", PackOptions(quality=80, max_frames_per_person=30), progress=False)
    packed = Cache(tmp_path / "p")
    frames = Counter()
    for i, c in enumerate(packed.clips):
        frames[c["person"]] += c["frames"]
        fi = packed.clip(i).frame_index
        assert len(fi) == c["frames"] and np.all(np.diff(fi) >= 1)
    assert "grid/pwij3p" not in frames and set(frames) == set(mixed_cache.persons) - {"grid/pwij3p"}
    assert frames["grid_s1/s1"] == 30 and all(v <= 30 for v in frames.values())
    size = lambda root: sum(p.stat().st_size for p in (root / "clips").iterdir())  # noqa: E731
    assert m["frames"] == sum(frames.values())
    full = pack(mixed_cache.root, tmp_path / "q", PackOptions(quality=95, max_frames_per_person=30), progress=False)
    assert full["frames"] == m["frames"] and size(tmp_path / "p") < size(tmp_path / "q")


def test_closed_source_draws_sources_from_the_least_open_mouth_quarter(mixed_cache):
    from motiongan.landmarks import INNER_MOUTH, opening
    always = TrainingClips(mixed_cache, "all", T=4, people=SplitOptions(test_list=None), closed_source=1.0)
    never = TrainingClips(mixed_cache, "all", T=4, people=SplitOptions(test_list=None))
    for i in range(200):
        k, src, start, _ = always.plan(i)
        mouth = opening(np.asarray(mixed_cache.clip(always.clip_ids[k]).landmarks, np.float64), INNER_MOUTH)
        candidates = never._sources(k, start, closed=False)
        assert src in candidates and mouth[src] <= np.quantile(mouth[candidates], 0.25)
    # without it the sources spread over every eligible frame, the open-mouthed ones included
    ranks = []
    for i in range(400):
        k, src, start, _ = never.plan(i)
        mouth = opening(np.asarray(mixed_cache.clip(never.clip_ids[k]).landmarks, np.float64), INNER_MOUTH)
        ranks.append(np.mean(mouth[never._sources(k, start, closed=False)] < mouth[src]))
    assert 0.4 < np.mean(ranks) < 0.6
