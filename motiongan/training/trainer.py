"""The model contract (set_input, forward, optimize) and the alternating updates of paper section 4.1.

MotionGAN: each iteration updates G on lambda_img L_img + lambda_adv L_adv^G + lambda_lms L_lms^G +
lambda_id L_id^G, then Df on L_adv^Df, then Dv on L_adv^Dv + lambda_dv_lms L_lms^Dv, each with its own
Adam. Parts switched off by the configuration (the ablations) are neither built nor used.

A G started from a shipped export (``init_generator``) first faces ``d_warmup`` steps in which only Df and
Dv train, against the frozen G, so fresh discriminators do not push a good G with random gradients. With
``ema_kimg`` > 0 an exponential moving average of G's weights (StyleGAN's G_ema) is kept for the export.
Statistics stay on the device as tensors; the loop reads them only when it logs (no host sync per step).

StarGAN baseline: per frame, G(s, l_t) against a WGAN-GP critic that also regresses landmarks, with
StarGAN's cycle reconstruction G(G(s, l_t), l) ~ s; G is updated every ``n_critic`` iterations.
"""
from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn
from torch.autograd.profiler import record_function
from torch.nn.parallel import DistributedDataParallel as DDP

from ..face.verification import Verification
from ..landmarks import heatmaps
from ..networks import FrameDiscriminator, Generator, StarGANDiscriminator, VideoDiscriminator
from . import losses
from .checkpoint import load_optimizer, optimizer_tensors
from .config import Config


