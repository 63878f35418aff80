"""Any edited mesh: per-face deformation gradients -> per-vertex Jacobians, ratio and basis (edit/mesh_edit.py).

The mesh route only sees the edit at the vertices; the analytic field route knows D everywhere. The
tolerances below were measured on the embedded head (pear s = 2 chibi; the anime-eyes gate edit) and
are stated with some headroom:

=====================================  ===========  ===========  =========
quantity                               chibi pear   anime eyes   asserted
=====================================  ===========  ===========  =========
scale ratio                            identical    identical    equal
J tangential part, rel., median        0.0004       0.0002       <= 0.002
J tangential part, rel., 99th pct      0.052        0.059        <= 0.08
basis D(v + b) - D(v), rel. (all 52)   0.048        0.029        <= 0.07
eyeBlink rows, rel. ("extend")         0.054        0.073        <= 0.1
eyeBlink rows, rel. ("linear", J b)    0.104        0.187        (the local Jacobian is not enough)
=====================================  ===========  ===========  =========

The normal column of J is not observable from a surface (tested exactly only for similarities).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from avatarcheck.arkit import arkit_index
from avatarcheck.avatar import synthetic_avatar
from avatarcheck.edit.mesh_edit import (
    MeshDeformation,
    bake_mesh,
    face_deformation_gradients,
    mesh_deformation,
    vertex_jacobians,
)
from avatarcheck.edit.registry import bake_edit
from avatarcheck.errors import InputError
from avatarcheck.geometry.mesh import vertex_normals


@pytest.fixture(scope="module")
def av():
    return synthetic_avatar()


def _tangential_error(av, J: np.ndarray, Jm: np.ndarray) -> np.ndarray:
    n = vertex_normals(av.head_sub.v_template, av.topology.faces)
    P = np.eye(3)[None] - n[:, :, None] * n[:, None, :]
    return np.linalg.norm((J - Jm) @ P, axis=(1, 2)) / np.linalg.norm(J, axis=(1, 2))


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# -- exact cases ----------------------------------------------------------------------------------

@settings(max_examples=20, deadline=None)
@given(st.floats(0.5, 2.0), st.tuples(*[st.floats(-np.pi, np.pi)] * 3), st.tuples(*[st.floats(-0.1, 0.1)] * 3))
def test_a_similarity_is_recovered_exactly_per_face(scale, angles, shift):
    rng = np.random.default_rng(0)
    v = rng.normal(size=(30, 3))
    faces = np.array([[i, i + 1, i + 2] for i in range(0, 27, 3)])
    A = scale * Rotation.from_euler("xyz", angles).as_matrix()
    grads, area = face_deformation_gradients(v, v @ A.T + np.array(shift), faces)
    assert (area > 0).all()
    np.testing.assert_allclose(grads, np.broadcast_to(A, grads.shape), atol=1e-10)


@given(st.lists(st.floats(0.5, 2.0), min_size=9, max_size=9))
def test_an_affine_map_is_recovered_on_the_tangent_plane(entries):
    A = np.array(entries).reshape(3, 3) + 2 * np.eye(3)
    assume(abs(np.linalg.det(A)) >= 0.1)  # near-singular: a rejected draw, not a pass
    rng = np.random.default_rng(1)
    v = rng.normal(size=(3, 3))
    (grad,), _ = face_deformation_gradients(v, v @ A.T, np.array([[0, 1, 2]]), normal="unit")
    e = np.stack([v[1] - v[0], v[2] - v[0]], axis=1)
    np.testing.assert_allclose(grad @ e, A @ e, atol=1e-10)


def test_similarity_of_the_whole_head_gives_exact_assets(av):
    A = 1.3 * Rotation.from_euler("y", 0.4).as_matrix()
    edited = av.head_sub.v_template.astype(np.float64) @ A.T + 0.01
    assets = bake_mesh(av, edited)
    np.testing.assert_allclose(assets.jacobians, np.broadcast_to(A, assets.jacobians.shape), atol=1e-5)
    np.testing.assert_allclose(assets.ratio, 1.3, rtol=1e-5)
    # an affine D moves every blendshape by A b, whichever vertex the extension starts from
    expected = np.einsum("ij,kvj->kvi", A, av.head.arkit_basis.astype(np.float64))
    np.testing.assert_allclose(assets.basis, expected, atol=1e-6)


def test_mesh_deformation_is_exact_at_the_vertices(av):
    a = bake_edit(av, "chibi", {"preset": "pear", "strength": 2.0})
    d = mesh_deformation(av, a.edited_sub)
    canon = av.head_sub.v_template
    np.testing.assert_allclose(d(canon), a.edited_sub, atol=1e-7)
    np.testing.assert_array_equal(d.jacobian(canon[:5]), d.jacobians[:5])


# -- the mesh route reproduces the field route -------------------------------------------------------

@pytest.mark.parametrize("kind, params", [("chibi", {"preset": "pear", "strength": 2.0}), ("anime_eyes", {})])
def test_mesh_route_reproduces_the_analytic_field_route(av, kind, params):
    field = bake_edit(av, kind, params)
    # the sculpt is the field's raw shape; both routes then make the eyeballs rigid the same way
    sculpt = bake_edit(av, kind, params, rigid_eyes=False).edited_sub
    coarse = sculpt[:av.head.num_vertices]  # a user's sculpt at LAM's coarse resolution ...
    mesh = bake_mesh(av, sculpt)
    np.testing.assert_array_equal(mesh.ratio, field.ratio)
    err = _tangential_error(av, field.jacobians.astype(np.float64), mesh.jacobians.astype(np.float64))
    assert np.median(err) <= 0.002 and np.percentile(err, 99) <= 0.08
    assert _rel(mesh.basis, field.basis) <= 0.07
    blink = [arkit_index("eyeBlinkLeft"), arkit_index("eyeBlinkRight")]
    assert _rel(mesh.basis[blink], field.basis[blink]) <= 0.1
    # ... is subdivided the way LAM does: midpoints, so the coarse route differs only off the coarse vertices
    from_coarse = bake_mesh(av, coarse, rigid_eyes=False)
    np.testing.assert_array_equal(from_coarse.edited_sub[:len(coarse)], coarse)


def test_the_local_jacobian_alone_misses_a_local_edit(av):
    """A closing lid moves from the anime eye's falloff onto its enlarged plateau: J(v) b misses that."""
    field = bake_edit(av, "anime_eyes", {}, rigid_eyes=False)
    blink = [arkit_index("eyeBlinkLeft"), arkit_index("eyeBlinkRight")]
    extend = bake_mesh(av, field.edited_sub, basis="extend", rigid_eyes=False)
    linear = bake_mesh(av, field.edited_sub, basis="linear", rigid_eyes=False)
    assert _rel(linear.basis[blink], field.basis[blink]) > 2 * _rel(extend.basis[blink], field.basis[blink])


