"""The warp configuration of G and the landmark warp as a generator (SPEC: warp first, then paint)."""
import numpy as np
import pytest
import torch
from conftest import TINY

from motiongan.cli import main
from motiongan.config import load_config
from motiongan.convention import LandmarkEncoder
from motiongan.data import Cache, EvalClips
from motiongan.inference import MotionGAN
from motiongan.landmarks import INNER_MOUTH, MOUTH, area, opening, stretch_weight
from motiongan.media import read_image, video_info
from motiongan.motion import warp
from motiongan.networks import LandmarkWarp, WarpGenerator, build_generator
from motiongan.networks.warp_generator import paint_region
from motiongan.training.loop import train

EXTRA = ["log_every=1", "sample_every=2", "checkpoint_every=2", "test_persons=0"]


@pytest.fixture(scope="module")
def clip(one_clip):
    """One GRID clip at 64 px: frames (T, 3, 64, 64) and landmarks (T, 68, 2)."""
    c = EvalClips(Cache(one_clip), "all", size=64)[0]
    return c["frames"], c["landmarks"]


def _inputs(frames, lms, t):
    enc = LandmarkEncoder(64, 1.0)
    return (frames[:1], enc(lms[:1]), enc(lms[t]).unsqueeze(0)), {"source_lms": lms[:1], "target_lms": lms[t][None]}


def test_an_untrained_warp_generator_returns_the_landmark_warp(clip):
    frames, lms = clip
    G = build_generator(load_config("warp", TINY).generator_kwargs())
    args, points = _inputs(frames, lms, torch.arange(1, 9))
    with torch.no_grad():
        out, _ = G(*args, **points)
        ref, _ = LandmarkWarp()(*args, **points)
    assert out.shape == ref.shape == (1, 8, 3, 64, 64)
    assert (out - ref).abs().max() < 2e-3  # 1 - sigmoid(8) of the colour's distance at most


def test_warp_cpu_starts_as_the_warp_outside_the_gated_region_and_mostly_warp_inside(clip):
    # its mask starts at sigmoid(2): a bias of 8 does not move in thousands of Adam steps (model card)
    frames, lms = clip
    G = build_generator(load_config("warp_cpu", TINY).generator_kwargs())
    t = torch.arange(1, 9)
    args, points = _inputs(frames, lms, t)
    region = paint_region(lms[:1].expand(8, -1, -1), lms[t], 64)[None]
    with torch.no_grad():
        out, _ = G(*args, **points)
        ref, _ = LandmarkWarp()(*args, **points)
    diff = (out - ref).abs().amax(2, keepdim=True)
    assert diff[region == 0].max() < 1e-6
    assert diff.max() <= 2 * (1 - torch.sigmoid(torch.tensor(2.0))) + 1e-5


def test_gated_paint_leaves_the_warp_exact_where_no_region_opens_wider(clip):
    frames, lms = clip
    G = WarpGenerator(width=8, n_res=2)
    with torch.no_grad():  # a "trained" mask that wants to paint everywhere
        G.decoder.up[-1].bias[3].fill_(-8.0)
    wider = opening(lms, INNER_MOUTH) - opening(lms[:1], INNER_MOUTH)
    t = int(torch.argmin(wider))  # the mouth is no wider than in the source here
    assert wider[t] <= 0
    args, points = _inputs(frames, lms, torch.tensor([t]))
    region = paint_region(lms[:1], lms[t][None], 64)
    with torch.no_grad():
        out, _ = G(*args, **points)
        ref, _ = LandmarkWarp()(*args, **points)
    painted = (out - ref).abs().amax(2)[0, 0] > 1e-6
    assert not painted[region[0, 0] == 0].any()  # nothing outside the gated region changes


def test_paint_region_covers_the_inner_mouth_only_when_it_opens_wider_than_the_source(clip):
    _, lms = clip
    wider = opening(lms, INNER_MOUTH) - opening(lms[:1], INNER_MOUTH)
    open_t, closed_t = int(torch.argmax(wider)), int(torch.argmin(wider))
    assert wider[open_t] > 0.05
    region = paint_region(lms[:1].expand(2, -1, -1), lms[[open_t, closed_t]], 64)
    mouth = lms[open_t, list(INNER_MOUTH)]
    cx, cy = mouth.mean(0).round().long().tolist()
    assert region[0, 0, cy, cx] == 1
    mouth = lms[closed_t, list(MOUTH)]
    lo, hi = mouth.amin(0) - 2, mouth.amax(0) + 3
    (x0, y0), (x1, y1) = lo.long().tolist(), hi.long().tolist()
    assert region[1, 0, y0:y1, x0:x1].sum() == 0  # the eyes may open wider there; the mouth does not