class Trainer:
    def __init__(self, cfg: Config, device: torch.device | str = "cpu", distributed: bool = False,
                 verification: Verification | None = None):
        self.cfg, self.device = cfg, torch.device(device)
        self.cuda = self.device.type == "cuda"
        torch.manual_seed(cfg.seed)  # identical initial weights on every rank
        self.nets: dict[str, nn.Module] = {"G": Generator(**cfg.generator_kwargs())}
        if cfg.model == "stargan":
            self.nets["D"] = StarGANDiscriminator(cfg.image_size, cfg.d_width, cfg.stargan_d_layers)
        else:
            if cfg.use_df:
                self.nets["Df"] = FrameDiscriminator(cfg.d_width, cfg.n_down, cfg.d_res)
            if cfg.use_dv:
                self.nets["Dv"] = VideoDiscriminator(cfg.dv_width, cfg.n_down, cfg.dv_res,
                                                     landmark_kernel=cfg.dv_landmark_kernel)
        fmt = torch.channels_last if (self.cuda and cfg.channels_last) else torch.contiguous_format
        for name, net in self.nets.items():
            net.to(self.device)
            if name != "Dv":
                net.to(memory_format=fmt)
        self.V = None
        if cfg.model != "stargan" and cfg.use_v:
            self.V = (verification or Verification()).to(self.device)
        self.opts = {n: torch.optim.Adam(m.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                         fused=self.cuda or None)
                     for n, m in self.nets.items()}
        self.G_ema = None
        if cfg.ema_kimg > 0:
            self.G_ema = copy.deepcopy(self.nets["G"]).requires_grad_(False)
        # DDP wrappers are used for the network's own update; .module for use inside another's loss
        self.wrapped = {n: DDP(m) if distributed else m for n, m in self.nets.items()}
        self.world = torch.distributed.get_world_size() if distributed else 1
        self.step = 0

    # ----------------------------------------------------------------------------------- contract
    def autocast(self):
        if self.cuda and self.cfg.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def maps(self, points: torch.Tensor) -> torch.Tensor:
        """Heatmaps for (..., 68, 2) landmarks, rendered on the training device."""
        lead = points.shape[:-2]
        m = heatmaps(points.reshape(-1, 68, 2), self.cfg.image_size, self.cfg.sigma)
        return m.reshape(*lead, 68, self.cfg.image_size, self.cfg.image_size)

    def set_input(self, batch: dict) -> None:
        d = self.device
        self.source = batch["source"].to(d, non_blocking=True)
        self.source_lms = batch["source_landmarks"].to(d, non_blocking=True)
        self.real = batch["frames"].to(d, non_blocking=True)  # (B, T, 3, H, W)
        self.lms = batch["landmarks"].to(d, non_blocking=True)  # (B, T, 68, 2)
        self.source_maps = self.maps(self.source_lms)
        self.target_maps = self.maps(self.lms)

    def forward(self) -> torch.Tensor:
        with self.autocast():
            self.fake, _ = self.wrapped["G"](self.source, self.source_maps, self.target_maps)
        return self.fake

    def optimize(self) -> dict[str, torch.Tensor]:
        """One training iteration on the current input; the statistics as 0-d tensors on the device."""
        stats = self._optimize_stargan() if self.cfg.model == "stargan" else self._optimize_motiongan()
        self._update_ema()
        self.step += 1
        return stats

    def init_generator(self, tensors: dict[str, torch.Tensor]) -> None:
        """Start G (and G_ema) from a generator export's weights; G trains in fp32."""
        for net in filter(None, (self.nets["G"], self.G_ema)):
            net.load_state_dict({k: v.float() for k, v in tensors.items()})

    @torch.no_grad()
    def _update_ema(self) -> None:
        """G_ema <- beta G_ema + (1 - beta) G, beta = 0.5 ** (batch / half-life in clips) (StyleGAN2-ADA)."""
        if self.G_ema is None:
            return
        cfg = self.cfg
        seen = (self.step + 1) * cfg.batch * self.world
        half_life = min(cfg.ema_kimg * 1000, seen * cfg.ema_rampup) if cfg.ema_rampup else cfg.ema_kimg * 1000
        beta = 0.5 ** (cfg.batch * self.world / max(half_life, 1e-8))
        ema, cur = list(self.G_ema.parameters()), list(self.nets["G"].parameters())
        torch._foreach_lerp_(ema, cur, 1.0 - beta)

    @property
    def G_export(self) -> nn.Module:
        """The generator to ship: G_ema when kept, else G."""
        return self.G_ema if self.G_ema is not None else self.nets["G"]

    # --------------------------------------------------------------------------------- MotionGAN
    def _frames(self, x):  # (B, T, ...) -> (B*T, ...)
        return x.reshape(-1, *x.shape[2:])

    def _repeat(self, x):  # per-clip tensor -> one per frame
        T = self.real.shape[1]
        return x.unsqueeze(1).expand(-1, T, *x.shape[1:]).reshape(-1, *x.shape[1:])

    def _optimize_motiongan(self) -> dict[str, torch.Tensor]:
        cfg, st = self.cfg, {}
        if self.step < cfg.d_warmup:  # discriminators alone against the frozen G
            with record_function("G/forward"), torch.no_grad():
                fake = self.forward()
            return self._optimize_discriminators(fake, st)
        with record_function("G/forward"):
            fake = self.forward()
        real_f, fake_f = self._frames(self.real), self._frames(fake)
        s_f, sm_f, tm_f = self._repeat(self.source), self._repeat(self.source_maps), self._frames(self.target_maps)
        # ---- G
        with self.autocast():
            loss_img = losses.image_loss(fake, self.real)
            total = cfg.lambda_img * loss_img
            st["G/img"] = loss_img
            if "Df" in self.nets:
                df = self.nets["Df"]
                with record_function("G/loss_Df_features"), torch.no_grad():
                    _, real_feats = df(s_f, sm_f, real_f, tm_f, score=False)
                with record_function("G/loss_Df_features"):
                    _, fake_feats = df(s_f, sm_f, fake_f, tm_f, score=False)
                fm = losses.feature_matching_loss(fake_feats, real_feats)
                total = total + cfg.lambda_adv * fm
                st["G/adv_df"] = fm
            if "Dv" in self.nets:
                dv = self.nets["Dv"]
                with record_function("G/loss_Dv_features"), torch.no_grad():
                    _, _, real_feats = dv(self.real, score=False, maps=False)
                with record_function("G/loss_Dv_features"):
                    _, fake_maps, fake_feats = dv(fake, score=False)
                fm = losses.feature_matching_loss(fake_feats, real_feats)
                lms = losses.landmark_loss(fake_maps, self.target_maps)
                total = total + cfg.lambda_adv * fm + cfg.lambda_lms * lms
                st["G/adv_dv"], st["G/lms"] = fm, lms
        if self.V is not None:
            lm_f = self._frames(self.lms)
            with record_function("G/loss_V"):
                e_fake = self.V.embed(fake_f.float(), lm_f)
            with record_function("G/loss_V"), torch.no_grad():
                e_src = self._repeat(self.V.embed(self.source, self.source_lms))
                e_real = self.V.embed(real_f, lm_f)
            loss_id = losses.identity_loss(e_fake, e_src, e_real)
            total = total + cfg.lambda_id * loss_id
            st["G/id"] = loss_id
        st["G/total"] = total
        with record_function("G/backward_and_step"):
            self.opts["G"].zero_grad(set_to_none=True)
            total.backward()
            self.opts["G"].step()
        return self._optimize_discriminators(fake, st)

    def _optimize_discriminators(self, fake: torch.Tensor, st: dict) -> dict[str, torch.Tensor]:
        """Df on L_adv^Df (eq. 3), then Dv on L_adv^Dv + lambda_dv_lms L_lms^Dv (eqs. 4, 6)."""
        cfg = self.cfg
        real_f, fake_d = self._frames(self.real), self._frames(fake).detach()
        s_f, sm_f, tm_f = self._repeat(self.source), self._repeat(self.source_maps), self._frames(self.target_maps)
        if "Df" in self.nets:
            with record_function("Df/step"), self.autocast():
                two = lambda x: torch.cat([x, x], 0)  # noqa: E731 -- real and fake in one pass
                logits, _ = self.wrapped["Df"](two(s_f), two(sm_f), torch.cat([real_f, fake_d], 0), two(tm_f))
                n = real_f.shape[0]
                loss = losses.discriminator_loss(logits[:n].float(), logits[n:].float())
                self.opts["Df"].zero_grad(set_to_none=True)
                loss.backward()
                self.opts["Df"].step()
            st["Df/adv"] = loss
        # ---- Dv
        if "Dv" in self.nets:
            with record_function("Dv/step"), self.autocast():
                clips = torch.cat([self.real, fake.detach()], 0)
                b = self.real.shape[0]
                scores, maps, _ = self.wrapped["Dv"](clips, maps=b)  # eq. 6 needs real clips' maps only
                adv = losses.discriminator_loss(scores[:b].float(), scores[b:].float())
                lms = losses.landmark_loss(maps[:b], self.target_maps)
                loss = adv + cfg.lambda_dv_lms * lms
                self.opts["Dv"].zero_grad(set_to_none=True)
                loss.backward()
                self.opts["Dv"].step()
            st["Dv/adv"], st["Dv/lms"] = adv, lms
        return {k: v.detach() for k, v in st.items()}

    # ------------------------------------------------------------------------------------ StarGAN
    def _optimize_stargan(self) -> dict[str, torch.Tensor]:
        cfg, st = self.cfg, {}
        G, D = self.wrapped["G"], self.wrapped["D"]
        real = self._frames(self.real)
        src = self._repeat(self.source)
        tm = self._frames(self.target_maps)
        lm = self._frames(self.lms) / cfg.image_size
        with self.autocast():
            fake, _ = G(src, None, tm.unsqueeze(1))
            fake = fake[:, 0]
            # critic
            r_score, r_lms = D(real)
            f_score, _ = D(fake.detach())
            d_cls = torch.nn.functional.mse_loss(r_lms.float(), lm)
        gp = losses.gradient_penalty(self.nets["D"], real.float(), fake.detach().float())
        d_loss = f_score.float().mean() - r_score.float().mean() + cfg.lambda_gp * gp + cfg.lambda_cls * d_cls
        self.opts["D"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.opts["D"].step()
        st.update({"D/wgan": (f_score.mean() - r_score.mean()).detach(), "D/gp": gp.detach(),
                   "D/lms": d_cls.detach()})
        if self.step % cfg.n_critic == 0:
            with self.autocast():
                f_score, f_lms = self.nets["D"](fake)
                back, _ = G(fake, None, self._repeat(self.source_maps).unsqueeze(1))
                rec = losses.image_loss(back[:, 0], src)
                g_cls = torch.nn.functional.mse_loss(f_lms.float(), lm)
                g_loss = -f_score.float().mean() + cfg.lambda_cls * g_cls + cfg.lambda_rec * rec
            self.opts["G"].zero_grad(set_to_none=True)
            g_loss.backward()
            self.opts["G"].step()
            st.update({"G/adv": -f_score.mean().detach(), "G/lms": g_cls.detach(), "G/rec": rec.detach()})
        self.fake = fake.detach().reshape(self.real.shape)
        return st

    # -------------------------------------------------------------------------------- state
    def tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        for n, m in self.nets.items():
            out.update({f"{n}.{k}": v for k, v in m.state_dict().items()})
            out.update(optimizer_tensors(f"opt.{n}", self.opts[n]))
        if self.G_ema is not None:
            out.update({f"G_ema.{k}": v for k, v in self.G_ema.state_dict().items()})
        out["rng.torch"] = torch.get_rng_state()
        if self.cuda:
            out["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        return out

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        for n, m in self.nets.items():
            sd = {k[len(n) + 1:]: v for k, v in tensors.items() if k.startswith(n + ".")}
            m.load_state_dict(sd)
            load_optimizer(f"opt.{n}", self.opts[n], tensors)
        if self.G_ema is not None:
            self.G_ema.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("G_ema.")})
        torch.set_rng_state(tensors["rng.torch"].cpu())
        if self.cuda and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"].cpu(), self.device)