# -- errors and the command -------------------------------------------------------------------------------

def test_wrong_vertex_count_is_an_input_error(av):
    with pytest.raises(InputError, match="vertices"):
        bake_mesh(av, np.zeros((10, 3)))
    with pytest.raises(InputError, match="basis"):
        bake_mesh(av, av.head_sub.v_template, basis="quadratic")


def test_a_vertex_without_faces_is_an_input_error():
    v = np.random.default_rng(2).normal(size=(4, 3))
    with pytest.raises(InputError, match="non-degenerate face"):
        vertex_jacobians(v, v, np.array([[0, 1, 2]]))


def test_bake_cli_takes_an_edited_mesh(av, tmp_path):
    from typer.testing import CliRunner

    from avatarcheck.cli import app
    from avatarcheck.io.obj import write_obj

    field = bake_edit(av, "chibi", {"preset": "pear", "strength": 2.0})
    obj = tmp_path / "sculpt.obj"
    write_obj(obj, field.edited_sub[:av.head.num_vertices], av.head.faces)  # coarse: subdivided on read
    out = tmp_path / "assets"
    r = CliRunner().invoke(app, ["bake", "--mesh", str(obj), "--out", str(out), "--jacobians"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "mesh" and set(manifest["files"]) == {"xyz", "arkit_bs", "scale_ratio", "jacobians"}
    assert np.load(out / manifest["files"]["jacobians"]).shape == (av.head_sub.num_vertices, 3, 3)
    r = CliRunner().invoke(app, ["bake", "--mesh", str(tmp_path / "missing.obj"), "--out", str(tmp_path / "x")])
    assert r.exit_code != 0


def test_mesh_deformation_rejects_bad_points(av):
    d = MeshDeformation(np.eye(3), np.eye(3), np.broadcast_to(np.eye(3), (3, 3, 3)).copy())
    with pytest.raises(InputError, match="points"):
        d(np.array([[np.nan, 0, 0]]))


def test_a_sculpt_in_a_gate_file_bakes_like_the_mesh_route(av, tmp_path):
    from avatarcheck.io.obj import write_obj

    field = bake_edit(av, "anime_eyes", {})
    obj = tmp_path / "sculpt.obj"
    write_obj(obj, field.edited_sub, av.head_sub.faces)
    via_kind = bake_edit(av, "mesh", {"path": str(obj)}, name="sculpt")
    direct = bake_mesh(av, field.edited_sub)
    for a, b in ((via_kind.edited_sub, direct.edited_sub), (via_kind.ratio, direct.ratio),
                 (via_kind.jacobians, direct.jacobians), (via_kind.basis, direct.basis)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(InputError, match=r"sculpt\.normal"):
        bake_edit(av, "mesh", {"path": str(obj), "normal": "bent"}, name="sculpt")