def test_stretch_keeps_the_warp_for_a_mouth_the_warp_barely_stretches_and_paints_one_it_opens_from_closed(clip):
    _, lms = clip
    a = area(lms, INNER_MOUTH)
    closed_t, open_t = int(torch.argmin(a)), int(torch.argmax(a))
    assert a[open_t] > 3 * a[closed_t]
    src, tgt = lms[[open_t, closed_t, open_t]], lms[[open_t, open_t, closed_t]]
    w = stretch_weight(src, tgt, 1.5, 3.0)
    assert w.tolist() == [0.0, 1.0, 0.0]  # already open | opened from closed | closing
    ratio = torch.tensor([1.5, 2.25, 3.0])  # smoothstep: 0 at low, 1/2 halfway, 1 at high
    scaled = lms[[closed_t] * 3].clone()
    centre = scaled[:, list(INNER_MOUTH)].mean(1, keepdim=True)
    scaled[:, list(INNER_MOUTH)] = centre + (scaled[:, list(INNER_MOUTH)] - centre) * ratio.sqrt().view(3, 1, 1)
    assert torch.allclose(stretch_weight(lms[[closed_t] * 3], scaled, 1.5, 3.0), torch.tensor([0.0, 0.5, 1.0]),
                          atol=1e-3)
    plain = paint_region(lms[:1].expand(len(lms), -1, -1), lms, 64)
    gated = paint_region(lms[:1].expand(len(lms), -1, -1), lms, 64, (1.5, 3.0))
    assert (gated <= plain + 1e-6).all()  # the stretch only ever takes paint away


def test_a_region_without_eyes_is_the_mouth_alone(clip):
    _, lms = clip
    src = lms[:1].expand(len(lms), -1, -1)
    wider = opening(lms, INNER_MOUTH) - opening(lms[:1], INNER_MOUTH)
    both, mouth = paint_region(src, lms, 64), paint_region(src, lms, 64, eyes=False)
    eyes_only = (wider <= 0) & (both.flatten(1).amax(1) > 0)  # frames whose eyes alone open wider
    assert eyes_only.any()
    assert mouth[eyes_only].abs().max() == 0
    assert (wider > 0.05).any() and (mouth[wider > 0.05].flatten(1).amax(1) == 1).all()  # still painted fully
    assert (mouth <= both).all()


def _steps(G, frames, lms, order):
    """G frame by frame over target frames ``order`` (B, T) from source frame 0: outputs and states."""
    enc, outs, states, state = LandmarkEncoder(64, 1.0), [], [], None
    B = order.shape[0]
    source, source_lms = frames[:1].expand(B, -1, -1, -1), lms[:1].expand(B, -1, -1)
    for t in range(order.shape[1]):
        target = lms[order[:, t]]
        with torch.no_grad():
            out, state = G.step(source, enc(source_lms), enc(target), state, source_lms=source_lms,
                                target_lms=target)
        outs.append(out)
        states.append(state)
    return outs, states


def test_a_skipping_generator_is_the_warp_on_frames_with_nothing_to_paint_and_its_state_holds_there(clip):
    frames, lms = clip
    torch.manual_seed(0)
    G = WarpGenerator(width=8, n_res=2, skip=True, mask_bias=-2.0)
    region = paint_region(lms[:1].expand(len(lms), -1, -1), lms, 64).flatten(1).amax(1)
    painted, idle = torch.nonzero(region > 0).flatten(), torch.nonzero(region == 0).flatten()
    assert len(painted) >= 2 and len(idle) >= 2
    order = torch.stack([torch.stack([painted[0], idle[0], painted[1], idle[1]]),
                         torch.stack([idle[0], idle[1], painted[0], painted[1]])])
    outs, states = _steps(G, frames, lms, order)
    warped = LandmarkWarp()(frames[:1], None, None, source_lms=lms[:1], target_lms=lms[order[1, :2]][None])[0][0]
    assert torch.equal(outs[0][1], warped[0]) and torch.equal(outs[1][1], warped[1])  # nothing painted yet
    assert all(torch.equal(a[0], b[0]) for a, b in zip(states[0], states[1]))  # clip 0's state held at idle t=1
    assert torch.equal(states[1][0][1], torch.zeros_like(states[1][0][1]))  # clip 1: still the initial state
    for b in range(2):  # each clip of the batch is what it is alone (no batch-mate moves its state)
        alone, _ = _steps(G, frames, lms, order[b:b + 1])
        assert all(torch.allclose(o[b], a[0], atol=1e-6) for o, a in zip(outs, alone))
    G.eval()  # inference skips the network on a step with nothing to paint; training runs it: same frames
    skipped, held = _steps(G, frames, lms, order)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(outs, skipped))
    assert held[1] is held[0]  # t=1 has nothing to paint in either clip: the state passes through untouched
    assert all(torch.allclose(a, b, atol=1e-6) for s, t in zip(states, held) for a, b in zip(s, t))


