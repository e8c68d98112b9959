"""An independent face-match judge for evaluation: dlib's ResNet 128-d face descriptor.

Two faces are the same person when their descriptors are closer than 0.6 (dlib's usual threshold).
It is a different network from V, so identity scores are not judged only by what the model trained against.
"""
from __future__ import annotations

import numpy as np

from .landmarker import _model_path

SAME_PERSON_DISTANCE = 0.6


class FaceJudge:
    def __init__(self):
        import dlib

        self._dlib = dlib
        self.model = dlib.face_recognition_model_v1(_model_path("dlib_face_recognition_resnet_model_v1.dat"))
        self.predictor = dlib.shape_predictor(_model_path("shape_predictor_68_face_landmarks.dat"))

    def descriptor(self, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        """128-d descriptor of the face with (68, 2) landmarks in an RGB uint8 image."""
        parts = [self._dlib.point(int(round(x)), int(round(y))) for x, y in points]
        lo, hi = points.min(0), points.max(0)
        rect = self._dlib.rectangle(int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))
        shape = self._dlib.full_object_detection(rect, parts)
        return np.asarray(self.model.compute_face_descriptor(np.ascontiguousarray(rgb), shape), np.float32)

    @staticmethod
    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b))

    def same_person(self, a: np.ndarray, b: np.ndarray) -> bool:
        return self.distance(a, b) < SAME_PERSON_DISTANCE
