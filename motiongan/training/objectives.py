"""One object per objective (as StyleGAN3's ``training/loss.py``): which networks it trains and one
training iteration of them. The :class:`~motiongan.training.trainer.Trainer` engine runs either.

MotionGAN (paper section 3.2, weights of section 4.1): each iteration updates G on lambda_img L_img +
lambda_adv L_adv^G + lambda_lms L_lms^G + lambda_id L_id^G, then Df on L_adv^Df, then Dv on L_adv^Dv +
lambda_dv_lms L_lms^Dv, each with its own Adam. Parts switched off by the configuration (the ablations of
Table 1) are neither built nor used. A G started from an export first faces ``d_warmup`` steps in which
only Df and Dv train, against the frozen G.

StarGAN with landmarks (the paper's baseline): per frame, G(s, l_t) against a WGAN-GP critic that also
regresses landmarks, with StarGAN's cycle reconstruction G(G(s, l_t), l) ~ s; G is updated every
``n_critic`` iterations.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.profiler import record_function

from ..config import Config
from ..face.verification import Verification
from ..networks import FrameDiscriminator, Generator, StarGANDiscriminator, VideoDiscriminator, build_generator
from . import losses


@dataclass
class Batch:
    """A batch on the training device: B clips of T frames with their heatmaps."""

    source: torch.Tensor  # (B, 3, H, W)
    source_lms: torch.Tensor  # (B, 68, 2)
    real: torch.Tensor  # (B, T, 3, H, W)
    lms: torch.Tensor  # (B, T, 68, 2)
    source_maps: torch.Tensor  # (B, 68, H, W)
    target_maps: torch.Tensor  # (B, T, 68, H, W)

    def points(self, G: nn.Module) -> dict[str, torch.Tensor]:
        """The landmark points a warp G also takes (none for the paper's G)."""
        return {"source_lms": self.source_lms, "target_lms": self.lms} if getattr(G, "warps", False) else {}

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, ...) -> (B*T, ...)."""
        return x.reshape(-1, *x.shape[2:])

    def repeat(self, x: torch.Tensor) -> torch.Tensor:
        """A per-clip tensor (B, ...) -> one per frame (B*T, ...)."""
        T = self.real.shape[1]
        return x.unsqueeze(1).expand(-1, T, *x.shape[1:]).reshape(-1, *x.shape[1:])


def _update(engine, name: str, loss: torch.Tensor) -> None:
    opt = engine.opts[name]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


class MotionGANObjective:
    """The paper's objective: G, and Df, Dv and the frozen V as the configuration switches them on."""

    compiled = ("G", "Df", "Dv")  # what ``cfg.optimiser.compile`` compiles (V is frozen and cheap)

    @staticmethod
    def networks(cfg: Config) -> dict[str, nn.Module]:
        m, nets = cfg.model, {"G": build_generator(cfg.generator_kwargs())}
        if cfg.loss.use_df:
            nets["Df"] = FrameDiscriminator(m.d_width, m.n_down, m.d_res)
        if cfg.loss.use_dv:
            nets["Dv"] = VideoDiscriminator(m.dv_width, m.n_down, m.dv_res, landmark_kernel=m.dv_landmark_kernel)
        return nets

    def __init__(self, engine, verification: Verification | None = None):
        self.e, self.cfg = engine, engine.cfg
        self.V = (verification or Verification()).to(engine.device) if self.cfg.loss.use_v else None

    def step(self, b: Batch, iteration: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One iteration: G (after the warm-up), Df, Dv. Returns the statistics and the generated clip."""
        warmup = iteration < self.cfg.optimiser.d_warmup  # discriminators alone against the frozen G
        with record_function("G/forward"), torch.set_grad_enabled(not warmup), self.e.autocast():
            fake, _ = self.e.wrapped["G"](b.source, b.source_maps, b.target_maps, **b.points(self.e.nets["G"]))
        st = {} if warmup else self.generator_step(b, fake)
        fake = fake.detach()
        if "Df" in self.e.nets:
            st.update(self.df_step(b, fake))
        if "Dv" in self.e.nets:
            st.update(self.dv_step(b, fake))
        return {k: v.detach() for k, v in st.items()}, fake

    def generator_step(self, b: Batch, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """G on lambda_img L_img (eq. 2) + lambda_adv L_adv^G (eq. 5) + lambda_lms L_lms^G (eq. 7) +
        lambda_id L_id^G."""
        cfg, nets, st = self.cfg, self.e.nets, {}
        real_f, fake_f = b.frames(b.real), b.frames(fake)
        s_f, sm_f, tm_f = b.repeat(b.source), b.repeat(b.source_maps), b.frames(b.target_maps)
        with self.e.autocast():
            st["G/img"] = losses.image_loss(fake, b.real)
            total = cfg.loss.lambda_img * st["G/img"]
            if "Df" in nets:
                with record_function("G/loss_Df_features"), torch.no_grad():
                    _, real_feats = nets["Df"](s_f, sm_f, real_f, tm_f, score=False)
                with record_function("G/loss_Df_features"):
                    _, fake_feats = nets["Df"](s_f, sm_f, fake_f, tm_f, score=False)
                st["G/adv_df"] = losses.feature_matching_loss(fake_feats, real_feats)
                total = total + cfg.loss.lambda_adv * st["G/adv_df"]
            if "Dv" in nets:
                with record_function("G/loss_Dv_features"), torch.no_grad():
                    _, _, real_feats = nets["Dv"](b.real, score=False, maps=False)
                with record_function("G/loss_Dv_features"):
                    _, fake_maps, fake_feats = nets["Dv"](fake, score=False)
                st["G/adv_dv"] = losses.feature_matching_loss(fake_feats, real_feats)
                st["G/lms"] = losses.landmark_loss(fake_maps, b.target_maps)
                total = total + cfg.loss.lambda_adv * st["G/adv_dv"] + cfg.loss.lambda_lms * st["G/lms"]
        if self.V is not None:
            st["G/id"] = self.identity(b, fake_f)
            total = total + cfg.loss.lambda_id * st["G/id"]
        st["G/total"] = total
        with record_function("G/backward_and_step"):
            _update(self.e, "G", total)
        return st

    def identity(self, b: Batch, fake_f: torch.Tensor) -> torch.Tensor:
        """L_id^G: V's embeddings of the generated frames against the source's and the real frames'."""
        lm_f = b.frames(b.lms)
        with record_function("G/loss_V"):
            e_fake = self.V.embed(fake_f.float(), lm_f)
        with record_function("G/loss_V"), torch.no_grad():
            e_src = b.repeat(self.V.embed(b.source, b.source_lms))
            e_real = self.V.embed(b.frames(b.real), lm_f)
        return losses.identity_loss(e_fake, e_src, e_real)

    def df_step(self, b: Batch, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """Df on L_adv^Df (eq. 3), real and generated frames in one pass."""
        two = lambda x: torch.cat([x, x], 0)  # noqa: E731
        real_f = b.frames(b.real)
        s_f, sm_f, tm_f = b.repeat(b.source), b.repeat(b.source_maps), b.frames(b.target_maps)
        with record_function("Df/step"), self.e.autocast():
            logits, _ = self.e.wrapped["Df"](two(s_f), two(sm_f), torch.cat([real_f, b.frames(fake)], 0), two(tm_f))
            n = real_f.shape[0]
            loss = losses.discriminator_loss(logits[:n].float(), logits[n:].float())
            _update(self.e, "Df", loss)
        return {"Df/adv": loss}

    def dv_step(self, b: Batch, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """Dv on L_adv^Dv (eq. 4) + lambda_dv_lms L_lms^Dv (eq. 6; real clips' heatmaps only)."""
        with record_function("Dv/step"), self.e.autocast():
            n = b.real.shape[0]
            scores, maps, _ = self.e.wrapped["Dv"](torch.cat([b.real, fake], 0), maps=n)
            adv = losses.discriminator_loss(scores[:n].float(), scores[n:].float())
            lms = losses.landmark_loss(maps[:n], b.target_maps)
            _update(self.e, "Dv", adv + self.cfg.loss.lambda_dv_lms * lms)
        return {"Dv/adv": adv, "Dv/lms": lms}


class StarGANObjective:
    """The baseline "StarGAN with landmarks": WGAN-GP critic D with a landmark regression head, G every
    ``n_critic`` iterations with StarGAN's adversarial, landmark and cycle reconstruction losses."""

    compiled = ("G",)  # D's gradient penalty differentiates twice, which compiled graphs cannot

    @staticmethod
    def networks(cfg: Config) -> dict[str, nn.Module]:
        return {"G": Generator(**cfg.generator_kwargs()),
                "D": StarGANDiscriminator(cfg.model.image_size, cfg.model.d_width, cfg.model.stargan_d_layers)}

    def __init__(self, engine, verification: Verification | None = None):
        self.e, self.cfg = engine, engine.cfg

    def step(self, b: Batch, iteration: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        real, src = b.frames(b.real), b.repeat(b.source)
        lm = b.frames(b.lms) / self.cfg.model.image_size
        with self.e.autocast():
            fake, _ = self.e.wrapped["G"](src, None, b.frames(b.target_maps).unsqueeze(1))
            fake = fake[:, 0]
        st = self.critic_step(real, fake.detach(), lm)
        if iteration % self.cfg.optimiser.n_critic == 0:
            st.update(self.generator_step(b, fake, src, lm))
        return st, fake.detach().reshape(b.real.shape)

    def critic_step(self, real, fake, lm) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        with self.e.autocast():
            r_score, r_lms = self.e.wrapped["D"](real)
            f_score, _ = self.e.wrapped["D"](fake)
            d_cls = F.mse_loss(r_lms.float(), lm)
        gp = losses.gradient_penalty(self.e.nets["D"], real.float(), fake.float())
        wgan = f_score.float().mean() - r_score.float().mean()
        _update(self.e, "D", wgan + cfg.loss.lambda_gp * gp + cfg.loss.lambda_cls * d_cls)
        return {"D/wgan": wgan.detach(), "D/gp": gp.detach(), "D/lms": d_cls.detach()}

    def generator_step(self, b: Batch, fake, src, lm) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        with self.e.autocast():
            f_score, f_lms = self.e.nets["D"](fake)
            back, _ = self.e.wrapped["G"](fake, None, b.repeat(b.source_maps).unsqueeze(1))
            rec = losses.image_loss(back[:, 0], src)
            g_cls = F.mse_loss(f_lms.float(), lm)
            adv = -f_score.float().mean()
        _update(self.e, "G", adv + cfg.loss.lambda_cls * g_cls + cfg.loss.lambda_rec * rec)
        return {"G/adv": adv.detach(), "G/lms": g_cls.detach(), "G/rec": rec.detach()}
