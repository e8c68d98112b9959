import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from motiongan.face import FaceJudge, NoFaceError, Verification, align_faces, jitter
from motiongan.face.landmarker import fill_gaps
from motiongan.face.verification import TEMPLATE_112, sface_path
from motiongan.landmarks import normalised_error, read_pts, smooth
from motiongan.media import MediaError, VideoWriter, iter_video, read_image


@pytest.fixture(scope="module")
def verification():
    return Verification()


@pytest.fixture(scope="module")
def face(data_dir, landmarker):
    rgb = read_image(data_dir / "stills68" / "image_0001.png")
    return rgb, landmarker(rgb)


def to_tensor(rgb):
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1


def test_landmarker_fits_hand_annotated_faces_within_0_04(data_dir, landmarker):
    for name in ("image_0001.png", "image_0003.png", "takeo.ppm"):
        rgb = read_image(data_dir / "stills68" / name)
        gt = read_pts((data_dir / "stills68" / name).with_suffix(".pts"))
        assert normalised_error(landmarker(rgb, name), gt) < 0.04, name


def test_grey_rgba_and_16_bit_images_read_as_rgb_and_find_the_face(tmp_path, face, landmarker):
    rgb, pts = face
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])).save(tmp_path / "rgba.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    for name in ("grey.png", "rgba.png", "deep.png"):
        img = read_image(tmp_path / name)
        assert img.shape == rgb.shape and img.dtype == np.uint8
        assert normalised_error(landmarker(img, name), pts) < 0.05, name


def test_exif_rotated_image_is_turned_upright(tmp_path, face, landmarker):
    rgb, pts = face
    im = Image.fromarray(np.rot90(rgb).copy())  # stored rotated, EXIF says rotate back
    exif = im.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    im.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    img = read_image(tmp_path / "rot.jpg")
    assert img.shape == rgb.shape
    assert normalised_error(landmarker(img), pts) < 0.05


def test_image_without_a_face_names_the_file(tmp_path, landmarker):
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(tmp_path / "wall.png")
    with pytest.raises(NoFaceError, match="wall.png: no face was found"):
        landmarker(read_image(tmp_path / "wall.png"), str(tmp_path / "wall.png"))


def test_undecodable_files_say_they_cannot_be_decoded(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    with pytest.raises(MediaError, match="junk.png: cannot be decoded"):
        read_image(tmp_path / "junk.png")
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 1000)
    with pytest.raises(MediaError, match="junk.mp4: cannot be decoded"):
        list(iter_video(tmp_path / "junk.mp4"))


def test_video_without_any_face_names_the_file(tmp_path, landmarker):
    path = tmp_path / "noise.mp4"
    with VideoWriter(path, fps=10) as w:
        for i in range(5):
            w.write(np.random.default_rng(i).integers(0, 255, (120, 160, 3), dtype=np.uint8))
    with pytest.raises(NoFaceError, match=r"noise.mp4: no face was found in any of its 5 frames"):
        landmarker.track(iter_video(path), name=str(path))


def test_video_tracking_follows_the_face_and_smoothing_reduces_jitter(data_dir, landmarker):
    frames = list(iter_video(data_dir / "grid" / "bbaf2n.mpg", max_frames=30))
    track = landmarker.track(frames)
    assert len(track) == 30 and all(p is not None for p in track)
    detected = [landmarker(f) for f in frames[::10]]
    for got, ref in zip(track[::10], detected):
        assert normalised_error(got, ref) < 0.05
    raw = fill_gaps(track)
    assert jitter(smooth(raw, 1.5)) < 0.7 * jitter(raw)


def test_fill_gaps_uses_the_nearest_found_frame():
    a, b = np.zeros((68, 2), np.float32), np.ones((68, 2), np.float32)
    out = fill_gaps([None, a, None, None, b])
    assert (out[0] == a).all() and (out[2] == a).all() and (out[3] == b).all()


def test_verification_matches_opencv_sface_on_the_same_aligned_face(face, verification):
    rgb, pts = face
    aligned = align_faces(to_tensor(rgb), torch.from_numpy(pts)[None])
    crop = ((aligned[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
    ours = verification(torch.from_numpy(crop).permute(2, 0, 1)[None].float())[0].numpy()
    ref = cv2.FaceRecognizerSF.create(str(sface_path()), "").feature(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    ref = ref.ravel()
    assert ours @ ref / np.linalg.norm(ours) / np.linalg.norm(ref) > 0.999


def test_alignment_puts_the_five_points_on_the_template():
    # a face whose five points are the template rotated by 30 degrees, scaled by 2 and moved
    a = np.deg2rad(30)
    rot = 2.0 * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    five = TEMPLATE_112 @ rot.T + np.array([150.0, 40.0], np.float32)
    pts = np.zeros((68, 2), np.float32)
    pts[36:42], pts[42:48], pts[30], pts[48], pts[54] = five[0], five[1], five[2], five[3], five[4]
    img = np.zeros((320, 320, 3), np.uint8)
    for x, y in five:
        cv2.circle(img, (int(round(x)), int(round(y))), 3, (255, 255, 255), -1)
    aligned = align_faces(to_tensor(img), torch.from_numpy(pts)[None])[0, 0].numpy()
    for x, y in TEMPLATE_112:
        assert aligned[int(round(y)), int(round(x))] > 0.5  # each white dot lands on its template point
    assert (aligned > 0.5).mean() < 0.01


def test_identity_loss_gradient_reaches_the_image_and_v_stays_frozen(face, verification):
    rgb, pts = face
    img = to_tensor(rgb).requires_grad_(True)
    emb = verification.embed(img, torch.from_numpy(pts)[None])
    loss = 1 - (emb * emb.detach().roll(1, -1)).sum()
    loss.backward()
    assert img.grad is not None and img.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in verification.parameters())
    verification.train()
    assert not verification.training


def test_v_and_the_dlib_judge_tell_people_apart(data_dir, landmarker, verification):
    yale = data_dir / "expressions" / "yale"
    files = [yale / "01_normal.png", yale / "01_happy.png", yale / "02_normal.png"]
    rgbs = [read_image(f) for f in files]
    pts = [landmarker(r) for r in rgbs]
    emb = [verification.embed(to_tensor(r), torch.from_numpy(p)[None])[0] for r, p in zip(rgbs, pts)]
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2]) + 0.2
    judge = FaceJudge()
    d = [judge.descriptor(r, p) for r, p in zip(rgbs, pts)]
    assert judge.same_person(d[0], d[1]) and not judge.same_person(d[0], d[2])


def test_v_embeds_each_face_of_a_batch_as_it_would_alone(verification):
    # frozen batch norm: a face's embedding (and so L_id) does not depend on the rest of the batch
    faces = torch.rand(4, 3, 112, 112) * 255
    together = verification(faces)
    alone = torch.cat([verification(faces[i:i + 1]) for i in range(4)])
    assert together.shape == (4, 128) and torch.allclose(together, alone, atol=1e-4)
    verification.train()
    assert torch.allclose(verification(faces), together, atol=1e-4)  # train() keeps it frozen


def test_a_jpeg_astronaut_has_one_face_not_her_mission_patch(landmarker, tmp_path):
    import cv2
    from skimage import data

    from motiongan.media import read_image

    cv2.imwrite(str(tmp_path / "astronaut.jpg"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 90])  # at this quality the detector also scores the patch (0.1)
    assert len(landmarker.detect(read_image(tmp_path / "astronaut.jpg"))) == 1


def test_a_small_photo_is_searched_again_upsampled_and_a_tiny_one_is_refused_saying_its_size(landmarker):
    import cv2
    import pytest
    from skimage import data

    from motiongan.face.landmarker import NoFaceError

    big = landmarker(data.astronaut())
    small = cv2.resize(data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)  # the face is ~22 px wide
    pts = landmarker(small, "small.png")
    assert abs(pts - (big + 0.5) / 4 + 0.5).mean() < 2.0
    with pytest.raises(NoFaceError, match=r"tiny.png: no face was found \(the image is 48 x 48 px"):
        landmarker(cv2.resize(small, (48, 48), interpolation=cv2.INTER_AREA), "tiny.png")


def test_the_face_mesh_lands_on_the_face_and_its_68_point_subset_agrees_with_hand_made_points(data_dir):
    import pytest

    mesh_module = pytest.importorskip("motiongan.face.mesh")
    pytest.importorskip("ai_edge_litert", reason="the mesh extra (ai-edge-litert) is not installed")
    from motiongan.landmarks import interocular, read_pts
    from motiongan.media import read_image

    mesh = mesh_module.MeshLandmarker()
    errors = []
    for pts_file in sorted((data_dir / "stills68").glob("image_*.pts")):
        gt = read_pts(pts_file)
        m = mesh(read_image(pts_file.with_suffix(".png")), gt)
        assert m.shape == (468, 3) and np.isfinite(m).all()
        lo, hi = gt.min(0), gt.max(0)
        pad = 0.4 * (hi - lo)  # the mesh also covers the forehead, above the brows
        assert ((m[:, :2] >= lo - pad) & (m[:, :2] <= hi + pad)).all()  # every point on the face
        errors.append(np.linalg.norm(m[list(mesh_module.IBUG_FROM_MESH), :2] - gt, axis=1).mean() / interocular(gt))
    assert len(errors) >= 6 and np.mean(errors) < 0.06, errors  # measured: 0.040 (scripts/mesh_ibug_map.py)
