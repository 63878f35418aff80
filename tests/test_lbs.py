"""LBS and the head layer: properties checked against independent numpy/scipy math."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.transform import Rotation

from avatarcheck.errors import InputError
from avatarcheck.head.lbs import batch_rodrigues

finite = st.floats(-3.0, 3.0, allow_nan=False, width=32)
rotvec = arrays(np.float64, 3, elements=st.floats(-3.0, 3.0, allow_nan=False))


@given(arrays(np.float64, (5, 3), elements=st.floats(-3.0, 3.0, allow_nan=False)))
def test_rodrigues_matches_scipy(rv):
    got = batch_rodrigues(torch.from_numpy(rv)).numpy()
    want = Rotation.from_rotvec(rv).as_matrix()
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_zero_pose_is_identity(head, layer):
    out = layer(np.zeros((2, 52), np.float32))
    assert out.vertices.shape == (2, head.num_vertices, 3)
    assert out.vertices.dtype == torch.float32
    np.testing.assert_allclose(out.vertices[0].numpy(), head.v_template, atol=1e-6)


@given(arrays(np.float32, 52, elements=st.floats(0.0, 1.0, width=32)),
       arrays(np.float32, 10, elements=finite))
def test_blendshapes_add_linearly_in_zero_pose(head, layer, weights, shape):
    out = layer(weights[None], shape=shape[None]).vertices[0].numpy()
    want = (head.v_template.astype(np.float64)
            + np.einsum("k,kvd->vd", weights.astype(np.float64), head.arkit_basis)
            + np.einsum("vdk,k->vd", head.shapedirs.astype(np.float64), shape))
    np.testing.assert_allclose(out, want, atol=2e-6)


@given(rotvec, arrays(np.float64, 3, elements=st.floats(-0.5, 0.5, allow_nan=False)))
def test_global_rotation_is_rigid_about_root(head, layer, rv, trans):
    out = layer(np.zeros((1, 52)), global_rot=rv[None], translation=trans[None])
    root = (head.J_regressor[0].astype(np.float64) @ head.v_template)
    want = (head.v_template - root) @ Rotation.from_rotvec(rv).as_matrix().T + root + trans
    np.testing.assert_allclose(out.vertices[0].numpy(), want, atol=2e-5)


@given(rotvec, rotvec, rotvec)
def test_rigid_poses_preserve_edge_lengths(head, layer, g, neck, eyes):
    # Neck rotation keeps the head rigid except where skin blends into the neck base and jaw;
    # the eyeballs are fully bound, so their edges are exactly preserved.
    out = layer(np.zeros((1, 52)), global_rot=g[None], neck=neck[None],
                eyes=np.concatenate([eyes, -eyes])[None]).vertices[0].numpy()
    f = head.faces
    rest = np.linalg.norm(head.v_template[f[:, 1]] - head.v_template[f[:, 0]], axis=1)
    posed = np.linalg.norm(out[f[:, 1]] - out[f[:, 0]], axis=1)
    w = head.lbs_weights
    rigid_face = (w[f].max(axis=2) > 1 - 1e-6).all(axis=1)  # all corners on one joint
    same_joint = (w[f].argmax(axis=2) == w[f[:, :1]].argmax(axis=2)).all(axis=1)
    sel = rigid_face & same_joint
    assert sel.sum() > 0.5 * len(f)
    np.testing.assert_allclose(posed[sel], rest[sel], atol=2e-6)


@given(rotvec)
def test_eye_rotation_moves_only_its_eyeball_about_its_centre(head, layer, rv):
    out = layer(np.zeros((1, 52)), eyes=np.concatenate([rv, np.zeros(3)])[None]).vertices[0].numpy()
    left = head.vertex_set("eyeball_left")
    centre = head.J_regressor[3].astype(np.float64) @ head.v_template
    want = (head.v_template[left] - centre) @ Rotation.from_rotvec(rv).as_matrix().T + centre
    np.testing.assert_allclose(out[left], want, atol=2e-6)
    others = np.setdiff1d(np.arange(head.num_vertices), left)
    np.testing.assert_allclose(out[others], head.v_template[others], atol=1e-7)


def test_jaw_rotation_moves_chin_not_forehead(head, layer):
    out = layer(np.zeros((1, 52)), jaw=np.array([[0.3, 0.0, 0.0]])).vertices[0].numpy()
    moved = np.linalg.norm(out - head.v_template, axis=1)
    jaw = head.vertex_set("jaw")
    forehead = np.nonzero(head.v_template[:, 1] > 0.06)[0]
    assert moved[jaw].mean() > 5e-3
    assert moved[forehead].max() < 1e-7
    assert (out[jaw, 1] - head.v_template[jaw, 1]).mean() < 0  # positive x-rotation opens downwards


def test_batched_frames_are_independent(layer):
    a = np.random.default_rng(0).uniform(0, 1, (3, 52)).astype(np.float32)
    rots = np.random.default_rng(1).normal(0, 0.3, (3, 3))
    batch = layer(a, global_rot=rots).vertices
    for i in range(3):
        single = layer(a[i:i + 1], global_rot=rots[i:i + 1]).vertices[0]
        torch.testing.assert_close(batch[i], single)


@pytest.mark.parametrize("width", [51, 53, 100])
def test_wrong_arkit_width_is_rejected(layer, width):
    with pytest.raises(InputError, match=r"arkit52.*\(B, 52\)"):
        layer(np.zeros((1, width)))


@pytest.mark.parametrize("field,value,match", [
    ("global_rot", np.zeros((1, 4)), r"global_rot.*\(B, 3\)"),
    ("eyes", np.zeros((1, 3)), r"eyes.*\(B, 6\)"),
    ("shape", np.zeros((1, 11)), r"shape.*at most 10"),
    ("neck", np.zeros((2, 3)), r"neck.*batch size 1"),
    ("jaw", np.full((1, 3), np.nan), r"jaw.*finite"),
    ("expression", np.zeros((1, 5)), r"expression.*no PCA"),
])
def test_bad_inputs_name_the_field(layer, field, value, match):
    with pytest.raises(InputError, match=match):
        layer(np.zeros((1, 52)), **{field: value})


def test_read_only_weights_are_copied_not_shared(layer):
    # A Take's arrays are read-only; a tensor sharing their memory would be writable (torch warns).
    w = np.random.default_rng(2).uniform(0, 1, (2, 52)).astype(np.float32)
    w.flags.writeable = False
    t = layer._coeffs(w, "arkit52", 52, None)
    assert t.data_ptr() != w.ctypes.data
    assert np.array_equal(t.numpy(), w)
    writable = w.copy()
    assert layer._coeffs(writable, "arkit52", 52, None).data_ptr() == writable.ctypes.data  # no copy needed
    torch.testing.assert_close(layer(w).vertices, layer(writable).vertices, rtol=0, atol=0)


def test_nan_weights_rejected(layer):
    a = np.zeros((1, 52))
    a[0, 3] = np.nan
    with pytest.raises(InputError, match="arkit52.*finite"):
        layer(a)


@pytest.mark.cuda
def test_cuda_forward_matches_cpu(head, layer):
    from avatarcheck.head.layer import HeadLayer

    gpu = HeadLayer(head, device="cuda")
    rng = np.random.default_rng(3)
    w = rng.uniform(0, 1, (8, 52)).astype(np.float32)
    rot = rng.normal(0, 0.3, (8, 3)).astype(np.float32)
    eyes = rng.normal(0, 0.2, (8, 6)).astype(np.float32)
    cpu_v = layer(w, global_rot=rot, eyes=eyes).vertices
    gpu_v = gpu(torch.from_numpy(w).cuda(), global_rot=rot, eyes=eyes).vertices
    assert gpu_v.device.type == "cuda"
    torch.testing.assert_close(gpu_v.cpu(), cpu_v, atol=1e-5, rtol=1e-5)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 300), st.integers(0, 2**31 - 1), st.sampled_from([torch.float32, torch.float64]))
def test_fused_skinning_apply_is_torchs_expression_bit_for_bit(B, V, seed, dtype):
    """The numba apply in ``skin_vertices`` against the torch expression it replaces (autograd on
    forces the torch path): equal bits, float32 and float64, varied magnitudes."""
    from unittest import mock

    from avatarcheck.head import lbs
    from avatarcheck.head.lbs import skin_vertices

    g = torch.Generator().manual_seed(seed)
    J = 5
    vertices = (torch.randn(B, V, 3, generator=g, dtype=torch.float64) * 10 ** torch.randint(-3, 3, (B, V, 1), generator=g)).to(dtype)
    weights = torch.rand(V, J, generator=g, dtype=torch.float64).to(dtype)
    A = torch.randn(B, J, 4, 4, generator=g, dtype=torch.float64).to(dtype)
    with mock.patch.object(lbs, "FUSED_MIN_VERTICES", 0):  # the fused path at any size
        fused, linear = skin_vertices(vertices, weights, A)
    with torch.enable_grad():
        plain, _ = skin_vertices(vertices, weights, A.clone().requires_grad_(True))
    assert fused.dtype == dtype and fused.shape == (B, V, 3)
    assert torch.equal(fused, plain.detach())
    assert linear.shape == (B, V, 3, 3)
