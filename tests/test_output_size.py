"""``animate --size N|native``: the motion at the output size, and the result pasted back without a seam."""
import numpy as np
import pytest

from motiongan.crop import PasteBack, crop_box, crop_face
from motiongan.errors import ConfigError
from motiongan.inference import MotionGAN
from motiongan.inference.animate import AnimateOptions, Animator, output_size
from motiongan.landmarks import retarget
from motiongan.media import read_image, video_info


@pytest.fixture(scope="module")
def photo(data_dir):
    return read_image(data_dir / "stills68" / "image_0001.png")


@pytest.fixture(scope="module")
def animator(landmarker):
    return Animator(MotionGAN.landmark_warp(size=64), landmarker)


def test_size_is_the_models_a_number_or_the_faces_own_resolution(animator, photo):
    points = animator.landmarker(photo)
    assert output_size(None, points, 64) == 64
    assert output_size("256", points, 64) == 256
    native = output_size("native", points, 64)
    assert native % 2 == 0 and abs(native - crop_box(points)[2]) <= 1
    from motiongan.inference.edit import EditOptions
    from motiongan.speech.speak import SpeakOptions

    for bad in ("0", "huge", "-3", "9000", "12.5", 5000):
        for make in (AnimateOptions, SpeakOptions, lambda size: EditOptions(expression="happy", size=size)):
            with pytest.raises(ConfigError, match="--size: expected a number of pixels from 32 to 4096"):
                make(size=bad)  # when the options are made (every path's options), before anything is read
    assert AnimateOptions(size=" Native").size == "native" and SpeakOptions(size="256").size == 256


def test_a_warp_renders_at_256_px_by_default_and_the_papers_g_at_its_own_size(animator, photo):
    assert animator.source(photo).detail.shape == (256, 256, 3)
    from motiongan.config import load_config
    from motiongan.networks import Generator

    cfg = load_config("small", ["image_size=64", "width=8", "n_res=2"])
    assert MotionGAN(Generator(**cfg.generator_kwargs()), cfg).default_output == 64


def test_a_larger_size_warps_the_source_at_that_size_with_the_same_motion(animator, photo):
    small, large = animator.source(photo, size="64"), animator.source(photo, size="256")
    assert small.detail is None and large.detail.shape == (256, 256, 3) and large.crop.shape == (64, 64, 3)
    np.testing.assert_allclose(large.to_output(large.landmarks), crop_face(photo, animator.landmarker(photo), 256)[1],
                               atol=1e-3)
    targets = retarget(small.landmarks, np.stack([small.landmarks, small.landmarks * 0.98 + 0.6]))
    lo, hi = list(animator.frames(small, targets)), list(animator.frames(large, targets))
    assert hi[0].shape == (256, 256, 3)
    # the same motion: the 256 result brought down to 64 is the 64 result, up to resampling
    import cv2
    down = cv2.resize(hi[1], (64, 64), interpolation=cv2.INTER_AREA).astype(float)
    assert np.abs(down - lo[1]).mean() < 6
    # and sharper than the 64 result brought up (more detail: higher Laplacian energy)
    up = cv2.resize(lo[1], (256, 256), interpolation=cv2.INTER_CUBIC)
    sharp = lambda im: cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()  # noqa: E731
    assert sharp(hi[1]) > 1.5 * sharp(up)


def test_paste_back_leaves_the_photo_outside_the_crop_and_shows_no_seam_at_its_border(animator, photo):
    source = animator.source(photo, size="256")
    paste = PasteBack(photo, source.out_matrix, 256)
    same = paste(source.detail)
    assert same.shape == photo.shape
    assert np.abs(same.astype(int) - photo).mean() < 1.0  # the unchanged crop goes back where it came from
    inverted = paste(255 - source.detail)  # as different from the photo as a crop can be
    diff = np.abs(inverted.astype(int) - photo).max(-1)
    ys, xs = np.nonzero(diff)
    rows, cols = paste.region
    assert rows.start <= ys.min() and ys.max() < rows.stop and cols.start <= xs.min() and xs.max() < cols.stop
    # along the crop's own border the blend has faded out (under 1 % of what was pasted there), so a generated
    # face that differs from the photo at its edge leaves no step
    size, inv = 256, np.linalg.inv(np.vstack([source.out_matrix, [0, 0, 1]]))[:2]
    t = np.linspace(0, size - 1, 200)
    edge = np.concatenate([np.stack([t, np.zeros_like(t)], 1), np.stack([t, np.full_like(t, size - 1)], 1),
                           np.stack([np.zeros_like(t), t], 1), np.stack([np.full_like(t, size - 1), t], 1)])
    xy = np.round(edge @ inv[:, :2].T + inv[:, 2]).astype(int)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < photo.shape[1]) & (xy[:, 1] >= 0) & (xy[:, 1] < photo.shape[0])
    ys, xs = xy[inside, 1], xy[inside, 0]
    assert paste.alpha[ys - rows.start, xs - cols.start].max() < 0.01
    assert diff[ys, xs].max() <= 0.01 * 255 + 1
    # while the middle of the face shows the pasted crop
    cy, cx = (rows.start + rows.stop) // 2, (cols.start + cols.stop) // 2
    assert abs(int(inverted[cy, cx, 0]) - (255 - int(photo[cy, cx, 0]))) <= 3


