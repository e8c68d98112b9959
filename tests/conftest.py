from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"shared data not found at {DATA}: tests read real faces from ../shared/data")
    return DATA


@pytest.fixture(scope="session")
def landmarker():
    from motiongan.face import FaceLandmarker

    return FaceLandmarker()
