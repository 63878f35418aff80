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
