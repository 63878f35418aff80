"""Culling splats that cannot reach the image changes no pixel (bit for bit)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from avatarcheck.arkit import arkit_index
from avatarcheck.avatar import synthetic_avatar
from avatarcheck.render.api import render
from avatarcheck.render.camera import Camera, intrinsics_from_fov
from avatarcheck.render.culling import reaching_splats
from avatarcheck.render.state import SplatState


def assert_same_render(state: SplatState, camera: Camera) -> float:
    keep = reaching_splats(state.means.numpy(), state.scales.numpy(), camera)
    full, culled = render(state, camera, "cpu"), render(state.select(torch.as_tensor(keep)), camera, "cpu")
    np.testing.assert_array_equal(full.colors, culled.colors)
    np.testing.assert_array_equal(full.alpha, culled.alpha)
    return float(keep.mean())


@pytest.mark.parametrize("blink", [0.0, 1.0])
def test_the_eye_camera_keeps_every_pixel_and_few_splats(blink):
    av = synthetic_avatar()
    w = np.zeros((2, 52), np.float32)
    w[1, arkit_index("eyeBlinkLeft")] = w[1, arkit_index("eyeBlinkRight")] = blink
    share = assert_same_render(av.state("magenta", arkit52=w), av.eye_camera(96))
    assert share < 1.0  # the back of the neck, at least, is out of the eye camera


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), spread=st.floats(0.02, 0.6), sigma=st.floats(1e-4, 0.05))
def test_random_scenes_render_identically_after_culling(seed, spread, sigma):
    rng = np.random.default_rng(seed)
    n = 300
    means = rng.normal(0, spread, (1, n, 3)).astype(np.float32)
    quats = rng.normal(size=(n, 4)).astype(np.float32)
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    scales = (sigma * rng.uniform(0.2, 1.5, (n, 3))).astype(np.float32)
    state = SplatState.from_parts(means, quats, scales, rng.uniform(0.05, 1, n).astype(np.float32),
                                  rng.uniform(0, 1, (n, 3)).astype(np.float32))
    viewmat = np.eye(4, dtype=np.float32)
    viewmat[2, 3] = 0.5  # camera 0.5 m in front of the origin, looking down +z in camera space
    cam = Camera(viewmat, intrinsics_from_fov(40.0, 48, 48), 48, 48)
    assert_same_render(state, cam)


def test_regions_only_gives_the_full_frame_metrics_bit_for_bit():
    """The leak curve's mode renders only the region tiles; every metric and every region pixel of
    every image is the full render's, exactly (the moments render in full, so a curve frame and a
    moment frame agree)."""
    from avatarcheck.gate.evaluate import eye_box, evaluate_frames
    from avatarcheck.head.pose import Pose

    av = synthetic_avatar()
    w = np.zeros((3, 52), np.float32)
    for b, blink in enumerate((0.0, 0.6, 1.0)):
        w[b, arkit_index("eyeBlinkLeft")] = w[b, arkit_index("eyeBlinkRight")] = blink
    cam = av.eye_camera(96)
    full = evaluate_frames(av, Pose(w), cam, "cpu")
    lean = evaluate_frames(av, Pose(w), cam, "cpu", regions_only=True)
    for f, g in zip(full, lean):
        assert f.metrics == g.metrics
        region = f.regions["left"] | f.regions["right"]
        assert region.any() and not region.all()
        assert np.array_equal(f.E[region], g.E[region]) and np.array_equal(f.rgb[region], g.rgb[region])
        assert np.array_equal(f.occluder_alpha[region], g.occluder_alpha[region])
        # away from the region tiles nothing was rendered: the background (white rgb, E 0)
        white = lambda e: (e.rgb[~region] == 1).all(axis=-1).mean()  # noqa: E731
        assert white(g) > 0.5 > white(f)
    # the box is tile-aligned and contains every region pixel
    regions = np.zeros((1, 96, 96), bool)
    regions[0, 20:23, 40:70] = True
    x0, y0, x1, y1 = eye_box(regions, 96, 96)
    assert (x0, y0, x1, y1) == (32, 16, 80, 32) and regions[:, y0:y1, x0:x1].sum() == regions.sum()


def test_without_coverage_the_occluder_is_not_rendered_and_leak_is_unchanged(monkeypatch):
    import avatarcheck.gate.evaluate as evaluate
    from avatarcheck.gate.metrics import COVERAGE_STATS
    from avatarcheck.head.pose import Pose

    av = synthetic_avatar()
    w = np.zeros((2, 52), np.float32)
    w[1, arkit_index("eyeBlinkLeft")] = w[1, arkit_index("eyeBlinkRight")] = 1.0
    cam = av.eye_camera(64)
    full = evaluate.evaluate_frames(av, Pose(w), cam, "cpu", regions_only=True)
    calls = []
    real_render = evaluate.render
    monkeypatch.setattr(evaluate, "render", lambda *a, **k: calls.append(a[0].num_channels) or real_render(*a, **k))
    lean = evaluate.evaluate_frames(av, Pose(w), cam, "cpu", regions_only=True, coverage=False)
    assert calls == [2, 4]  # eyeball shares (one channel per eye) and the magenta main pass; no 1-channel occluder
    for f, g in zip(full, lean):
        assert g.occluder_alpha is None
        for eye in f.metrics:
            assert set(f.metrics[eye]) - set(g.metrics[eye]) == COVERAGE_STATS
            assert {k: v for k, v in f.metrics[eye].items() if k not in COVERAGE_STATS} == g.metrics[eye]
