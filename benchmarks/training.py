"""Training-step speed, counted model FLOPs and MFU for a configuration, eager and compiled; prints JSON.

    python benchmarks/training.py [--config paper] [--batch 1 ...] [--steps 2] [--device cpu|cuda|meta]
                                  [--compile] [--set k=v ...] [--json PATH]

For each --batch, an eager run and (with --compile, first) a run with ``compile=true``, each a fresh
Trainer on one full-size batch (random frames and landmarks: FLOPs do not depend on the values): the first
step's seconds (compilation included), then steps/s and clips/s over --steps more. Model FLOPs per step
are counted by torch's FLOP counter around one whole eager ``trainer.step`` (forward and backward of G,
Df, Dv and V as the objective runs them); MFU is those FLOPs per second against the dense
matrix-multiply rate measured in the same run (bf16 on CUDA, fp32 on CPU). A compiled run also reports
how far its first step's losses are from the eager run's (same initial weights, same batch). Also: the
seconds from process start to the end of the process's first step (a compiled one with --compile),
parameters and forward GFLOPs per generated frame of each network, and where an eager step's time goes
(profiler regions of the objective). --json rewrites PATH after each batch. ``--device meta`` only
counts: the same steps on shapes alone, in seconds on any machine.
"""
import time

STARTED = time.monotonic()

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402 (after STARTED: the start-up is timed)
import torch._dynamo  # noqa: E402 (after STARTED: the start-up is timed)
from _timing import matmul_flops_per_s, sync  # noqa: E402 (after STARTED: the start-up is timed)
from torch.profiler import ProfilerActivity, profile  # noqa: E402 (after STARTED: the start-up is timed)
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402 (after STARTED: the start-up is timed)

from motiongan.config import load_config  # noqa: E402 (after STARTED: the start-up is timed)
from motiongan.training.trainer import Trainer  # noqa: E402 (after STARTED: the start-up is timed)

REGIONS = ["G/forward", "G/loss_Df_features", "G/loss_Dv_features", "G/loss_V", "G/backward_and_step",
           "Df/step", "Dv/step"]


def batch_for(cfg, B, device):
    S = cfg.model.image_size
    pts = torch.rand(B, cfg.data.T + 1, 68, 2) * (S * 0.5) + S * 0.25
    frames = torch.rand(B, cfg.data.T + 1, 3, S, S) * 2 - 1
    batch = {"source": frames[:, 0], "source_landmarks": pts[:, 0], "frames": frames[:, 1:], "landmarks": pts[:, 1:]}
    return {k: v.to(device) for k, v in batch.items()}


def matmul_tflops(device):
    """Dense matrix-multiply rate measured here, TFLOP/s: bf16 8192^3 on CUDA, fp32 2048^3 on CPU."""
    if device.type == "cuda":
        return matmul_flops_per_s(device, 8192, 20, torch.bfloat16) / 1e12
    return matmul_flops_per_s(device, 2048, 20) / 1e12


def flops(fn, *args):
    with FlopCounterMode(display=False) as fc:
        fn(*args)
    return fc.get_total_flops()


def per_frame(tr, cfg):
    """Parameters and forward GFLOPs per generated frame of each network (Dv: a T-frame clip / T)."""
    bt = tr.batch(batch_for(cfg, 1, tr.device))
    s, sm, tm = bt.source, bt.source_maps, bt.target_maps
    G, V, out = tr.nets["G"], getattr(tr.objective, "V", None), {}
    with torch.no_grad():
        out["G"] = flops(lambda: G.step(s, sm, tm[:, 0], None) if G.recurrent else G.step(s, None, tm[:, 0]))
        if "Df" in tr.nets:
            out["Df"] = flops(lambda: tr.nets["Df"](s, sm, bt.real[:, 0], tm[:, 0]))
        if "Dv" in tr.nets:
            out["Dv"] = flops(lambda: tr.nets["Dv"](bt.real)) / cfg.data.T
        if "D" in tr.nets:
            out["D"] = flops(lambda: tr.nets["D"](bt.real[:, 0]))
        if V is not None:
            out["V"] = flops(lambda: V.embed(s, bt.source_lms))
    return {n: {"params_M": round(sum(p.numel() for p in (V if n == "V" else tr.nets[n]).parameters()) / 1e6, 2),
                "gflops_per_frame": round(f / 1e9, 2)} for n, f in out.items()}


