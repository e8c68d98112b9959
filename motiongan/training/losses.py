"""The losses of paper section 3.2, one function each, plus the StarGAN baseline's."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def image_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """L_img^G (eq. 2): mean over frames of the pixel-wise L1 distance."""
    return (fake - real).abs().mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_adv^Df (eq. 3) and L_adv^Dv (eq. 4): the standard log GAN loss on scores (logits)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def feature_matching_loss(fake_feats: list[torch.Tensor], real_feats: list[torch.Tensor]) -> torch.Tensor:
    """L_adv^G (eq. 5), one discriminator's term: squared L2 between its intermediate features on the
    generated and on the real input (mean over elements, summed over layers)."""
    return sum(F.mse_loss(f, r.detach()) for f, r in zip(fake_feats, real_feats))


def landmark_loss(pred_maps: torch.Tensor, target_maps: torch.Tensor) -> torch.Tensor:
    """L_lms^Dv (eq. 6) on real clips and L_lms^G (eq. 7) on generated ones: squared L2 between Dv^l's
    heatmaps and the target landmarks' heatmaps (mean over elements)."""
    return F.mse_loss(pred_maps.float(), target_maps.float())


def identity_loss(fake_emb: torch.Tensor, source_emb: torch.Tensor, real_emb: torch.Tensor) -> torch.Tensor:
    """L_id^G (section 3.1; the paper gives the pairs, not the formula): 1 - cosine similarity of V's unit
    embeddings for (V(f~_t), V(s)) plus the same for (V(f~_t), V(f_t)), averaged over frames."""
    return (2 - (fake_emb * source_emb.detach()).sum(-1) - (fake_emb * real_emb.detach()).sum(-1)).mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP's penalty (StarGAN baseline): (||grad critic(x_hat)||_2 - 1)^2 on random interpolates."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    score = critic(x)[0]
    (grad,) = torch.autograd.grad(score.sum(), x, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
