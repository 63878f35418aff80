"""Geometry of the embedded synthetic head, proved at mesh level (no splat renderer involved)."""

import numpy as np
import pytest

from avatarcheck.arkit import ARKIT_NAMES, arkit_index
from avatarcheck.geometry.raycast import first_hit
from avatarcheck.head.model import HeadModel
from tests.conftest import arkit_vector

CAMERA = np.array([0.0, 0.0, 0.6])  # frontal camera, 60 cm in front of the head


def _edge_use(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    return np.unique(e, axis=0, return_counts=True)


def test_layout_matches_flame(head: HeadModel):
    V = head.num_vertices
    assert 4000 <= V <= 6000
    assert head.v_template.dtype == np.float32 and head.faces.dtype == np.int64
    assert head.arkit_basis.shape == (52, V, 3)
    assert head.J_regressor.shape == (5, V) and head.lbs_weights.shape == (V, 5)
    assert head.parents.tolist() == [-1, 0, 1, 1, 1]
    np.testing.assert_allclose(head.lbs_weights.sum(axis=1), 1.0, atol=1e-6)
    assert (head.lbs_weights >= 0).all()
    np.testing.assert_allclose(head.J_regressor.sum(axis=1), 1.0, atol=1e-5)


def test_size_orientation_and_units(head):
    v = head.v_template
    ext = v.max(axis=0) - v.min(axis=0)
    assert 0.12 < ext[0] < 0.2 and 0.25 < ext[1] < 0.4 and 0.15 < ext[2] < 0.25  # metres
    nose_tip = v[np.argmax(v[:, 2])]
    assert abs(nose_tip[0]) < 0.005  # face towards +z, on the midline
    left, right = (v[head.vertex_set(f"eyeball_{s}")].mean(axis=0) for s in ("left", "right"))
    assert left[0] > 0.02 and right[0] < -0.02  # subject's left eye at +x
    assert left[1] > nose_tip[1]  # y up: eyes above the nose tip


def test_deterministic():
    from avatarcheck.head.synthetic.build import synthetic_head

    a, b = synthetic_head.__wrapped__(), synthetic_head.__wrapped__()
    for field in ("v_template", "faces", "arkit_basis", "lbs_weights", "J_regressor", "shapedirs"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_skin_is_closed_except_the_two_eye_openings(head):
    skin = head.vertex_set("skin")
    skin_faces = head.faces[np.isin(head.faces, skin).all(axis=1)]
    edges, count = _edge_use(skin_faces)
    assert count.max() == 2  # manifold
    boundary = np.unique(edges[count == 1])
    openings = np.concatenate([head.vertex_set("eye_opening_left"), head.vertex_set("eye_opening_right")])
    np.testing.assert_array_equal(np.sort(boundary), np.sort(openings))
    # Euler characteristic of a sphere with two holes: V - E + F = 0.
    used = np.unique(skin_faces)
    assert len(used) - len(edges) + len(skin_faces) == 0


@pytest.mark.parametrize("side", ["left", "right"])
def test_eyeball_is_a_closed_sphere_with_regions(head, side):
    ids = head.vertex_set(f"eyeball_{side}")
    faces = head.faces[np.isin(head.faces, ids).all(axis=1)]
    _, count = _edge_use(faces)
    assert (count == 2).all()
    v = head.v_template[ids].astype(np.float64)
    centre = head.J_regressor[3 if side == "left" else 4].astype(np.float64) @ head.v_template
    r = np.linalg.norm(v - centre, axis=1)
    np.testing.assert_allclose(r, r.mean(), rtol=1e-5)
    regions = [set(head.vertex_set(f"{k}_{side}").tolist()) for k in ("pupil", "iris", "sclera")]
    assert set().union(*regions) == set(ids.tolist()) and sum(map(len, regions)) == len(ids)
    # Pupil and iris face the front (+z).
    assert (head.v_template[head.vertex_set(f"iris_{side}"), 2] > centre[2]).all()


def test_outward_orientation(head):
    """Every face's normal points away from its component's interior (signed volume > 0)."""
    v = head.v_template.astype(np.float64)
    for name in ("eyeball_left", "eyeball_right"):
        ids = head.vertex_set(name)
        f = head.faces[np.isin(head.faces, ids).all(axis=1)]
        vol = np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6
        assert vol > 0
    skin_f = head.faces[np.isin(head.faces, head.vertex_set("skin")).all(axis=1)]
    vol = np.einsum("ij,ij->i", v[skin_f[:, 0]], np.cross(v[skin_f[:, 1]], v[skin_f[:, 2]])).sum() / 6
    assert vol > 0.5 * 4 / 3 * np.pi * 0.07 ** 3  # about a head's volume, positive


def _visible(vertices, faces_skin, points, normals_out):
    """Which points a frontal camera sees past the skin: front-facing and no skin hit before."""
    dirs = points - CAMERA
    front = np.einsum("ij,ij->i", normals_out, -dirs) > 0
    t, _ = first_hit(np.repeat(CAMERA[None], len(points), 0), dirs, vertices[faces_skin])
    return front & (t >= 1.0 - 1e-9)


@pytest.mark.parametrize("side", ["left", "right"])
def test_blink_occludes_visible_eyeball_at_mesh_level(head, layer, side):
    sfx = side.capitalize()
    ids = head.vertex_set(f"eyeball_{side}")
    region = head.vertex_set(f"eye_region_{side}")
    skin = head.vertex_set("skin")
    near = np.isin(head.faces, region).any(axis=1) & np.isin(head.faces, skin).all(axis=1)
    skin_faces = head.faces[near]
    eye_faces = head.faces[np.isin(head.faces, ids).all(axis=1)]
    centre = head.J_regressor[3 if side == "left" else 4].astype(np.float64) @ head.v_template

    open_v = layer(arkit_vector()).vertices[0].double().numpy()
    pts = open_v[ids]
    visible = _visible(open_v, skin_faces, pts, pts - centre)
    # At rest the whole iris and pupil are visible.
    iris = np.isin(ids, np.concatenate([head.vertex_set(f"iris_{side}"), head.vertex_set(f"pupil_{side}")]))
    assert visible[iris].all()
    assert visible.sum() > iris.sum()

    closed_v = layer(arkit_vector(**{f"eyeBlink{sfx}": 1.0})).vertices[0].double().numpy()
    np.testing.assert_array_equal(closed_v[ids], open_v[ids])  # the eyeball itself stays put
    lids = np.concatenate([head.vertex_set(f"lid_upper_{side}"), head.vertex_set(f"lid_lower_{side}")])
    all_faces = np.concatenate([skin_faces, eye_faces])
    targets = closed_v[ids[visible]]
    t, tri = first_hit(np.repeat(CAMERA[None], len(targets), 0), targets - CAMERA, closed_v[all_faces])
    assert (t < 1.0 - 1e-6).all(), "a ray reaches the eyeball through the closed lid"
    is_lid_face = np.isin(all_faces, lids).any(axis=1)
    assert is_lid_face[tri].all(), "the first surface hit is not a lid"
    # And the lid passes in front of the eyeball, not through it.
    assert (np.linalg.norm(closed_v[lids] - centre, axis=1) > 0.012 + 1e-4).all()


def test_half_blink_leaves_part_of_the_iris_visible(head, layer):
    skin_faces = head.faces[np.isin(head.faces, head.vertex_set("skin")).all(axis=1)]
    centre = head.J_regressor[3].astype(np.float64) @ head.v_template
    v = layer(arkit_vector(eyeBlinkLeft=0.5)).vertices[0].double().numpy()
    iris = head.vertex_set("iris_left")
    vis = _visible(v, skin_faces, v[iris], v[iris] - centre)
    assert 0 < vis.sum() < len(iris)


def test_every_channel_moves_something_and_never_the_eyeballs(head):
    eyes = np.concatenate([head.vertex_set("eyeball_left"), head.vertex_set("eyeball_right")])
    for k, name in enumerate(ARKIT_NAMES):
        mag = np.linalg.norm(head.arkit_basis[k], axis=1)
        assert mag.max() > 1e-3, name
        assert mag[eyes].max() == 0.0, name


@pytest.mark.parametrize("name", [n for n in ARKIT_NAMES if n.endswith(("Left", "Right"))])
def test_sided_channels_act_on_their_side(head, name):
    """Left channels move the subject's left (+x) more than the right, and vice versa."""
    mag = np.linalg.norm(head.arkit_basis[arkit_index(name)], axis=1)
    x = head.v_template[:, 0]
    on_left, on_right = mag[x > 0.003].sum(), mag[x < -0.003].sum()
    if name in ("jawLeft", "jawRight", "mouthLeft", "mouthRight"):  # whole jaw / mouth shifts
        direction = head.arkit_basis[arkit_index(name)][mag > 1e-4, 0].mean()
        assert direction > 0 if name.endswith("Left") else direction < 0
    elif name.endswith("Left"):
        assert on_left > 5 * on_right
    else:
        assert on_right > 5 * on_left


@pytest.mark.parametrize("name,vertex_set,axis,sign", [
    ("eyeBlinkLeft", "lid_upper_left", 1, -1),
    ("eyeWideLeft", "lid_upper_left", 1, +1),
    ("eyeSquintLeft", "lid_lower_left", 1, +1),
    ("eyeLookDownLeft", "lid_upper_left", 1, -1),
    ("jawOpen", "jaw", 1, -1),
    ("jawForward", "jaw", 2, +1),
    ("browInnerUp", "face", 1, +1),
    ("mouthPucker", "lips", 2, +1),
])
def test_channel_directions(head, name, vertex_set, axis, sign):
    d = head.arkit_basis[arkit_index(name)][head.vertex_set(vertex_set), axis]
    assert sign * d.mean() > 0


def test_eye_region_and_lid_sets(head):
    for side in ("left", "right"):
        up, lo = head.vertex_set(f"lid_upper_{side}"), head.vertex_set(f"lid_lower_{side}")
        assert len(np.intersect1d(up, lo)) == 0 and len(up) > 50 and len(lo) > 50
        region = head.vertex_set(f"eye_region_{side}")
        assert np.isin(up, region).all() and np.isin(lo, region).all()
