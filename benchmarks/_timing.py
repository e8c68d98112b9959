"""What the benchmark scripts share: waiting for the device, and the matrix-multiply rate they compare with."""
import time

import torch


def sync(device: torch.device) -> None:
    """Wait for the queued work (CUDA), so that a clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops_per_s(device: torch.device, n: int, reps: int, dtype=torch.float32) -> float:
    """Dense n x n matrix-multiply rate measured here, FLOP/s."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t)
