"""Splat cloud: validation, 3DGS PLY round trip, binding modes, the trained-like cloud."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from plyfile import PlyData, PlyElement
from scipy.spatial.transform import Rotation

from avatarcheck.errors import InputError
from avatarcheck.geometry.rotations import quat_to_matrix
from avatarcheck.splats.binding import pose_splats
from avatarcheck.splats.cloud import LABEL_NAMES, SplatCloud, rgb_to_sh
from avatarcheck.splats.ply import read_ply, write_ply


def random_cloud(n: int, degree: int, seed: int) -> SplatCloud:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, 4))
    return SplatCloud(
        offsets=rng.normal(0, 0.01, (n, 3)), scales=rng.uniform(1e-4, 1e-2, (n, 3)),
        quats=q / np.linalg.norm(q, axis=1, keepdims=True), opacities=rng.uniform(0.01, 0.99, n),
        sh=rng.normal(0, 0.5, (n, (degree + 1) ** 2, 3)), labels=rng.integers(0, len(LABEL_NAMES), n))


@pytest.fixture(scope="module")
def avatar():
    from avatarcheck.avatar import synthetic_avatar

    return synthetic_avatar()


@given(st.integers(1, 50), st.integers(0, 3), st.integers(0, 999), st.booleans())
def test_ply_round_trip(tmp_path_factory, n, degree, seed, labels):
    path = tmp_path_factory.mktemp("ply") / "c.ply"
    c = random_cloud(n, degree, seed)
    anchors = np.random.default_rng(seed + 1).normal(size=(n, 3)).astype(np.float32)
    write_ply(path, c, anchors, with_labels=labels)
    back = read_ply(path, anchors)
    np.testing.assert_allclose(back.offsets, c.offsets, atol=1e-6)
    for f in ("scales", "quats", "opacities", "sh"):
        np.testing.assert_allclose(getattr(back, f), getattr(c, f), rtol=1e-5, atol=1e-6, err_msg=f)
    np.testing.assert_array_equal(back.labels, c.labels if labels else 0)


def test_ply_stores_3dgs_conventions(tmp_path):
    c = random_cloud(5, 1, 0)
    anchors = np.zeros((5, 3), np.float32)
    write_ply(tmp_path / "c.ply", c, anchors)
    v = PlyData.read(str(tmp_path / "c.ply"))["vertex"].data
    names = list(v.dtype.names)
    assert names[:6] == ["x", "y", "z", "nx", "ny", "nz"] and names[6:9] == ["f_dc_0", "f_dc_1", "f_dc_2"]
    assert names[9:18] == [f"f_rest_{i}" for i in range(9)] and names[18] == "opacity"
    np.testing.assert_allclose(v["scale_1"], np.log(c.scales[:, 1]), rtol=1e-6)
    np.testing.assert_allclose(1 / (1 + np.exp(-v["opacity"])), c.opacities, rtol=1e-5)
    np.testing.assert_allclose(v["rot_0"], c.quats[:, 0])  # w first
    # f_rest channel-major: f_rest_3 is the green channel's first higher-order coefficient.
    np.testing.assert_allclose(v["f_rest_3"], c.sh[:, 1, 1])


def _write_raw(path, **cols):
    n = len(next(iter(cols.values())))
    data = np.empty(n, dtype=[(k, "f4") for k in cols])
    for k, col in cols.items():
        data[k] = col
    PlyData([PlyElement.describe(data, "vertex")]).write(str(path))


def _lam_columns(n):
    cols = {k: np.zeros(n) for k in ("x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                                     "scale_0", "scale_1", "scale_2", "rot_1", "rot_2", "rot_3")}
    cols["rot_0"] = np.ones(n)
    cols["scale_0"] = cols["scale_1"] = cols["scale_2"] = np.full(n, np.log(0.005))
    return cols


def test_reads_lam_17_property_ply(tmp_path):
    _write_raw(tmp_path / "lam.ply", **_lam_columns(4))
    c = read_ply(tmp_path / "lam.ply", np.tile([0.0, 1.6, 0.0], (4, 1)))  # body-frame anchors: offsets detected
    assert c.sh_degree == 0 and (c.labels == 0).all()
    np.testing.assert_array_equal(c.offsets, 0)
    np.testing.assert_allclose(c.scales, 0.005, rtol=1e-6)
    np.testing.assert_allclose(c.opacities, 0.5)


@pytest.mark.parametrize("mutate,match", [
    (lambda c: c.pop("opacity"), "opacity"),
    (lambda c: c.__setitem__("scale_1", np.array([0, np.nan, 0, 0])), "scale_1.*finite.*vertex 1"),
    (lambda c: c.__setitem__("f_rest_0", np.zeros(4)), "f_rest"),
    (lambda c: [c.__setitem__(k, np.zeros(4)) for k in ("rot_0",)], "non-zero quaternions"),
])
def test_bad_ply_is_a_clear_error(tmp_path, mutate, match):
    cols = _lam_columns(4)
    mutate(cols)
    _write_raw(tmp_path / "bad.ply", **cols)
    with pytest.raises(InputError, match=match) as err:
        read_ply(tmp_path / "bad.ply", np.zeros((4, 3)))
    assert "bad.ply" in str(err.value)


def test_truncated_ply_and_wrong_count(tmp_path):
    c = random_cloud(30, 0, 1)
    write_ply(tmp_path / "c.ply", c, np.zeros((30, 3)))
    with pytest.raises(InputError, match="vertex count.*30"):
        read_ply(tmp_path / "c.ply", np.zeros((31, 3)))
    data = (tmp_path / "c.ply").read_bytes()
    (tmp_path / "t.ply").write_bytes(data[: len(data) - 100])
    with pytest.raises(InputError, match="t.ply"):
        read_ply(tmp_path / "t.ply", np.zeros((30, 3)))
    (tmp_path / "g.ply").write_bytes(b"garbage\x00\x01")
    with pytest.raises(InputError, match="g.ply"):
        read_ply(tmp_path / "g.ply", np.zeros((30, 3)))


@pytest.mark.parametrize("field,value,match", [
    ("scales", lambda c: -c.scales, "scales.*positive"),
    ("opacities", lambda c: c.opacities + 1.5, "opacities.*\\[0, 1\\]"),
    ("quats", lambda c: 2 * c.quats, "unit quaternions"),
    ("sh", lambda c: c.sh[:, :, :2], "sh.*shape"),
    ("offsets", lambda c: np.full_like(c.offsets, np.nan), "offsets.*finite"),
    ("labels", lambda c: c.labels[:-1], "labels.*shape"),
])
def test_cloud_validation(field, value, match):
    c = random_cloud(6, 0, 2)
    with pytest.raises(InputError, match=match):
        c.replace(**{field: value(c)})


def test_rgb_sh_inverse():
    rgb = np.random.default_rng(0).uniform(0, 1, (7, 3))
    c = random_cloud(7, 0, 3).replace(sh=rgb_to_sh(rgb))
    np.testing.assert_allclose(c.rgb, rgb, atol=1e-6)


def test_trained_like_cloud_is_density_calibrated(avatar):
    sub, cloud = avatar.head_sub, avatar.cloud
    assert cloud.num_splats == sub.num_vertices
    # Recompute one vertex's mean incident edge from the faces directly.
    i = 1234
    nbrs = {int(x) for f in sub.faces[(sub.faces == i).any(axis=1)] for x in f} - {i}
    mean_edge = np.mean([np.linalg.norm(sub.v_template[j] - sub.v_template[i]) for j in nbrs])
    from avatarcheck.splats.trained import TrainedCloudParams

    k = TrainedCloudParams().density_scale
    np.testing.assert_allclose(cloud.scales[i, :2], k * mean_edge, rtol=1e-5)
    np.testing.assert_allclose(cloud.scales[:, 2], TrainedCloudParams().normal_ratio * cloud.scales[:, 0], rtol=1e-6)
    # The flat axis (third column of the rotation) is the surface normal: outward on the eyeball.
    R = quat_to_matrix(torch.from_numpy(cloud.quats)).numpy()
    eye = sub.vertex_set("eyeball_left")
    centre = sub.J_regressor[3] @ sub.v_template
    radial = sub.v_template[eye] - centre
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    assert (np.einsum("ij,ij->i", R[eye, :, 2], radial) > 0.95).all()
    assert (cloud.labels[eye] == LABEL_NAMES.index("eyeball_left")).all()
    assert (cloud.labels[sub.vertex_set("lid_upper_left")] == LABEL_NAMES.index("lid")).all()


def test_lam_binding_moves_centres_only(avatar):
    rng = np.random.default_rng(0)
    cloud = avatar.cloud.replace(offsets=rng.normal(0, 1e-3, avatar.cloud.offsets.shape).astype(np.float32))
    rv = np.array([[0.2, -0.5, 0.1]], np.float32)
    posed = pose_splats(avatar.layer, cloud, "lam", arkit52=np.zeros((1, 52)), global_rot=rv)
    np.testing.assert_array_equal(posed.quats[0].numpy(), cloud.quats)
    np.testing.assert_array_equal(posed.scales[0].numpy(), cloud.scales)
    # Centres: anchor + offset rotated rigidly about the root joint.
    root = avatar.head.J_regressor[0] @ avatar.head.v_template
    want = (avatar.head_sub.v_template + cloud.offsets - root) @ Rotation.from_rotvec(rv[0]).as_matrix().T + root
    np.testing.assert_allclose(posed.means[0].numpy(), want, atol=2e-6)


@given(st.tuples(*[st.floats(-2, 2)] * 3))
def test_rigid_binding_rotates_every_covariance_exactly(avatar, rv):
    rv = np.array([rv], np.float32)
    posed = pose_splats(avatar.layer, avatar.cloud, "rigid", arkit52=np.zeros((1, 52)), global_rot=rv)
    R = Rotation.from_rotvec(rv[0].astype(np.float64)).as_matrix()
    M0 = quat_to_matrix(torch.from_numpy(avatar.cloud.quats).double()).numpy() * avatar.cloud.scales[:, None, :]
    M1 = quat_to_matrix(posed.quats[0].double()).numpy() * posed.scales[0].numpy()[:, None, :]
    cov0 = M0 @ M0.transpose(0, 2, 1)
    cov1 = M1 @ M1.transpose(0, 2, 1)
    np.testing.assert_allclose(cov1, R @ cov0 @ R.T, atol=1e-9)


def test_binding_errors(avatar):
    with pytest.raises(InputError, match="binding"):
        pose_splats(avatar.layer, avatar.cloud, "loose", arkit52=np.zeros((1, 52)))
    small = random_cloud(10, 0, 0)
    with pytest.raises(InputError, match="splat count"):
        pose_splats(avatar.layer, small, arkit52=np.zeros((1, 52)))


# --- hostile and careless PLY files (audit D16, D18) ----------------------------------------------


def _write_typed(path, n=2, label=None, text=False, **overrides):
    """A LAM-style PLY with an optional ``label`` column of the given numpy dtype and values."""
    cols = _lam_columns(n)
    cols.update(overrides)
    dtype = [(k, "f4") for k in cols] + ([("label", label[0])] if label else [])
    data = np.empty(n, dtype=dtype)
    for k, col in cols.items():
        data[k] = col
    if label:
        data["label"] = label[1]
    PlyData([PlyElement.describe(data, "vertex")], text=text).write(str(path))


def test_absurd_scales_refused(tmp_path):
    # D16: scale_* = 20 (sigma 4.85e8 m) used to load.
    _write_typed(tmp_path / "s.ply", scale_1=np.array([np.log(0.005), 20.0]))
    with pytest.raises(InputError) as err:
        read_ply(tmp_path / "s.ply", np.zeros((2, 3)))
    assert err.value.field == "scale_1" and "vertex 1" in str(err.value) and f"{np.exp(20.0):.3g}" in str(err.value)
    _write_typed(tmp_path / "ok.ply", scale_0=np.full(2, np.log(0.9)))  # just under a metre: fine
    np.testing.assert_allclose(read_ply(tmp_path / "ok.ply", np.zeros((2, 3)), layout="lam").scales[:, 0], 0.9,
                               rtol=1e-6)


@pytest.mark.parametrize("label", [("i4", [0, 258]), ("f4", [0, 2.7]), ("f4", [np.nan, 1]), ("i4", [-1, 0]),
                                   ("u1", [0, 4])])
def test_labels_must_be_small_non_negative_integers(tmp_path, label):
    # D16: int 258 became 2, float 2.7 became 2, NaN became 0.
    _write_typed(tmp_path / "l.ply", label=label)
    with pytest.raises(InputError) as err:
        read_ply(tmp_path / "l.ply", np.zeros((2, 3)))
    assert err.value.field == "label" and str(tmp_path / "l.ply") in str(err.value)


@pytest.mark.parametrize("label", [("i4", [3, 1]), ("f8", [2.0, 0.0]), ("u1", [1, 1])])
def test_labels_in_any_integral_type_load(tmp_path, label):
    _write_typed(tmp_path / "l.ply", label=label)
    np.testing.assert_array_equal(read_ply(tmp_path / "l.ply", np.zeros((2, 3)), layout="lam").labels, label[1])


def test_binary_count_must_match_body(tmp_path):
    # D16: a header count smaller than the body silently dropped the extra splats.
    _write_typed(tmp_path / "c.ply", n=5)
    raw = (tmp_path / "c.ply").read_bytes()
    (tmp_path / "short.ply").write_bytes(raw.replace(b"element vertex 5", b"element vertex 4"))
    with pytest.raises(InputError, match=r"short\.ply: element count: .*vertex 4"):
        read_ply(tmp_path / "short.ply", np.zeros((4, 3)))
    (tmp_path / "huge.ply").write_bytes(raw.replace(b"element vertex 5", b"element vertex 5000000000000"))
    with pytest.raises(InputError, match=r"huge\.ply: element count"):
        read_ply(tmp_path / "huge.ply", np.zeros((5, 3)))
    _write_typed(tmp_path / "a.ply", n=5, text=True)  # ascii: a count beyond the body is refused too
    raw = (tmp_path / "a.ply").read_bytes()
    (tmp_path / "ahuge.ply").write_bytes(raw.replace(b"element vertex 5", b"element vertex 5000000000000"))
    with pytest.raises(InputError, match=r"ahuge\.ply: element count"):
        read_ply(tmp_path / "ahuge.ply", np.zeros((5, 3)))
    assert read_ply(tmp_path / "a.ply", np.zeros((5, 3)), layout="lam").num_splats == 5
    # ascii with a header count below the body: plyfile would read 4 rows and drop the fifth
    (tmp_path / "ashort.ply").write_bytes(raw.replace(b"element vertex 5", b"element vertex 4"))
    with pytest.raises(InputError, match=r"ashort\.ply: element count: expected 4 rows .*vertex 4.*got 5 rows"):
        read_ply(tmp_path / "ashort.ply", np.zeros((4, 3)))
    # trailing blank lines are not rows
    (tmp_path / "blank.ply").write_bytes(raw + b"\n\n")
    assert read_ply(tmp_path / "blank.ply", np.zeros((5, 3)), layout="lam").num_splats == 5


def test_list_property_and_bad_anchors(tmp_path):
    # D18 (library): a list property for x and non-numeric anchors gave raw ValueErrors.
    (tmp_path / "l.ply").write_bytes(
        b"ply\nformat ascii 1.0\nelement vertex 1\nproperty list uchar float x\nproperty float y\nend_header\n"
        b"2 0 0 0\n")
    with pytest.raises(InputError, match=r"l\.ply: x: .*list"):
        read_ply(tmp_path / "l.ply", np.zeros((1, 3)))
    _write_typed(tmp_path / "ok.ply")
    with pytest.raises(InputError, match="anchors"):
        read_ply(tmp_path / "ok.ply", np.array([["a", "b", "c"]] * 2))
    _write_typed(tmp_path / "far.ply", x=np.array([0, 1e30]))
    with pytest.raises(InputError, match=r"far\.ply: x: expected finite values within .* at vertex 1"):
        read_ply(tmp_path / "far.ply", np.zeros((2, 3)))


def test_cloud_labels_checked_before_the_uint8_cast():
    c = random_cloud(3, 0, 4)
    for bad in (np.array([0, 1, 258]), np.array([0, 1, 2.7]), np.array([0, -1, 1])):
        with pytest.raises(InputError, match="labels"):
            c.replace(labels=bad)
    with pytest.raises(InputError, match="scales.*bool"):
        c.replace(scales=np.ones((3, 3), bool))
