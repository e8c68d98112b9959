"""A dense face mesh beside the 68 points: MediaPipe's FaceMesh model (468 points with depth), run through
LiteRT on a crop set by the 68 points, without MediaPipe itself.

The model file ``motiongan/assets/mesh/face_landmark.tflite`` (1.2 MB, Apache-2.0) is MediaPipe's, copied
from the ``mediapipe==0.10.21`` wheel (``mediapipe/modules/face_landmark/face_landmark.tflite``, SHA-256
1055cb9d...814c); ``topology.npz`` holds its triangles (the 3-cliques of ``FACEMESH_TESSELATION`` in that
wheel's ``mediapipe/python/solutions/face_mesh_connections.py``: 854 triangles, with holes at the mouth)
and the face oval as a closed loop. ``mediapipe`` itself pulls jax, a second OpenCV, numpy < 2 and
protobuf < 5, so it never enters the environment; LiteRT (``ai-edge-litert``, the ``mesh`` extra) runs the
model beside this project's numpy 2 and protobuf 7.

Input: a 192 x 192 RGB crop in [0, 1], upright up to a roll of :data:`UPRIGHT` (beyond, turned by the excess), its
side :data:`CROP_SCALE` times the 68 points' larger extent. Output: 468 x (x, y, z) in crop pixels, mapped back to
the image; z is a relative depth (smaller is nearer the camera) in the same units as x and y. The mesh is the mean
of the model's outputs on the :data:`JITTER` crops (the box and the box shifted diagonally by 3 % of the crop's
side each way), each also run mirrored (:data:`MIRROR`): the model's error depends on where its crop falls, and
the mean moves a source's pixels onto a target's more exactly. Levelling the eyes turned each frame's crop by its
own, noisy, eye-corner angle: a different error per frame. Inside the face over the 68-point warp (``python
benchmarks/mesh_motion.py --data cache/all [--split train]``), five levelled crops with the mouth a hole (the
former mesh) -> now: test people +0.50 -> +0.78 dB, held-out people +1.01 -> +0.99; ``evaluate --split test
--max-frames 40 --mesh``, face PSNR 26.04 (landmark warp): 26.70 -> 27.09. Six model runs (~1.3 ms each; five
crops in a plus, each mirrored: the same 27.09, test +0.80, held out +1.05, for ten).
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
# held-out people, 1.6 and 1.8 alike, 1.3 and 1.9 worse (benchmarks/mesh_motion.py, levelled crops)
CROP_SCALE = 1.7
# rolls (the eye corners' angle) up to this are left upright, beyond it the crop turns by the excess: turning
# each crop by its own noisy angle cost 0.25 dB on test people, and upright crops miss rolled faces (the
# mesh's iBUG error, over the inter-ocular distance, on test frames rolled by 0/15/30/45 degrees: upright
# 0.048/0.053/0.096/0.261, levelled 0.048/0.048/0.049/0.049)
UPRIGHT = np.radians(15)
JITTER = ((0, 0), (0.03, 0.03), (-0.03, -0.03))  # the crops' shifts, shares of their side
# The vertex each vertex becomes in the mirror image (left and right swapped, the 28 on the midline kept): each
# crop also runs mirrored, its mesh mirrored back. Found by the model itself: the assignment between a crop's
# mesh and its mirrored crop's mesh mirrored back (121 frames of held-out people, 1.1 px apart on average in the
# 192 px crop); an involution.
MIRROR = (0, 1, 2, 248, 4, 5, 6, 249, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 250, 251, 252, 253, 254, 255, 256,
          257, 258, 259, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 270, 271, 272, 273, 274, 275, 276, 277,
          278, 279, 280, 281, 282, 283, 284, 285, 286, 287, 288, 289, 290, 291, 292, 293, 294, 295, 296, 297, 298,
          299, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319,
          320, 321, 322, 323, 94, 324, 325, 326, 327, 328, 329, 330, 331, 332, 333, 334, 335, 336, 337, 338, 339, 340,
          341, 342, 343, 344, 345, 346, 347, 348, 349, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 360, 361,
          362, 363, 364, 365, 366, 367, 368, 369, 370, 371, 372, 373, 374, 375, 376, 377, 378, 379, 151, 152, 380,
          381, 382, 383, 384, 385, 386, 387, 388, 389, 390, 164, 391, 392, 393, 168, 394, 395, 396, 397, 398, 399,
          175, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 195,
          419, 197, 420, 199, 200, 421, 422, 423, 424, 425, 426, 427, 428, 429, 430, 431, 432, 433, 434, 435, 436,
          437, 438, 439, 440, 441, 442, 443, 444, 445, 446, 447, 448, 449, 450, 451, 452, 453, 454, 455, 456, 457,
          458, 459, 460, 461, 462, 463, 464, 465, 466, 467, 3, 7, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
          33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
          60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86,
          87, 88, 89, 90, 91, 92, 93, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
          112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132,
          133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 153, 154, 155,
          156, 157, 158, 159, 160, 161, 162, 163, 165, 166, 167, 169, 170, 171, 172, 173, 174, 176, 177, 178, 179,
          180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194, 196, 198, 201, 202, 203, 204,
          205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225,
          226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247)
# The mesh vertex nearest each iBUG point on average (``python scripts/mesh_ibug_map.py --data cache/all``:
# 10 hand-annotated photos and 399 frames of the training people with dlib's points; the mapped vertices lie
# 0.040 inter-ocular distances from the 68 points on average: jaw 0.055, brows 0.058, nose 0.034, eyes 0.030,
# mouth 0.028): the 68-point subset of the mesh.
IBUG_FROM_MESH = (127, 227, 177, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 435, 401, 454, 356, 70, 63, 105,
                  66, 107, 336, 296, 334, 293, 300, 168, 6, 195, 4, 59, 99, 94, 250, 305, 246, 159, 158, 133, 153,
                  144, 362, 385, 386, 388, 373, 380, 61, 39, 37, 0, 267, 304, 291, 405, 314, 17, 84, 181, 62, 38, 12,
                  268, 307, 317, 14, 87)


# The mouth's hole (the inner lips' loop, corner 78 to corner 308) filled by a strip of 18 triangles, so the
# mesh, not the 68-point spline, moves the lips' inside and the mouth's interior: +0.14 dB inside the face on
# the test people, -0.02 on held-out people (the eyes' holes stay holes: filling them lost 0.03-0.06 dB on 8 test clips)
_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
MOUTH_FILL = ((_UPPER[0], _UPPER[1], _LOWER[1]), *(t for i in range(1, 9) for t in (
    (_UPPER[i], _UPPER[i + 1], _LOWER[i + 1]), (_UPPER[i], _LOWER[i + 1], _LOWER[i]))),
    (_UPPER[9], _UPPER[10], _LOWER[9]))


class MeshError(MotionGANError):
    """The mesh landmarker cannot run (LiteRT missing) or found no face in its crop."""


def topology(mouth: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The mesh's triangles (872, 3 with :data:`MOUTH_FILL`; 854 with the mouth a hole) and its face oval
    (36,), vertex indices."""
    with np.load(TOPOLOGY, allow_pickle=False) as z:
        tris, oval = z["triangles"].astype(np.int64), z["oval"].astype(np.int64)
    return (np.concatenate([tris, np.array(MOUTH_FILL, np.int64)]) if mouth else tris), oval


