"""Model size, FLOPs and training-step time for a configuration; prints JSON.

    python benchmarks/training.py [--config paper] [--batch 1 ...] [--steps 2] [--device cpu|cuda] [--set k=v ...]

Parameters and forward GFLOPs per generated frame of G, Df, Dv (a T-frame clip, divided by T) and V
(torch's FLOP counter); seconds per training step; where the step's time goes (profiler regions of
the trainer: G forward, the discriminators' features and V inside G's loss, G's backward, the Df and Dv
updates); for each --batch: steps/s, clips/s, model FLOPs per step (counted forward x 3 for forward +
backward), the matrix-multiply rate measured in the same run (bf16 on CUDA, fp32 on CPU) and the
model-FLOPs utilisation against it; and the seconds from process start to the end of the first step.
"""
import time

STARTED = time.monotonic()

import argparse  # noqa: E402
import json  # noqa: E402

import torch  # noqa: E402 (after STARTED: the start-up is timed)
from torch.profiler import ProfilerActivity, profile  # noqa: E402 (after STARTED: the start-up is timed)
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402 (after STARTED: the start-up is timed)

from motiongan.config import load_config  # noqa: E402 (after STARTED: the start-up is timed)
from motiongan.training.trainer import Trainer  # noqa: E402 (after STARTED: the start-up is timed)

REGIONS = ["G/forward", "G/loss_Df_features", "G/loss_Dv_features", "G/loss_V", "G/backward_and_step",
           "Df/step", "Dv/step"]


def batch_for(cfg, B, device):
    S = cfg.image_size
    pts = torch.rand(B, cfg.T + 1, 68, 2) * (S * 0.5) + S * 0.25
    frames = torch.rand(B, cfg.T + 1, 3, S, S) * 2 - 1
    return {"source": frames[:, 0], "source_landmarks": pts[:, 0], "frames": frames[:, 1:], "landmarks": pts[:, 1:]}


def matmul_tflops(device, n=8192, reps=20):
    """Dense matrix-multiply rate measured here: bf16 on CUDA, fp32 on CPU (n=2048)."""
    cuda = device.type == "cuda"
    n = n if cuda else 2048
    dtype = torch.bfloat16 if cuda else torch.float32
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    if cuda:
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    if cuda:
        torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e12


def flops(fn):
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="paper")
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument("--batch", type=int, nargs="+", default=[1])
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    cfg = load_config(args.config, args.set + ([] if args.device.startswith("cuda") else ["amp=false"]))
    tr = Trainer(cfg, args.device)
    dev = tr.device
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    b = batch_for(cfg, 1, dev)
    bt = tr.batch(b)
    out = {"config": cfg.name, "device": str(dev), "threads": torch.get_num_threads(), "size": cfg.image_size,
           "T": cfg.T, "networks": {}}
    s, sm, tm = bt.source, bt.source_maps, bt.target_maps
    per_frame = {}
    with torch.no_grad():
        G = tr.nets["G"]
        per_frame["G"] = flops(lambda: G.step(s, sm, tm[:, 0], None) if G.recurrent else G.step(s, None, tm[:, 0]))
        if "Df" in tr.nets:
            per_frame["Df"] = flops(lambda: tr.nets["Df"](s, sm, bt.real[:, 0], tm[:, 0]))
        if "Dv" in tr.nets:
            per_frame["Dv"] = flops(lambda: tr.nets["Dv"](bt.real)) / cfg.T
        if "D" in tr.nets:
            per_frame["D"] = flops(lambda: tr.nets["D"](bt.real[:, 0]))
        if getattr(tr.objective, "V", None) is not None:
            per_frame["V"] = flops(lambda: tr.objective.V.embed(s, bt.source_lms))
    for name, f in per_frame.items():
        net = tr.objective.V if name == "V" else tr.nets[name]
        out["networks"][name] = {"params_M": round(sum(p.numel() for p in net.parameters()) / 1e6, 2),
                                 "gflops_per_frame": round(f / 1e9, 2)}
    rate = matmul_tflops(dev)
    out["matmul_tflops_measured"] = round(rate, 3)
    out["batches"] = []
    for B in args.batch:
        tr = Trainer(cfg, args.device)
        batch = batch_for(cfg, B, dev)
        tr.step(batch)  # warm-up
        sync()
        if "first_step_s" not in out:
            out["first_step_s"] = round(time.monotonic() - STARTED, 1)
        t = time.perf_counter()
        for _ in range(args.steps):
            tr.step(batch)
        sync()
        step_s = (time.perf_counter() - t) / args.steps
        model_flops = 3 * sum(per_frame.values()) * B * cfg.T
        out["batches"].append({"batch": B, "seconds_per_step": round(step_s, 3), "steps_per_s": round(1 / step_s, 3),
                               "clips_per_s": round(B / step_s, 1),
                               "model_tflops_per_step": round(model_flops / 1e12, 3),
                               "mfu_%": round(100 * model_flops / step_s / (rate * 1e12), 1)})
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with profile(activities=acts) as prof:
        tr.step(batch)
        sync()
    avg = {e.key: e for e in prof.key_averages()}
    key = "device_time_total" if dev.type == "cuda" else "cpu_time_total"
    regions = {r: getattr(avg[r], key) / 1e6 for r in REGIONS if r in avg}
    total = sum(regions.values())
    out["step_time_share_%"] = {r: round(100 * v / total, 1) for r, v in regions.items()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
