"""Mesh motion (motiongan.mesh_motion, animate --motion mesh): piecewise affine in depth order, the spline
outside, no seam, any size, the far side of a turned head drawn from its near side mirrored."""
import cv2
import numpy as np
import pytest

from motiongan.mesh_motion import front_triangle, mesh_warp, mirror_share, retarget_mesh, triangle_maps

pytest.importorskip("ai_edge_litert", reason="the mesh extra (ai-edge-litert) is not installed")
from motiongan.face.mesh import MIRROR, MeshLandmarker, topology  # noqa: E402


@pytest.fixture(scope="module")
def face(data_dir, landmarker):
    """A photo's face crop at 256 px with its 68 points and mesh there."""
    from motiongan.crop import crop_face
    from motiongan.inference.mesh_driver import to_crop
    from motiongan.media import read_image

    photo = read_image(data_dir / "stills68" / "image_0003.png")
    pts = landmarker(photo)
    crop, lms, m = crop_face(photo, pts, 256)
    return crop, lms, to_crop(MeshLandmarker()(photo, pts), m)


def test_the_nearer_triangle_is_drawn_in_front():
    pts = np.array([[10, 10], [50, 10], [30, 50], [12, 12], [52, 12], [32, 52]], np.float32)
    tris = np.array([[0, 1, 2], [3, 4, 5]])
    near_first = front_triangle(pts, np.array([0, 0, 0, 5, 5, 5], np.float32), tris, (64, 64))
    near_second = front_triangle(pts, np.array([5, 5, 5, 0, 0, 0], np.float32), tris, (64, 64))
    assert near_first[25, 30] == 0 and near_second[25, 30] == 1 and near_first[60, 60] == -1


def test_each_triangle_map_takes_the_target_triangle_onto_the_source_one():
    rng = np.random.default_rng(0)
    target, source = rng.uniform(0, 100, (6, 2)), rng.uniform(0, 100, (6, 2))
    tris = np.array([[0, 1, 2], [3, 4, 5], [0, 0, 1]])  # the last is degenerate
    maps = triangle_maps(target, source, tris)
    for k in range(2):
        moved = target[tris[k]] @ maps[k][:, :2].T + maps[k][:, 2]
        np.testing.assert_allclose(moved, source[tris[k]], atol=1e-3)
    assert np.isfinite(maps).all()


def test_the_same_mesh_and_points_leave_the_face_where_it_is(face):
    crop, lms, mesh = face
    out = mesh_warp(crop, mesh, mesh, lms, lms, topology()[0])
    assert np.abs(out.astype(int) - crop).mean() < 1.0


def test_no_seam_where_the_mesh_and_the_spline_disagree(face):
    crop, lms, mesh = face
    ramp = np.tile(np.linspace(0, 255, 256, dtype=np.float32)[None, :, None], (256, 1, 3)).astype(np.uint8)
    moved = mesh.copy()
    moved[:, 1] += 6 * np.sin(mesh[:, 0] / 40)  # the mesh moves; the 68 points stay: the two motions differ
    out = mesh_warp(ramp, mesh, moved, lms, lms, topology()[0]).astype(np.float32)
    grad = np.hypot(cv2.Sobel(out[..., 0], cv2.CV_32F, 1, 0), cv2.Sobel(out[..., 0], cv2.CV_32F, 0, 1))
    ids = front_triangle(moved[:, :2], moved[:, 2], topology()[0], (256, 256))
    inside = (ids >= 0).astype(np.uint8)
    band = (cv2.dilate(inside, np.ones((5, 5))) - cv2.erode(inside, np.ones((5, 5)))).astype(bool)
    core = cv2.erode(inside, np.ones((15, 15))).astype(bool)
    assert np.percentile(grad[band], 99) <= 1.2 * np.percentile(grad[core], 99)


def test_the_mesh_motion_renders_the_same_at_any_size(face):
    crop, lms, mesh = face
    moved = retarget_mesh(mesh, mesh + np.array([3.0, -2.0, 0.0], np.float32), mesh)
    tris = topology()[0]
    small = mesh_warp(cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA), mesh / 2, moved / 2,
                      (lms + 0.5) / 2 - 0.5, (lms + 0.5) / 2 - 0.5 + [1.5, -1.0], tris)
    large = mesh_warp(crop, mesh, moved, lms, lms + [3.0, -2.0], tris)
    down = cv2.resize(large, (128, 128), interpolation=cv2.INTER_AREA)
    assert np.abs(down.astype(int) - small).mean() < 4.0


@pytest.mark.slow
def test_animate_with_mesh_motion_follows_a_video_driver(data_dir, tmp_path):
    from motiongan.cli import main
    from motiongan.media import video_info

    out = tmp_path / "mesh.mp4"
    assert main(["animate", str(data_dir / "stills68" / "image_0003.png"), str(data_dir / "grid" / "bbaf2n.mpg"),
                 "-o", str(out), "--motion", "mesh", "--max-frames", "12"]) == 0
    info = video_info(out)
    assert info["frames"] == 12 and info["width"] == 256


def test_the_core_install_has_no_mediapipe_jax_or_second_opencv():
    import importlib.metadata as md
    import importlib.util

    assert importlib.util.find_spec("mediapipe") is None and importlib.util.find_spec("jax") is None
    names = {d.metadata["Name"].lower() for d in md.distributions()}
    assert "opencv-python-headless" in names
    assert not names & {"opencv-python", "opencv-contrib-python", "opencv-contrib-python-headless"}
    assert cv2.getBuildInformation().split("GUI:")[1].split()[0] == "NONE"  # the cv2 imported is the headless one


