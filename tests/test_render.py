"""End-to-end splat renders of the synthetic avatar: magenta shader, blink occlusion, backends."""

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from avatarcheck.errors import InputError
from avatarcheck.render.api import render
from tests.conftest import arkit_vector

SIZE = 160


@pytest.fixture(scope="module")
def avatar():
    from avatarcheck.avatar import synthetic_avatar

    return synthetic_avatar()


@pytest.fixture(scope="module")
def camera(avatar):
    return avatar.eye_camera(SIZE)


def eye_windows(avatar, camera, half: int = 6):
    """Pixel windows around each projected eyeball centre (computed from the mesh, not the render)."""
    out = {}
    for side, j in (("left", 3), ("right", 4)):
        c = avatar.head.J_regressor[j] @ avatar.head.v_template
        front = c + np.array([0.0, 0.0, 0.012])  # the cornea pole
        u, v = np.round(camera.project(front[None])[0]).astype(int)
        out[side] = (slice(v - half, v + half), slice(u - half, u + half))
    return out


def blink(w):
    return arkit_vector(eyeBlinkLeft=w, eyeBlinkRight=w)[0]


def test_magenta_eyes_open_visible_and_closed_hidden(avatar, camera):
    arkit = np.stack([blink(0.0), blink(1.0), blink(0.5)])
    r = render(avatar.state("magenta", arkit52=arkit), camera, "cpu")
    E = r.extra[..., 0]
    for side, win in eye_windows(avatar, camera).items():
        assert (E[0][win] > 0.9).sum() >= 4, f"{side} eye not visible with the eyes open"
        assert E[1][win].max() < 0.1, f"{side} eyeball shows through the closed lid"
        assert 0 < (E[2][win] > 0.5).sum() < (E[0][win] > 0.5).sum()
    # Magenta where the eyeball shows, skin elsewhere; E never outside [0, 1].
    open_rgb = r.rgb[0][E[0] > 0.99]
    np.testing.assert_allclose(open_rgb, np.tile([1.0, 0.0, 1.0], (len(open_rgb), 1)), atol=0.02)
    assert E.min() >= 0 and E.max() <= 1.0 + 1e-6
    # The eyeball shows only around the eyes.
    near_eyes = np.zeros((SIZE, SIZE), bool)
    for win in eye_windows(avatar, camera, half=SIZE // 6).values():
        near_eyes[win] = True
    assert (E[0] > 0.05)[~near_eyes].sum() == 0


def test_occluder_coverage_closes_at_blink(avatar, camera):
    arkit = np.stack([blink(0.0), blink(1.0)])
    state = avatar.state("rgb", arkit52=arkit, drop_eyeballs=True)
    r = render(state, camera, "cpu")
    # Without the back of the skull (seen through the opening), the open eye is a hole.
    front = avatar.head_sub.v_template[~avatar.cloud.mask("eyeball_left", "eyeball_right"), 2] > 0.0
    r_front = render(state.select(front), camera, "cpu")
    for win in eye_windows(avatar, camera).values():
        assert r_front.alpha[0][win].min() < 0.5
        assert r_front.alpha[1][win].min() > 0.99  # the closed lid alone covers it
        assert r.alpha[1][win].min() > 0.99
    assert r.extra.max() == 0  # no eyeball splats left: E is 0 everywhere


def test_render_is_deterministic_and_batched(avatar, camera):
    arkit = np.stack([blink(0.0), blink(0.7)])
    a = render(avatar.state("magenta", arkit52=arkit), camera, "cpu")
    b = render(avatar.state("magenta", arkit52=arkit[1:]), camera, "cpu")
    np.testing.assert_array_equal(a.colors[1], b.colors[0])
    np.testing.assert_array_equal(a.alpha[1], b.alpha[0])
    assert a.colors.dtype == np.float32 and a.colors.shape == (2, SIZE, SIZE, 4)


def test_background_and_backend_errors(avatar, camera):
    s = avatar.state("rgb", arkit52=blink(0.0)[None])
    r = render(s, camera, "cpu", background=np.array([0.0, 0.0, 0.0, 0.0]))
    assert r.rgb[0, 0, 0].max() == 0.0  # corner is background
    with pytest.raises(InputError, match="background"):
        render(s, camera, "cpu", background=np.zeros(3))
    with pytest.raises(InputError, match="backend"):
        render(s, camera, "metal")


def test_cuda_backend_refused_without_gpu(avatar, camera):
    import torch

    if torch.cuda.is_available():
        pytest.skip("has CUDA")
    with pytest.raises(InputError, match="CUDA"):
        render(avatar.state("rgb", arkit52=blink(0.0)[None]), camera, "cuda")


@pytest.mark.cuda
def test_gsplat_cuda_matches_cpu_reference(avatar):
    """Parity on the synthetic head: RGB, alpha and E from gsplat's CUDA kernels vs ours."""
    cam = avatar.camera(512)
    arkit = np.stack([blink(0.0), blink(1.0), blink(0.5)])
    s = avatar.state("magenta", arkit52=arkit)
    cpu = render(s, cam, "cpu")
    gpu = render(s, cam, "cuda")
    diff = np.abs(cpu.colors - gpu.colors)
    adiff = np.abs(cpu.alpha - gpu.alpha)
    print(f"parity: colors max {diff.max():.2e} mean {diff.mean():.2e}; alpha max {adiff.max():.2e} "
          f"mean {adiff.mean():.2e}; E max {diff[..., 3].max():.2e}")
    assert diff.mean() < 1e-5 and adiff.mean() < 1e-5
    assert diff.max() < 2e-2 and adiff.max() < 2e-2  # single threshold-straddling pixels at most


def test_cli_render_sweep(tmp_path):
    from avatarcheck.cli import app

    r = CliRunner().invoke(app, ["render", "--out", str(tmp_path), "--size", "128", "--sweep", "eyeBlinkLeft",
                                 "--frames", "3", "--shader", "magenta", "--backend", "cpu"])
    assert r.exit_code == 0, r.output
    imgs = [np.asarray(Image.open(tmp_path / f"frame_{i:04d}.png")).astype(int) for i in range(3)]
    magenta = [((im[..., 0] > 200) & (im[..., 1] < 60) & (im[..., 2] > 200)).sum() for im in imgs]
    assert magenta[0] > magenta[2] > 0  # the left eye closes, the right stays open
    assert not list(tmp_path.glob(".*.tmp"))
    bad = CliRunner().invoke(app, ["render", "--out", str(tmp_path), "--sweep", "eyeBlinkMiddle"])
    assert bad.exit_code == 2 and "eyeBlinkMiddle" in bad.output


def test_cpu_backend_honours_the_camera_planes(avatar, camera):
    import dataclasses

    s = avatar.state("rgb", arkit52=blink(0.0)[None])
    too_near_far = dataclasses.replace(camera, far=0.5 * float(np.linalg.norm(camera.position)))
    assert render(s, too_near_far, "cpu").alpha.max() == 0.0  # everything beyond the far plane
    assert render(s, camera, "cpu").alpha.max() > 0.99