def test_a_skipping_generator_trains_on_a_batch_with_nothing_to_paint(clip):
    frames, lms = clip
    region = paint_region(lms[:1].expand(len(lms), -1, -1), lms, 64).flatten(1).amax(1)
    idle = torch.nonzero(region == 0).flatten()[:2]
    G = WarpGenerator(width=8, n_res=2, skip=True, mask_bias=-2.0)
    args, points = _inputs(frames, lms, idle)
    out, _ = G(*args, **points)
    (out - frames[idle][None]).abs().mean().backward()  # a graph to differentiate (its gradients are zero)
    assert all(p.grad is not None and not p.grad.any() for p in G.parameters())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["warp", "warp_cpu"])
def test_warp_configurations_resume_exactly_and_export_a_generator_that_loads(name, one_clip, tmp_path):
    cfg = load_config(name, TINY + EXTRA + ["use_v=false"])
    straight = train(cfg, one_clip, tmp_path / "a", steps=4, progress=False)
    train(cfg, one_clip, tmp_path / "b", steps=2, progress=False)
    resumed = train(cfg, one_clip, tmp_path / "b", steps=4, resume=True, progress=False)
    for net, other in zip(straight.nets.values(), resumed.nets.values()):
        assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values()))
    model = MotionGAN.from_checkpoint(tmp_path / "b" / "generator.safetensors")
    assert isinstance(model.G, WarpGenerator) and model.G.kwargs == straight.nets["G"].kwargs
    c = EvalClips(Cache(one_clip), "all", size=64, max_frames=3)[0]
    frames = list(model.generate(c["frames"][0], c["landmarks"][0], c["landmarks"]))
    assert len(frames) == 3 and all(torch.isfinite(f).all() for f in frames)


def test_the_landmark_warp_model_moves_the_source_onto_the_target_landmarks(clip):
    frames, lms = clip
    model = MotionGAN.landmark_warp(size=64)
    out = list(model.generate(frames[0], lms[0].numpy(), lms[:4].numpy()))
    expected = warp(frames[:1].expand(4, -1, -1, -1), lms[:1].expand(4, -1, -1), lms[:4], 64)
    assert all(torch.allclose(o, e, atol=1e-5) for o, e in zip(out, expected))
    assert torch.allclose(out[0], frames[0], atol=1e-5)  # target = source: the source itself


@pytest.mark.slow
def test_checkpoint_warp_animates_and_edits_and_is_the_default_generator(data_dir, tmp_path):
    from motiongan.assets import asset
    from motiongan.models import DEFAULT, generator_source

    source = data_dir / "stills68" / "image_0001.png"
    track = np.load(asset("demo_track.npy"))[:5]
    np.save(tmp_path / "t.npy", track)
    assert main(["animate", str(source), str(tmp_path / "t.npy"), "-o", str(tmp_path / "a.mp4"),
                 "--checkpoint", "warp"]) == 0
    assert video_info(tmp_path / "a.mp4")["frames"] == 5
    assert main(["edit", str(source), "--expression", "happy", "-o", str(tmp_path / "e.png"),
                 "--checkpoint", "warp"]) == 0
    assert read_image(tmp_path / "e.png").shape[2] == 3
    assert generator_source(None) == generator_source(DEFAULT)  # no --checkpoint: the default
    assert main(["animate", str(source), str(tmp_path / "t.npy"), "-o", str(tmp_path / "d.mp4")]) == 0
    assert video_info(tmp_path / "d.mp4")["frames"] == 5


def test_the_landmark_warp_of_a_real_frame_is_closer_to_the_target_than_the_source_is(clip):
    frames, lms = clip
    model = MotionGAN.landmark_warp(size=64)
    wider = opening(lms, INNER_MOUTH) - opening(lms[:1], INNER_MOUTH)
    t = int(torch.argmax(wider))
    (out,) = model.generate(frames[0], lms[0].numpy(), lms[t:t + 1].numpy())
    err = lambda x: float((x - frames[t]).abs().mean())  # noqa: E731
    assert err(out) < err(frames[0])


def test_a_warp_generator_renders_a_detail_crop_at_its_resolution_with_the_same_motion(clip):
    import torch.nn.functional as F

    frames, lms = clip
    G = WarpGenerator(width=8, n_res=2)
    model = MotionGAN(G, load_config("warp_cpu", TINY))
    detail = F.interpolate(frames[:1], scale_factor=4, mode="bicubic", align_corners=False)[0].clamp(-1, 1)
    low = list(model.generate(frames[0], lms[0].numpy(), lms[:3].numpy()))
    high = list(model.generate(frames[0], lms[0].numpy(), lms[:3].numpy(), detail=detail))
    assert high[0].shape == (3, 256, 256)
    for a, b in zip(low, high):  # the same frame, four times sharper: equal once shrunk back
        assert (F.avg_pool2d(b[None], 4)[0] - a).abs().mean() < 0.03
