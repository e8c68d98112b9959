import signal
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# A suite started in the background (nohup, `&`) inherits SIGINT ignored, and so would every command the
# tests start, which then could not be interrupted: the tests of Ctrl-C need it handled as usual.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}: these tests read real faces from ../shared/data")
    return DATA


@pytest.fixture(scope="session")
def landmarker():
    from motiongan.face import FaceLandmarker

    return FaceLandmarker()


# the networks at their smallest, for tests that train or generate (64 px, 8-wide G, clips of 2 frames)
TINY = ["image_size=64", "width=8", "n_res=2", "d_width=4", "d_res=2", "dv_width=4", "dv_res=2", "stargan_d_layers=3",
        "batch=1", "T=2", "workers=0"]


@pytest.fixture(scope="session")
def tiny() -> list[str]:
    """``--set`` overrides that make any configuration tiny."""
    return list(TINY)


@pytest.fixture(scope="session")
def one_clip(tmp_path_factory, data_dir) -> Path:
    """A cache of one GRID video (75 frames, one person) prepared at 64 px."""
    from motiongan.data.prepare import Settings, prepare

    src = tmp_path_factory.mktemp("one_clip_src")
    (src / "bbaf2n.mpg").symlink_to(data_dir / "grid" / "bbaf2n.mpg")
    out = tmp_path_factory.mktemp("one_clip")
    prepare(src, "videos", out, Settings(size=64), workers=1, progress=False)
    return out


@pytest.fixture(autouse=True)
def _score_cache(tmp_path_factory, monkeypatch):
    """Evaluation scores cached by tests go to a temporary folder, not ~/.cache/motiongan."""
    monkeypatch.setenv("MOTIONGAN_CACHE", str(tmp_path_factory.getbasetemp() / "motiongan_cache"))
