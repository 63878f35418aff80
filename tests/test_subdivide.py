"""Midpoint subdivision in pytorch3d order, checked against a hand-worked case, a naive
dictionary-based re-implementation, geometric invariants, and pytorch3d itself when importable."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial import ConvexHull

from avatarcheck.errors import InputError
from avatarcheck.head.subdivide import (
    subdivide_attributes,
    subdivide_mesh,
    subdivide_vertex_indices,
    subdivided_edges,
    subdivision_topology,
)
from avatarcheck.head.subdivided import subdivide_head


def naive_subdivide(vertices, faces):
    """Straight from pytorch3d's description, with Python dicts and loops."""
    V = len(vertices)
    pairs = sorted({tuple(sorted((int(a), int(b)))) for f in faces for a, b in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0]))},
                   key=lambda e: e[0] * V + e[1])
    mid = {e: V + i for i, e in enumerate(pairs)}
    verts = list(map(tuple, vertices)) + [tuple((np.asarray(vertices[a]) + vertices[b]) / 2) for a, b in pairs]
    blocks = [[], [], [], []]
    for v0, v1, v2 in faces:
        e0 = mid[tuple(sorted((v1, v2)))]
        e1 = mid[tuple(sorted((v2, v0)))]
        e2 = mid[tuple(sorted((v0, v1)))]
        blocks[0].append([v0, e2, e1])
        blocks[1].append([v1, e0, e2])
        blocks[2].append([v2, e1, e0])
        blocks[3].append([e0, e1, e2])
    return np.array(verts), np.array(blocks[0] + blocks[1] + blocks[2] + blocks[3])


def closed_mesh(seed: int, n: int):
    pts = np.random.default_rng(seed).normal(size=(n, 3))
    hull = ConvexHull(pts)
    used = np.unique(hull.simplices)
    remap = np.full(n, -1)
    remap[used] = np.arange(len(used))
    return pts[used], remap[hull.simplices]


def test_single_triangle_by_hand():
    v = np.array([[0.0, 0, 0], [2.0, 0, 0], [0.0, 2, 0]])
    vs, fs = subdivide_mesh(v, np.array([[0, 1, 2]]))
    # Edges (0,1) -> 3, (0,2) -> 4, (1,2) -> 5; e0 = edge(1,2), e1 = edge(2,0), e2 = edge(0,1).
    np.testing.assert_array_equal(vs[3:], [[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    np.testing.assert_array_equal(fs, [[0, 3, 4], [1, 5, 3], [2, 4, 5], [5, 4, 3]])


@given(st.integers(0, 10_000), st.integers(5, 40))
def test_matches_naive_implementation(seed, n):
    v, f = closed_mesh(seed, n)
    f = np.random.default_rng(seed).permutation(f)  # any face order
    got_v, got_f = subdivide_mesh(v, f)
    want_v, want_f = naive_subdivide(v, f)
    np.testing.assert_array_equal(got_f, want_f)
    np.testing.assert_allclose(got_v, want_v, rtol=0, atol=1e-15)


@given(st.integers(0, 10_000), st.integers(5, 40))
def test_closed_mesh_invariants(seed, n):
    v, f = closed_mesh(seed, n)
    topo = subdivision_topology(f, len(v))
    E = len(topo.edges)
    assert len(v) - E + len(f) == 2  # a convex hull is a sphere
    assert topo.num_vertices_sub == len(v) + E and len(topo.faces) == 4 * len(f)
    # Each new edge set: 2 halves per old edge + 3 inner edges per face; Euler stays 2.
    assert len(topo.edges_sub) == 2 * E + 3 * len(f)
    assert topo.num_vertices_sub - len(topo.edges_sub) + len(topo.faces) == 2
    vs = subdivide_attributes(v, topo)

    def normals(verts, faces):
        return np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])

    # Every child is a quarter of its parent, with the parent's orientation.
    parent = np.tile(np.arange(len(f)), 4)
    np.testing.assert_allclose(normals(vs, topo.faces), normals(v, f)[parent] / 4, atol=1e-12)
    # Every subdivided edge is half an old edge or joins two midpoints of one face.
    assert (topo.edges_sub[:, 0] < topo.edges_sub[:, 1]).all()


@given(st.integers(0, 1000), st.floats(-3, 3), st.floats(-3, 3))
def test_attributes_are_linear_and_exact_on_affine_fields(seed, a, b):
    v, f = closed_mesh(seed, 12)
    topo = subdivision_topology(f, len(v))
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(2, len(v), 4, 2))
    np.testing.assert_allclose(subdivide_attributes(a * x + b * y, topo),
                               a * subdivide_attributes(x, topo) + b * subdivide_attributes(y, topo), atol=1e-12)
    # An affine function of position is reproduced exactly at the midpoints.
    M, t = rng.normal(size=(3, 3)), rng.normal(size=3)
    np.testing.assert_allclose(subdivide_attributes(v @ M + t, topo), subdivide_attributes(v, topo) @ M + t,
                               atol=1e-12)
    # Another vertex axis (the (52, V, 3) ARKit layout).
    basis = rng.normal(size=(5, len(v), 3))
    got = subdivide_attributes(basis, topo, vertex_axis=1)
    for k in range(5):
        np.testing.assert_array_equal(got[k], subdivide_attributes(basis[k], topo))


