"""``animate --motion mesh``: a video driver's dense face mesh moves the source's (:mod:`motiongan.mesh_motion`),
frame by frame, in place of the landmark warp's 68-point spline.

The source's mesh is found once on the photo; each driving frame's mesh is found on the frame in the box
of its tracked 68 points, One Euro filtered as the 68 points are, and its motion from the driver's first
mesh is put on the source's (:func:`motiongan.mesh_motion.retarget_mesh`). Where the driver's mesh is lost
(the face not found, or the mesh model not sure of it) the last target mesh holds. Where the photo hides the
side of the face the driver turns to, that side is drawn from the side the photo shows, mirrored.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..face.mesh import MIRROR, MeshError, MeshLandmarker, topology
from ..filtering import OneEuroFilter
from ..landmarks import apply_affine, interocular, invert_affine
from ..mesh_motion import mesh_warp, retarget_mesh

MOTIONS = ("tps", "mesh")


def check_motion(motion: str, model, video_driver: bool) -> None:
    """``--motion`` checked before anything is read: ``mesh`` needs the landmark warp and a video driver."""
    if motion == "tps":
        return
    if not video_driver:
        raise ConfigError("mesh motion follows a driving video (a file, camera or stream): a landmark track has "
                          "no mesh", path="--motion")
    if model is not None and type(model.G).__name__ != "LandmarkWarp":
        raise ConfigError(f"mesh motion moves the photo's own pixels: it works with the landmark warp "
                          f"(--checkpoint warp), not {model.name}", path="--motion")


def to_crop(mesh: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """A mesh (N, 3) in image pixels -> a crop's (image -> crop ``matrix``), its depth scaled alike."""
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    return np.concatenate([apply_affine(mesh[:, :2], matrix), mesh[:, 2:] * scale], 1).astype(np.float32)


class MeshFollower:
    """Frames of ``source`` (:class:`~motiongan.inference.animate.Source`) moved by a driver's mesh: call it with
    each followed driving frame (:class:`~motiongan.inference.driver.Driven`) and its 68-point target in the
    output crop."""

    def __init__(self, source, mesher: MeshLandmarker | None = None):
        self.mesher = mesher or MeshLandmarker()
        self.triangles, _ = topology()
        self.face = source.crop if source.detail is None else source.detail
        image_points = apply_affine(source.landmarks, invert_affine(source.matrix))
        self.source_mesh = to_crop(self.mesher(source.image, image_points, "source"), source.out_matrix)
        self.source68 = source.to_output(source.landmarks)
        self.neutral = self.smooth = None
        self.target = self.source_mesh

    def __call__(self, driven, target68: np.ndarray) -> np.ndarray:
        if driven is not None and driven.landmarks is not None:
            try:
                mesh = self.mesher(driven.frame, driven.landmarks, "driver")
            except MeshError:
                mesh = None
            if mesh is not None:
                if self.smooth is None:
                    self.smooth, self.neutral = OneEuroFilter(scale=float(interocular(driven.landmarks))), mesh
                self.target = retarget_mesh(self.source_mesh, self.smooth(mesh), self.neutral)
        return mesh_warp(self.face, self.source_mesh, self.target, self.source68, target68, self.triangles,
                         mirror=MIRROR)
