import pytest
import torch
import torch.nn.functional as F

from motiongan.convention import LandmarkEncoder
from motiongan.inference.streaming import GraphedStreamer, Streamer
from motiongan.networks import Generator


def heatmaps(points, size, sigma):
    return LandmarkEncoder(size, sigma)(points)


def make(width=8, seed=0):
    torch.manual_seed(seed)
    G = Generator(width=width, n_res=2).eval()
    for m in G.modules():
        if isinstance(m, torch.nn.InstanceNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return G


def test_sparse_target_convolution_equals_the_dense_one_even_at_the_borders():
    G = make()
    pts = torch.rand(3, 68, 2) * 76 - 6  # some points off the 64 x 64 image
    src = torch.rand(3, 3, 64, 64) * 2 - 1
    sm = heatmaps(pts, 64, 1.5)
    s = Streamer(G, src, sm, LandmarkEncoder(64, 1.5))
    w = G.encoder.stages[0][0].weight
    dense = F.conv2d(heatmaps(pts, 64, 1.5), w[:, 3 + 68:], padding=3)
    assert (s._target_part(pts) - dense).abs().max() < 1e-5


def test_streaming_frames_equal_the_plain_generator_over_a_sequence():
    G = make(seed=1)
    src = torch.rand(1, 3, 64, 64) * 2 - 1
    base = torch.rand(1, 68, 2) * 40 + 12
    sm = heatmaps(base, 64, 1.0)
    stream, state = Streamer(G, src, sm, LandmarkEncoder(64, 1.0)), None
    with torch.no_grad():
        for _t in range(8):
            pts = base + torch.randn_like(base)
            plain, state = G.step(src, sm, heatmaps(pts, 64, 1.0), state)
            assert (stream.step(pts) - plain).abs().max() < 1e-3


def test_streaming_works_for_the_stargan_generator_without_source_landmarks():
    torch.manual_seed(2)
    G = Generator(width=8, n_res=2, recurrent=False, source_landmarks=False).eval()
    src, pts = torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 68, 2) * 40 + 12
    with torch.no_grad():
        plain, _ = G.step(src, None, heatmaps(pts, 64, 1.5))
        fast = Streamer(G, src, heatmaps(pts, 64, 1.5), LandmarkEncoder(64, 1.5)).step(pts)
    assert (fast - plain).abs().max() < 1e-3


@pytest.mark.slow
def test_compiled_streaming_frames_equal_the_plain_generator_over_a_sequence():
    G = make(seed=3)
    src = torch.rand(1, 3, 64, 64) * 2 - 1
    base = torch.rand(1, 68, 2) * 40 + 12
    sm = heatmaps(base, 64, 1.5)
    stream, state = Streamer(G, src, sm, LandmarkEncoder(64, 1.5), backend="compile"), None
    with torch.no_grad():
        for _ in range(4):
            pts = base + torch.randn_like(base)
            plain, state = G.step(src, sm, heatmaps(pts, 64, 1.5), state)
            assert (stream.step(pts) - plain).abs().max() < 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_cuda_graph_streaming_frames_equal_the_streamer_over_a_sequence():
    G = make(seed=4).cuda()
    src = torch.rand(2, 3, 64, 64, device="cuda") * 2 - 1
    base = torch.rand(2, 68, 2, device="cuda") * 40 + 12
    sm = heatmaps(base, 64, 1.5)
    plain = Streamer(G, src, sm, LandmarkEncoder(64, 1.5))
    graphed = GraphedStreamer(Streamer(G, src, sm, LandmarkEncoder(64, 1.5)), base)
    for _ in range(6):
        pts = base + torch.randn_like(base)
        assert (graphed.step(pts) - plain.step(pts)).abs().max() < 1e-3