def test_the_mouth_is_filled_and_only_the_oval_and_the_eyes_stay_open():
    from collections import Counter

    from motiongan.face.mesh import MOUTH_FILL

    tris, oval = topology()
    assert len(tris) == len(topology(mouth=False)[0]) + len(MOUTH_FILL) == 872
    edges = Counter(tuple(sorted(e)) for t in tris.tolist() for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2])))
    open_vertices = {v for e, n in edges.items() if n == 1 for v in e}
    assert set(oval.tolist()) <= open_vertices and len(open_vertices) == 36 + 16 + 16  # the oval, two eyes
    assert not open_vertices & {13, 14, 78, 308}  # the inner lips are closed over


def test_the_crop_stays_upright_for_small_rolls_and_turns_by_the_excess(face):
    from motiongan.face.mesh import UPRIGHT

    _, lms, _ = face
    own = np.degrees(np.arctan2(*(lms[45] - lms[36])[::-1]))  # the photo's own roll
    for degrees in (-8, 8, 40):
        r = cv2.getRotationMatrix2D((128, 128), -degrees, 1.0)  # the face rolled by +degrees (image y down)
        m = MeshLandmarker.crop_matrix(lms @ r[:, :2].T + r[:, 2])
        turned, roll = np.degrees(np.arctan2(m[0, 1], m[0, 0])), own + degrees
        assert abs(turned - np.sign(roll) * max(abs(roll) - np.degrees(UPRIGHT), 0)) < 1e-3, (degrees, turned)
    assert abs(own) + 8 < np.degrees(UPRIGHT)  # so -8 and 8 stayed upright


def test_the_mesh_lands_on_a_rolled_face(face):
    from motiongan.face.mesh import IBUG_FROM_MESH
    from motiongan.landmarks import interocular

    crop, lms, _ = face
    r = cv2.getRotationMatrix2D((127.5, 127.5), 45, 0.8)
    rolled, pts = cv2.warpAffine(crop, r, (256, 256)), lms @ r[:, :2].T + r[:, 2]
    mesh = MeshLandmarker()(rolled, pts)
    assert np.linalg.norm(mesh[list(IBUG_FROM_MESH), :2] - pts, axis=1).mean() / interocular(pts) < 0.08


def test_the_mesh_mirror_map_is_an_involution_that_keeps_the_midline_and_swaps_the_sides():
    mirror = np.array(MIRROR)
    assert sorted(mirror.tolist()) == list(range(468)) and (mirror[mirror] == np.arange(468)).all()
    assert (mirror == np.arange(468)).sum() == 28  # the vertices on the face's midline


def test_a_source_that_shows_the_whole_face_lends_nothing_from_its_mirror(face):
    crop, lms, mesh = face
    moved = retarget_mesh(mesh, mesh + np.array([2.0, -1.0, 0.0], np.float32), mesh)
    assert mirror_share(mesh, moved, topology()[0], MIRROR).max() == 0
    assert np.array_equal(mesh_warp(crop, mesh, moved, lms, lms + [2.0, -1.0], topology()[0], mirror=MIRROR),
                          mesh_warp(crop, mesh, moved, lms, lms + [2.0, -1.0], topology()[0]))


@pytest.mark.parametrize("size", [256, 640])  # at 640 px the far side holds more pixels than OpenCV maps in a row
def test_the_side_a_turned_source_hides_is_drawn_from_the_side_it_shows(face, size):
    """On a symmetric face (the photo's one half and its mirror image, the mesh made symmetric alike), a source
    whose mesh says one cheek is turned away (squashed towards the midline) has no pixels for it: stretching takes
    the wrong ones, the mirror takes the other cheek's, which here are the truth."""
    crop, lms, mesh = face
    k = size / 256
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)
    lms, mesh = (lms + 0.5) * k - 0.5, (mesh * k).astype(np.float32)
    mesh[:, :2] += 0.5 * k - 0.5
    tris, mirror = topology()[0], np.array(MIRROR)
    mid = float(mesh[mirror == np.arange(468), 0].mean())
    reflect = np.array([-1.0, 1.0, 1.0], np.float32)
    sym = ((mesh + mesh[mirror] * reflect + [2 * mid, 0, 0]) / 2).astype(np.float32)  # sym[mirror] mirrors sym
    xs = np.arange(size, dtype=np.float32)
    image = cv2.remap(crop, np.tile(np.where(xs > mid, 2 * mid - xs, xs), (size, 1)),
                      np.tile(xs[:, None], (1, size)), cv2.INTER_LINEAR)  # its right half the left one's mirror
    far = sym[:, 0] > mid + 2
    turned = sym.copy()
    turned[far, 0] = mid + 0.2 * (sym[far, 0] - mid)  # the far side seen edge-on
    share = mirror_share(turned, sym, tris, MIRROR)
    hidden = far[tris].all(1)
    assert hidden.sum() > 100 and share[hidden].min() > 0.99 and share[~far[tris].any(1)].max() == 0
    region = np.zeros((size, size), np.uint8)
    for t in tris[hidden]:
        cv2.fillConvexPoly(region, np.round(sym[t, :2]).astype(np.int32), 1)
    region = cv2.erode(region, np.ones((round(9 * k),) * 2)).astype(bool)  # clear of the blend ramps
    assert region.sum() > (35000 if size > 512 else 5000)

    def error(mirrored):
        out = mesh_warp(image, turned, sym, lms, lms, tris, mirror=MIRROR if mirrored else None)
        return np.abs(out[region].astype(int) - image[region]).mean()
    assert error(True) < 0.3 * error(False), (error(True), error(False))  # the blend ramps keep it from 0