def timed_run(cfg, device, B, steps):
    """A fresh Trainer: its first step (seconds, losses, when it ended), then the mean seconds of ``steps`` more."""
    tr = Trainer(cfg, device)
    batch = batch_for(cfg, B, tr.device)
    t = time.perf_counter()
    stats, _ = tr.step(batch)
    sync(tr.device)
    first, first_end = time.perf_counter() - t, time.monotonic()
    stats = {k: float(v) for k, v in stats.items()}
    if cfg.optimiser.compile:
        tr.step(batch)  # any recompilation happens here, not in the timed steps
        sync(tr.device)
    t = time.perf_counter()
    for _ in range(steps):
        tr.step(batch)
    sync(tr.device)
    return tr, batch, {"first": first, "first_end": first_end, "losses": stats,
                       "step_s": (time.perf_counter() - t) / steps}


def step_time_shares(tr, batch):
    """Share of one eager step's time per profiler region of the objective (device time on CUDA)."""
    dev = tr.device
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with profile(activities=acts) as prof:
        tr.step(batch)
        sync(dev)
    avg = {e.key: e for e in prof.key_averages()}
    key = "device_time_total" if dev.type == "cuda" else "cpu_time_total"
    regions = {r: getattr(avg[r], key, 0) for r in REGIONS if r in avg}
    total = sum(regions.values()) or 1
    return {r: round(100 * v / total, 1) for r, v in regions.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="paper")
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument("--batch", type=int, nargs="+", default=[1])
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true", help="also time each batch with compile=true")
    ap.add_argument("--json", type=Path, default=None, help="write the results here after each batch")
    args = ap.parse_args()
    overrides = args.set + ([] if args.device.startswith("cuda") else ["amp=false"])
    eager_cfg = load_config(args.config, overrides + ["compile=false"])
    compiled_cfg = load_config(args.config, overrides + ["compile=true"])
    out = {"config": eager_cfg.name, "device": args.device, "torch": torch.__version__,
           "threads": torch.get_num_threads(), "size": eager_cfg.model.image_size, "T": eager_cfg.data.T,
           "amp_bf16": eager_cfg.optimiser.amp and args.device.startswith("cuda")}
    runs = []
    if args.device == "meta":  # FLOPs only: the same counted step without arithmetic (any size, no GPU)
        for B in args.batch:
            tr = Trainer(eager_cfg, "meta")
            step_flops = flops(tr.step, batch_for(eager_cfg, B, tr.device))
            runs.append({"batch": B, "model_tflops_per_step": sig(step_flops / 1e12)})
        out |= {"networks": per_frame(tr, eager_cfg), "runs": runs}
        print(json.dumps(out, indent=1))
        return

    for i, B in enumerate(args.batch):
        comp = None
        if args.compile:  # first, so that the process's first step is a compiled one
            torch._dynamo.reset()  # compiled afresh for each batch size, as in a training run
            tr, _, comp = timed_run(compiled_cfg, args.device, B, args.steps)
            del tr
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        tr, batch, eager = timed_run(eager_cfg, args.device, B, args.steps)
        if i == 0:
            out["process_start_to_first_step_s"] = round((comp or eager)["first_end"] - STARTED, 1)
            out["first_step_of_the_process"] = "compiled" if comp else "eager"
            out["device"] = str(tr.device)
            if tr.cuda:
                out["gpu"] = torch.cuda.get_device_name(tr.device)
            out["networks"] = per_frame(tr, eager_cfg)
            out["step_time_share_%_eager"] = step_time_shares(tr, batch)
            out["runs"] = runs
        step_flops = flops(tr.step, batch)  # one whole real step, counted (eager)
        rate = matmul_tflops(tr.device)  # next to this batch's runs (a shared CPU's rate drifts)
        del tr
        runs.append(row(B, "eager", eager, step_flops, rate))
        if comp:
            ref = eager["losses"]
            diff = max(abs(comp["losses"][k] - v) / max(abs(v), 1e-8) for k, v in ref.items())
            extra = {"first_step_losses_max_rel_diff_vs_eager": sig(diff, 2)}
            runs.append(row(B, "compiled", comp, step_flops, rate) | extra)
        if args.json:
            args.json.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


def row(B, mode, run, step_flops, rate):
    step_s = run["step_s"]
    return {"batch": B, "mode": mode, "first_step_s": round(run["first"], 2), "seconds_per_step": sig(step_s),
            "steps_per_s": sig(1 / step_s), "clips_per_s": sig(B / step_s),
            "model_tflops_per_step": sig(step_flops / 1e12), "model_tflops_per_s": sig(step_flops / step_s / 1e12),
            "matmul_tflops_measured": sig(rate), "mfu_%": round(100 * step_flops / step_s / (rate * 1e12), 1)}


def sig(x, n=4):
    """``x`` to ``n`` significant digits."""
    return float(f"{x:.{n}g}")


if __name__ == "__main__":
    main()
