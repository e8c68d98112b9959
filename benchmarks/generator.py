"""Generator speed and memory, plain eager vs the streaming generator (motiongan.inference.streaming);
prints JSON. Paper-size G (128 x 128, width 64, 6 residual blocks, ConvLSTM) unless told otherwise.

    python benchmarks/generator.py [--frames 12] [--batch 8] [--device cpu|cuda] [--json PATH]

Figures: ms per frame when streaming (batch 1, state carried) for both paths, the speed-up, frames/s in
batches, GFLOPs per frame (torch's FLOP counter), achieved GFLOP/s against a matrix-multiply rate measured
in the same run, peak memory, memory against video length, and the largest difference between the
paths' frames (on [-1, 1]). The fast path is timed eager and through ``torch.compile`` (its setup time
printed too). On CUDA also bf16 autocast at batch 1 and --batch: frames/s of the streamer eager and
compiled, each as it is and replayed as a CUDA graph (``GraphedStreamer``).
"""
import argparse
import json
import resource
import time
from pathlib import Path

import torch
from _timing import matmul_flops_per_s, sync
from torch.utils.flop_counter import FlopCounterMode

from motiongan.convention import LandmarkEncoder
from motiongan.inference.streaming import GraphedStreamer, Streamer
from motiongan.networks import Generator