def test_vertex_sets_take_interior_midpoints():
    topo = subdivision_topology(np.array([[0, 1, 2]]), 3)
    np.testing.assert_array_equal(subdivide_vertex_indices(np.array([1, 0]), topo), [0, 1, 3])
    np.testing.assert_array_equal(subdivide_vertex_indices(np.array([2]), topo), [2])


def test_subdivided_edges_are_the_edges_of_the_subdivided_faces():
    v, f = closed_mesh(7, 30)
    e = subdivided_edges(f, len(v))
    _, fs = subdivide_mesh(v, f)
    want = {tuple(sorted((a, b))) for tri in fs.tolist() for a, b in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0]))}
    assert set(map(tuple, e.tolist())) == want and len(e) == len(want)


@pytest.mark.parametrize("faces,match", [
    (np.array([[0, 1, 5]]), r"faces.*indices in \[0, 3\)"),
    (np.array([[0, 1, 1]]), "distinct corners"),
    (np.array([[0.0, 1, 2]]), "integer"),
    (np.array([0, 1, 2]), r"\(F, 3\)"),
])
def test_bad_faces_are_clear_errors(faces, match):
    with pytest.raises(InputError, match=match):
        subdivide_mesh(np.zeros((3, 3)), faces)


def test_wrong_attribute_length():
    topo = subdivision_topology(np.array([[0, 1, 2]]), 3)
    with pytest.raises(InputError, match="3 vertices"):
        subdivide_attributes(np.zeros((4, 3)), topo)


def test_synthetic_head_subdivision(head):
    sub, topo = subdivide_head(head)
    E = len(topo.edges)
    assert sub.num_vertices == head.num_vertices + E and 18_000 < sub.num_vertices < 22_000
    # Skin (2 holes) and two closed eyeballs: V - E + F = 0 + 2 + 2.
    assert head.num_vertices - E + head.num_faces == 4
    np.testing.assert_array_equal(sub.v_template[: head.num_vertices], head.v_template)
    np.testing.assert_allclose(sub.lbs_weights.sum(axis=1), 1.0, atol=1e-6)
    # Joints still come from the coarse vertices (zero-padded regressor).
    np.testing.assert_allclose(sub.J_regressor @ sub.v_template, head.J_regressor @ head.v_template, atol=1e-6)
    eye = sub.vertex_set("eyeball_left")
    assert (eye >= head.num_vertices).sum() > 0 and np.isin(head.vertex_set("eyeball_left"), eye).all()
    assert sub.posedirs is None


def test_matches_pytorch3d_when_importable():
    torch = pytest.importorskip("torch")
    p3d = pytest.importorskip("pytorch3d.ops")
    from pytorch3d.structures import Meshes

    v, f = closed_mesh(3, 50)
    mesh = Meshes(verts=[torch.from_numpy(v).float()], faces=[torch.from_numpy(f)])
    out = p3d.SubdivideMeshes()(mesh)
    got_v, got_f = subdivide_mesh(v.astype(np.float32), f)
    np.testing.assert_array_equal(out.faces_packed().numpy(), got_f)
    np.testing.assert_allclose(out.verts_packed().numpy(), got_v, atol=1e-6)
