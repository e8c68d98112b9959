"""Pretrained face parts that ship inside packages: detector + 68-point landmarker (dlib), the
verification network V (SFace, as a differentiable PyTorch module) and an independent face-match judge
(dlib's ResNet descriptor); the dense face mesh (MediaPipe's FaceMesh through LiteRT) is
:mod:`motiongan.face.mesh`, imported where used (LiteRT is the optional ``mesh`` extra)."""
from .judge import FaceJudge
from .landmarker import FaceLandmarker, NoFaceError, jitter
from .verification import Verification, align_faces

__all__ = ["FaceLandmarker", "NoFaceError", "jitter", "Verification", "align_faces", "FaceJudge"]