class MeshLandmarker:
    """``mesh(rgb, points68)`` -> (468, 3): the dense mesh of the face whose 68 landmarks are ``points68``,
    in the image's pixels (x, y) with a relative depth z. ``threads``: LiteRT's CPU threads; ``upright``: the
    roll left upright (0: the former crop, the eyes levelled); ``mirror``: also run each crop mirrored."""

    def __init__(self, threads: int = 1, jitter: tuple = JITTER, upright: float = UPRIGHT, mirror: bool = True):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise MeshError("the face mesh needs LiteRT: pip install 'motiongan[mesh]' (ai-edge-litert)") from None
        self.jitter, self.upright, self.mirror = tuple(jitter) or ((0, 0),), upright, mirror
        self.interpreter = Interpreter(model_path=str(MODEL), num_threads=threads)
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]["index"]
        self._out, self._score = (o["index"] for o in self.interpreter.get_output_details())

    @staticmethod
    def crop_matrix(points68: np.ndarray, shift=(0, 0), scale: float | None = None, upright: float = UPRIGHT
                    ) -> np.ndarray:
        """2x3 image -> model crop: the 68 points' box centre at the crop's centre (moved by ``shift`` times
        the crop's side, in the crop's axes), turned by the eyes' roll beyond ``upright`` radians; the side
        ``scale`` (default :data:`CROP_SCALE`) times the box's larger extent."""
        pts = np.asarray(points68, np.float64)
        lo, hi = pts.min(0), pts.max(0)
        scale = CROP_SCALE if scale is None else scale
        side = float((hi - lo).max()) * scale
        d = pts[45] - pts[36]
        roll = np.arctan2(d[1], d[0])
        angle = np.sign(roll) * max(abs(roll) - upright, 0.0)
        s = INPUT / max(side, 1e-6)
        c, sn = np.cos(angle) * s, np.sin(angle) * s
        lin = np.array([[c, sn], [-sn, c]])  # rotates by -angle
        offset = np.array([INPUT / 2 - 0.5] * 2) - lin @ ((lo + hi) / 2) - np.asarray(shift) * INPUT
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
        m = self.crop_matrix(points68, shift, scale, self.upright)
        crop = cv2.warpAffine(rgb, m, (INPUT, INPUT), flags=cv2.INTER_AREA if m[0, 0] ** 2 + m[0, 1] ** 2 < 0.5
                              else cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        crop = crop.astype(np.float32) / 255
        raw = self._model(crop)
        if raw is None:
            return None
        if self.mirror:
            back = self._model(np.ascontiguousarray(crop[:, ::-1]))
            if back is not None:
                back = back[list(MIRROR)]
                back[:, 0] = INPUT - 1 - back[:, 0]
                raw = (raw + back) / 2
        scale = float(np.hypot(*m[0, :2]))
        xy = apply_affine(raw[:, :2], invert_affine(m))
        return np.concatenate([xy, raw[:, 2:] / scale], 1).astype(np.float32)

    def _model(self, crop: np.ndarray) -> np.ndarray | None:
        """The model's (468, 3) in the crop's pixels; None where its face-presence logit says no face."""
        self.interpreter.set_tensor(self._in, crop[None])
        self.interpreter.invoke()
        if float(self.interpreter.get_tensor(self._score).ravel()[0]) < 0:
            return None
        return self.interpreter.get_tensor(self._out).reshape(N_MESH, 3).copy()