def test_animate_writes_the_photos_resolution_when_pasted_at_a_larger_size(animator, photo, data_dir, tmp_path):
    out = tmp_path / "big.mp4"
    res = animator.animate(data_dir / "stills68" / "image_0001.png", data_dir / "grid" / "bbaf2n.mpg", out,
                           AnimateOptions(size="native", paste=True, max_frames=5))
    info = video_info(out)
    h, w = photo.shape[:2]
    assert res["frames"] == 5 and (info["height"], info["width"]) == (h + h % 2, w + w % 2)


# ------------------------------------------------- --size and --paste on every path (edit, speak), checked once
@pytest.fixture(scope="module")
def paper_g():
    """A tiny paper's G (a fixed-size network: 64 px and no other)."""
    import torch

    from motiongan.config import load_config
    from motiongan.networks import Generator

    cfg = load_config("small", ["image_size=64", "width=8", "n_res=2"])
    torch.manual_seed(0)
    return MotionGAN(Generator(**cfg.generator_kwargs()), cfg, name="tiny paper G")


def test_edit_writes_the_size_asked_and_the_whole_photo_when_pasted(data_dir, photo, tmp_path):
    from motiongan.cli import main

    face, out, pasted = data_dir / "stills68" / "image_0001.png", tmp_path / "e.png", tmp_path / "p.png"
    edit = ["edit", str(face), "--expression", "happy", "--checkpoint", "warp"]
    assert main([*edit, "-o", str(out), "--size", "320"]) == 0  # not the warp's default (256)
    assert read_image(out).shape == (320, 320, 3)
    assert main([*edit, "-o", str(pasted), "--paste"]) == 0
    assert read_image(pasted).shape == photo.shape


def test_speak_from_a_photo_writes_the_size_asked(data_dir, tmp_path):
    from motiongan.cli import main

    out = tmp_path / "s.mp4"
    assert main(["speak", str(data_dir / "stills68" / "image_0001.png"), str(data_dir / "grid" / "bbaf2n.mpg"),
                 "-o", str(out), "--checkpoint", "warp", "--size", "320", "--fps", "2", "--quiet"]) == 0
    info = video_info(out)
    assert (info["width"], info["height"]) == (320, 320) and info["frames"] == 6


def test_a_size_is_refused_for_a_dubbed_video_before_it_is_read(tmp_path):
    from motiongan.speech.speak import SpeakOptions, speak

    with pytest.raises(ConfigError, match="--size: a video is dubbed at its own"):
        speak(tmp_path / "not_there.mp4", tmp_path / "not_there.wav", tmp_path / "o.mp4",
              options=SpeakOptions(size=256))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("size", ["256", "native", "32"])
def test_the_papers_g_refuses_another_size_before_the_source_is_read(paper_g, landmarker, data_dir, size, tmp_path):
    from motiongan.inference.edit import EditOptions, edit_image
    from motiongan.inference.output import check_size
    from motiongan.speech.speak import SpeakOptions, speak

    garbage = tmp_path / "garbage.png"  # not an image: reading it would be another error
    garbage.write_bytes(b"not an image" * 20)
    animator, said = Animator(paper_g, landmarker), r"--size: expected 64 \(or no size\), got .*tiny paper G"
    with pytest.raises(ConfigError, match=said):
        animator.animate(garbage, data_dir / "grid" / "bbaf2n.mpg", tmp_path / "o.mp4", AnimateOptions(size=size))
    with pytest.raises(ConfigError, match=said):
        edit_image(animator, garbage, tmp_path / "e.png", EditOptions(expression="happy", size=size))
    with pytest.raises(ConfigError, match=said):
        speak(garbage, tmp_path / "not_there.wav", tmp_path / "s.mp4", options=SpeakOptions(size=size), model=paper_g)
    assert check_size("64", paper_g) == 64 and check_size(None, paper_g) is None  # its own size, or none, is fine
    assert check_size("native", Animator(MotionGAN.landmark_warp(size=64)).model) == "native"  # a warp: any
