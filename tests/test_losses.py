"""The losses of paper section 3.2 (eqs. 2-7) and the StarGAN baseline's penalty, checked against values
worked out by hand, and for where their gradients go."""
import math

import pytest
import torch

from motiongan.training.losses import (
    discriminator_loss,
    feature_matching_loss,
    gradient_penalty,
    identity_loss,
    image_loss,
    landmark_loss,
)


def test_image_loss_is_the_mean_absolute_pixel_difference():  # eq. 2
    real = torch.zeros(2, 3, 4, 4)
    fake = torch.full((2, 3, 4, 4), 0.5)
    fake[0] = -1.0
    assert image_loss(fake, real).item() == pytest.approx((1.0 + 0.5) / 2)
    assert image_loss(real, real).item() == 0


def test_discriminator_loss_is_the_log_loss_of_real_as_real_and_fake_as_fake():  # eqs. 3, 4
    assert discriminator_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(2 * math.log(2))
    r, f = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    by_hand = (-torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean()).item()
    assert discriminator_loss(r, f).item() == pytest.approx(by_hand, rel=1e-6)
    assert discriminator_loss(torch.full((4,), 20.0), torch.full((4,), -20.0)).item() < 1e-6


def test_discriminator_loss_gradient_raises_real_scores_and_lowers_fake_ones():
    r, f = torch.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    discriminator_loss(r, f).backward()
    assert (r.grad < 0).all() and (f.grad > 0).all()  # descent moves r up and f down


def test_feature_matching_sums_layers_and_sends_no_gradient_into_the_real_features():  # eq. 5
    fake = [torch.ones(2, 3, requires_grad=True), torch.zeros(4, requires_grad=True)]
    real = [torch.zeros(2, 3, requires_grad=True), torch.full((4,), 2.0, requires_grad=True)]
    loss = feature_matching_loss(fake, real)
    assert loss.item() == pytest.approx(1.0 + 4.0)
    loss.backward()
    assert all(r.grad is None for r in real) and all(f.grad is not None for f in fake)
    assert feature_matching_loss(real, real).item() == 0


def test_landmark_loss_is_the_mean_squared_heatmap_error_in_float32_for_bf16_inputs():  # eqs. 6, 7
    pred = torch.full((1, 68, 8, 8), 0.1).bfloat16()
    target = torch.zeros(1, 68, 8, 8)
    loss = landmark_loss(pred, target)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(pred.float()[0, 0, 0, 0].item() ** 2, rel=1e-6)


def test_identity_loss_is_zero_for_the_same_person_and_four_for_opposite_embeddings():  # section 3.1
    e = torch.nn.functional.normalize(torch.randn(5, 128), dim=-1)
    orth = torch.nn.functional.normalize(torch.randn(5, 128), dim=-1)
    orth = torch.nn.functional.normalize(orth - (orth * e).sum(-1, keepdim=True) * e, dim=-1)
    assert identity_loss(e, e, e).item() == pytest.approx(0, abs=1e-6)
    assert identity_loss(e, orth, orth).item() == pytest.approx(2, abs=1e-5)
    assert identity_loss(-e, e, e).item() == pytest.approx(4, abs=1e-5)


def test_identity_loss_moves_only_the_generated_embedding():
    fake = torch.nn.functional.normalize(torch.randn(3, 16), dim=-1).requires_grad_(True)
    source = torch.nn.functional.normalize(torch.randn(3, 16), dim=-1).requires_grad_(True)
    real = torch.nn.functional.normalize(torch.randn(3, 16), dim=-1).requires_grad_(True)
    identity_loss(fake, source, real).backward()
    assert fake.grad is not None and source.grad is None and real.grad is None


class _Linear(torch.nn.Module):
    """A critic whose input gradient is ``w`` everywhere: its penalty is (||w|| - 1)^2 exactly."""

    def __init__(self, norm: float):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3, 4, 4))
        self.w.data[0, 0, 0] = norm

    def forward(self, x):
        return ((x * self.w).flatten(1).sum(1),)


@pytest.mark.parametrize("norm,penalty", [(1.0, 0.0), (2.0, 1.0), (0.5, 0.25)])
def test_gradient_penalty_is_the_squared_distance_of_the_critic_gradient_norm_from_one(norm, penalty):
    real, fake = torch.randn(4, 3, 4, 4), torch.randn(4, 3, 4, 4)
    assert gradient_penalty(_Linear(norm), real, fake).item() == pytest.approx(penalty, abs=1e-6)


def test_gradient_penalty_reaches_the_critic_weights():
    critic = _Linear(2.0)
    gradient_penalty(critic, torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)).backward()
    assert critic.w.grad[0, 0, 0].item() == pytest.approx(2 * (2.0 - 1.0))  # d/dn (n - 1)^2 at n = 2
