"""The baseline "StarGAN with landmarks" (paper Table 1): StarGAN's discriminator (Choi et al. 2018) with
its domain-classification head replaced by a landmark regressor.

PatchGAN trunk: ``n_layers`` x [conv 4x4 stride 2, LeakyReLU 0.01], channels doubling from ``width``;
heads: a 3x3 conv to one channel (real/fake map) and a conv over the whole remaining map that regresses
the 68 landmarks as coordinates divided by the image size (the "landmark image" of the paper's baseline,
in its simplest form).
"""
from __future__ import annotations

from torch import nn


class StarGANDiscriminator(nn.Module):
    def __init__(self, image_size: int = 128, width: int = 64, n_layers: int = 6, n_landmarks: int = 68):
        super().__init__()
        layers, cin, ch = [], 3, width
        for _ in range(n_layers):
            layers += [nn.Conv2d(cin, ch, 4, 2, 1), nn.LeakyReLU(0.01)]
            cin, ch = ch, ch * 2
        self.trunk = nn.Sequential(*layers)
        k = max(1, image_size // 2**n_layers)
        self.adversarial = nn.Conv2d(cin, 1, 3, 1, 1, bias=False)
        self.landmarks = nn.Conv2d(cin, 2 * n_landmarks, k, bias=False)
        self.n_landmarks = n_landmarks

    def forward(self, image):
        """(B, 3, H, W) -> critic score (B,), landmarks / image size (B, 68, 2)."""
        h = self.trunk(image)
        return self.adversarial(h).mean((1, 2, 3)), self.landmarks(h).reshape(-1, self.n_landmarks, 2)