def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cuda-frames", type=int, default=300, help="frames timed per bf16 variant on CUDA")
    ap.add_argument("--json", type=Path, default=None, help="write the results here as they come")
    args = ap.parse_args()
    dev = torch.device(args.device)
    torch.manual_seed(0)
    G = Generator(width=args.width).to(dev).eval()
    for m in G.modules():  # non-trivial affine norms, as in a trained model
        if isinstance(m, torch.nn.InstanceNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    S = args.size
    src = torch.rand(1, 3, S, S, device=dev) * 2 - 1
    src_pts = torch.rand(1, 68, 2, device=dev) * (S - 20) + 10
    sm = LandmarkEncoder(S, 1.5)(src_pts)
    track = [src_pts + torch.randn_like(src_pts) * 2 for _ in range(args.frames + 2)]
    out = {"device": str(dev), "threads": torch.get_num_threads(), "size": S, "width": args.width,
           "params_M": round(sum(p.numel() for p in G.parameters()) / 1e6, 2)}

    def plain_run(n, fmt=torch.contiguous_format):
        G.to(memory_format=fmt)
        s = src.contiguous(memory_format=fmt)
        state, frames = None, []
        for p in track[:n]:
            f, state = G.step(s, sm, LandmarkEncoder(S, 1.5)(p), state)
            frames.append(f)
        sync(dev)
        G.to(memory_format=torch.contiguous_format)
        return frames

    def plain_cl_run(n):
        return plain_run(n, torch.channels_last)

    def fast_run(n, backend="eager"):
        st = Streamer(G, src, sm, LandmarkEncoder(S, 1.5), backend=backend)
        frames = [st.step(p) for p in track[:n]]
        sync(dev)
        return frames

    backends = ["eager", "compile"]
    if dev.type == "cuda":  # first: the figures a GPU slot is for
        for B in (1, args.batch):
            out[f"bf16_batch{B}"] = {}
            with torch.no_grad():
                for _ in bf16_streaming(G, src, sm, track, B, args.cuda_frames, out[f"bf16_batch{B}"]):
                    emit(out, args.json)

    with torch.no_grad():
        with FlopCounterMode(display=False) as fc:
            G.step(src, sm, LandmarkEncoder(S, 1.5)(track[0]), None)
        plain_flops = fc.get_total_flops()
        # the counter cannot see inside compiled code
        st = Streamer(G, src, sm, LandmarkEncoder(S, 1.5), backend="eager")
        with FlopCounterMode(display=False) as fc:
            st.step(track[0])
        fast_flops = fc.get_total_flops()
        a = plain_run(args.frames)
        runs = {"plain": plain_run, "plain_channels_last": plain_cl_run}
        for bk in backends:
            t = time.perf_counter()
            b = fast_run(args.frames, bk)  # the first run of a backend also builds it
            out[f"setup_and_first_run_s_fast_{bk}"] = round(time.perf_counter() - t, 1)
            out[f"max_abs_diff_fast_{bk}_vs_plain"] = max(float((x - y).abs().max()) for x, y in zip(a, b))
            runs[f"fast_{bk}"] = lambda n, bk=bk: fast_run(n, bk)
        timings = {name: [] for name in runs}
        for _ in range(2):  # interleaved, best of two
            for name, fn in runs.items():
                fn(2)
                t = time.perf_counter()
                fn(args.frames)
                timings[name].append((time.perf_counter() - t) / args.frames * 1000)
        plain_ms = min(timings["plain"] + timings["plain_channels_last"])  # the better plain layout
        for bk in backends:
            out[f"ms_per_frame_fast_{bk}"] = round(min(timings[f"fast_{bk}"]), 1)
            out[f"speedup_fast_{bk}_vs_best_plain"] = round(plain_ms / min(timings[f"fast_{bk}"]), 2)
        fast_ms = min(timings["fast_eager"])
        rate = matmul_flops_per_s(dev, 2048, 10) / 1e9
        out.update({
            "gflops_per_frame_plain": round(plain_flops / 1e9, 2), "gflops_per_frame_fast": round(fast_flops / 1e9, 2),
            "ms_per_frame_plain_contiguous": round(min(timings["plain"]), 1),
            "ms_per_frame_plain_channels_last": round(min(timings["plain_channels_last"]), 1),
            "achieved_gflops_per_s_plain": round(plain_flops / 1e9 / (plain_ms / 1000), 1),
            "achieved_gflops_per_s_fast_eager": round(fast_flops / 1e9 / (fast_ms / 1000), 1),
            "matmul_gflops_per_s": round(rate, 1),
        })
        # batches of independent videos
        B = args.batch
        sb, smb = src.expand(B, -1, -1, -1).contiguous(), sm.expand(B, -1, -1, -1)
        stb = Streamer(G, sb, smb, LandmarkEncoder(S, 1.5), backend="eager")
        pts = track[0].expand(B, -1, -1)
        stb.step(pts)
        sync(dev)
        t = time.perf_counter()
        for p in track[:4]:
            stb.step(p.expand(B, -1, -1))
        sync(dev)
        out[f"frames_per_s_batch{B}_fast"] = round(4 * B / (time.perf_counter() - t), 2)
        # memory against video length (streaming, state carried)
        st = Streamer(G, src, sm, LandmarkEncoder(S, 1.5), backend=backends[1])
        mem = {}
        for i in range(1, 61):
            st.step(track[i % len(track)])
            if i in (5, 30, 60):
                mem[i] = round(torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else rss_mb(), 1)
        out["memory_mb_at_frames"] = mem
        out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        emit(out, args.json)
    print(json.dumps(out, indent=1))


def bf16_streaming(G, src, sm, track, B, n, res):
    """Into ``res``, yielding after each variant: bf16 frames/s over ``n`` streamed frames of B videos, the
    streamer eager and compiled, each as it is and replayed as a CUDA graph; and each one's largest
    difference from eager bf16 over the track."""
    enc, bf16 = LandmarkEncoder(src.shape[-1], 1.5), torch.bfloat16
    sb, smb = src.expand(B, -1, -1, -1).contiguous(), sm.expand(B, -1, -1, -1).contiguous()
    pts = [p.expand(B, -1, -1).contiguous() for p in track]
    ref = None
    for backend in ("eager", "compile"):
        for graph in (False, True):
            name = backend + ("_cuda_graph" if graph else "")
            t = time.perf_counter()
            with torch.autocast("cuda", dtype=bf16):
                st = Streamer(G, sb, smb, enc, backend=backend)
                if graph:
                    st = GraphedStreamer(st, pts[0], dtype=bf16)
                frames = [st.step(p).float() for p in pts]  # from the first frame
            torch.cuda.synchronize()
            res[f"setup_and_first_{len(pts)}_frames_s_{name}"] = round(time.perf_counter() - t, 1)
            ref = frames if ref is None else ref
            res[f"max_abs_diff_{name}_vs_eager"] = max(float((a - b).abs().max()) for a, b in zip(frames, ref))
            with torch.autocast("cuda", dtype=bf16):
                t = time.perf_counter()
                for i in range(n):
                    st.step(pts[i % len(pts)])
                torch.cuda.synchronize()
            res[f"frames_per_s_{name}"] = round(n * B / (time.perf_counter() - t), 1)
            del st
            torch.cuda.empty_cache()
            yield


def emit(out, path):
    if path:
        path.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
