"""A dense face mesh beside the 68 points: MediaPipe's FaceMesh model (468 points with depth), run through
LiteRT on a crop set by the 68 points, without MediaPipe itself.

The model file ``motiongan/assets/mesh/face_landmark.tflite`` (1.2 MB, Apache-2.0) is MediaPipe's, copied
from the ``mediapipe==0.10.21`` wheel (``mediapipe/modules/face_landmark/face_landmark.tflite``, SHA-256
1055cb9d...814c); ``topology.npz`` holds its triangles (the 3-cliques of ``FACEMESH_TESSELATION`` in that
wheel's ``mediapipe/python/solutions/face_mesh_connections.py``: 854 triangles, with holes at the mouth)
and the face oval as a closed loop. ``mediapipe`` itself pulls jax, a second OpenCV, numpy < 2 and
protobuf < 5, so it never enters the environment; LiteRT (``ai-edge-litert``, the ``mesh`` extra) runs the
model beside this project's numpy 2 and protobuf 7.

Input: a 192 x 192 RGB crop in [0, 1], rotated so the eyes are level, its side :data:`CROP_SCALE` times
the 68 points' larger extent. Output: 468 x (x, y, z) in crop pixels, mapped back to the image; z is a
relative depth (smaller is nearer the camera) in the same units as x and y. The mesh is the mean of the
model's outputs on :data:`JITTER` crops (the centre one and the box shifted by 3 % of its extent each way):
the model's error depends on where its crop falls, and the mean of five crops moves a source's pixels
onto a target's more exactly (``python benchmarks/mesh_motion.py --data cache/all``: +0.2 dB inside the
face on the test and on held-out people) for 4 more model runs (~1.3 ms each).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import MotionGANError
from ..landmarks import apply_affine, check_points, invert_affine

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "mesh"
MODEL, TOPOLOGY = ASSETS / "face_landmark.tflite", ASSETS / "topology.npz"
N_MESH = 468
INPUT = 192
# the crop's side over the 68 points' larger extent: 1.5 agrees best with hand-made 68 points, 1.7 (the mesh
# covers the forehead, above the brows) moves pixels best: inside the face +0.2 dB over 1.5 on test and
# held-out people, 1.6 and 1.8 alike, 1.3 and 1.9 worse (benchmarks/mesh_motion.py)
CROP_SCALE = 1.7
JITTER = ((0, 0), (0.03, 0), (-0.03, 0), (0, 0.03), (0, -0.03))  # the crops' shifts, shares of the 68 points' extent
# The mesh vertex nearest each iBUG point on average (``python scripts/mesh_ibug_map.py --data cache/all``:
# 10 hand-annotated photos and 399 frames of the training people with dlib's points; the mapped vertices lie
# 0.040 inter-ocular distances from the 68 points on average: jaw 0.055, brows 0.058, nose 0.034, eyes 0.030,
# mouth 0.028): the 68-point subset of the mesh.
IBUG_FROM_MESH = (127, 227, 177, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 435, 401, 454, 356, 70, 63, 105,
                  66, 107, 336, 296, 334, 293, 300, 168, 6, 195, 4, 59, 99, 94, 250, 305, 246, 159, 158, 133, 153,
                  144, 362, 385, 386, 388, 373, 380, 61, 39, 37, 0, 267, 304, 291, 405, 314, 17, 84, 181, 62, 38, 12,
                  268, 307, 317, 14, 87)


class MeshError(MotionGANError):
    """The mesh landmarker cannot run (LiteRT missing) or found no face in its crop."""


def topology() -> tuple[np.ndarray, np.ndarray]:
    """The mesh's triangles (854, 3) and its face oval (36,), vertex indices."""
    with np.load(TOPOLOGY, allow_pickle=False) as z:
        return z["triangles"].astype(np.int64), z["oval"].astype(np.int64)


class MeshLandmarker:
    """``mesh(rgb, points68)`` -> (468, 3): the dense mesh of the face whose 68 landmarks are ``points68``,
    in the image's pixels (x, y) with a relative depth z. ``threads``: LiteRT's CPU threads."""

    def __init__(self, threads: int = 1, jitter: tuple = JITTER):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise MeshError("the face mesh needs LiteRT: pip install 'motiongan[mesh]' (ai-edge-litert)") from None
        self.jitter = tuple(jitter) or ((0, 0),)
        self.interpreter = Interpreter(model_path=str(MODEL), num_threads=threads)
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]["index"]
        self._out, self._score = (o["index"] for o in self.interpreter.get_output_details())

    @staticmethod
    def crop_matrix(points68: np.ndarray, shift=(0, 0), scale: float | None = None) -> np.ndarray:
        """2x3 image -> model crop: the 68 points' box centre at the crop's centre (moved by ``shift`` times
        the box's larger extent, in the crop's axes), the eyes level; the side ``scale`` (default
        :data:`CROP_SCALE`) times that extent."""
        pts = np.asarray(points68, np.float64)
        lo, hi = pts.min(0), pts.max(0)
        scale = CROP_SCALE if scale is None else scale
        side = float((hi - lo).max()) * scale
        d = pts[45] - pts[36]
        angle = np.arctan2(d[1], d[0])
        s = INPUT / max(side, 1e-6)
        c, sn = np.cos(angle) * s, np.sin(angle) * s
        lin = np.array([[c, sn], [-sn, c]])  # rotates by -angle: the eyes level
        offset = np.array([INPUT / 2 - 0.5] * 2) - lin @ ((lo + hi) / 2) - np.asarray(shift) * INPUT / scale
        return np.hstack([lin, offset[:, None]]).astype(np.float32)

    def __call__(self, rgb: np.ndarray, points68: np.ndarray, name: str = "image") -> np.ndarray:
        points68 = check_points(points68, f"{name}: landmarks")
        meshes = [m for m in (self.run(rgb, points68, shift) for shift in self.jitter) if m is not None]
        if not meshes:
            m = self.run(rgb, points68, scale=1.5)  # the former crop, for a face that fills the image
            if m is None:
                raise MeshError("the face mesh found no face in the crop of its 68 landmarks", path=name)
            meshes = [m]
        return np.mean(meshes, 0).astype(np.float32)

    def run(self, rgb: np.ndarray, points68: np.ndarray, shift=(0, 0), scale: float | None = None) -> np.ndarray | None:
        """The model's mesh (468, 3) in the image on one crop (:meth:`crop_matrix`); None where its
        face-presence logit says no face."""
        m = self.crop_matrix(points68, shift, scale)
        crop = cv2.warpAffine(rgb, m, (INPUT, INPUT), flags=cv2.INTER_AREA if m[0, 0] ** 2 + m[0, 1] ** 2 < 0.5
                              else cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        self.interpreter.set_tensor(self._in, (crop.astype(np.float32) / 255)[None])
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._out).reshape(N_MESH, 3)
        if float(self.interpreter.get_tensor(self._score).ravel()[0]) < 0:  # the model's face-presence logit
            return None
        scale = float(np.hypot(*m[0, :2]))
        xy = apply_affine(raw[:, :2], invert_affine(m))
        return np.concatenate([xy, raw[:, 2:] / scale], 1).astype(np.float32)
