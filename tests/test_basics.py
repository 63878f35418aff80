"""Small shared pieces: ARKit names, atomic writes, ray casting, HeadModel validation."""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from avatarcheck.arkit import ARKIT_NAMES, arkit_index, arkit_indices, is_arkit_name
from avatarcheck.errors import InputError
from avatarcheck.geometry.raycast import first_hit, ray_triangle_hits
from avatarcheck.io.atomic import atomic_open, save_npy_atomic


def test_arkit_names_canonical_order():
    assert len(ARKIT_NAMES) == 52 and len(set(ARKIT_NAMES)) == 52
    assert ARKIT_NAMES[0] == "eyeBlinkLeft" and ARKIT_NAMES[-1] == "tongueOut"
    # Apple's order has jawLeft before jawRight and mouthLeft before mouthRight
    # (Live Link Face's CSV swaps both pairs: another reason to match by name).
    assert arkit_index("jawLeft") == 15 and arkit_index("jawRight") == 16
    assert arkit_index("mouthLeft") == 21 and arkit_index("mouthRight") == 22
    assert arkit_index("EyeBlinkLeft") == arkit_index("eyeblinkleft") == 0
    assert arkit_indices(["TongueOut", "JawOpen"]) == [51, 17]
    assert is_arkit_name(" CheekPuff ") and not is_arkit_name("cheekPuffLeft")
    with pytest.raises(KeyError, match="eyeBlinkMiddle"):
        arkit_index("eyeBlinkMiddle")


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write(b"partial")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]
    save_npy_atomic(target.with_suffix(".npy"), np.arange(3))
    mode = target.with_suffix(".npy").stat().st_mode & 0o777
    mask = os.umask(0)
    os.umask(mask)
    assert mode == 0o666 & ~mask  # like a plain open(), not mkstemp's 0600
    np.testing.assert_array_equal(np.load(target.with_suffix(".npy")), np.arange(3))


@given(st.floats(-0.99, 0.99), st.floats(-0.99, 0.99), st.floats(0.5, 5.0))
def test_ray_hits_unit_square_at_its_depth(x, y, depth):
    # Two triangles tiling the square [-1, 1]^2 at z = 0; a ray from (x, y, depth) straight down.
    sq = np.array([[[-1, -1, 0], [1, -1, 0], [1, 1, 0]], [[-1, -1, 0], [1, 1, 0], [-1, 1, 0]]], float)
    t, idx = first_hit(np.array([[x, y, depth]]), np.array([[0.0, 0.0, -1.0]]), sq)
    assert idx[0] in (0, 1)
    np.testing.assert_allclose(t[0], depth)


def test_ray_misses_and_backwards_hits():
    tri = np.array([[[0, 0, 0], [1, 0, 0], [0, 1, 0]]], float)
    t = ray_triangle_hits(np.array([[2.0, 2.0, 1.0], [0.2, 0.2, 1.0]]),
                          np.array([[0.0, 0.0, -1.0], [0.0, 0.0, 1.0]]), tri)
    assert np.isinf(t).all()  # outside; and behind the origin


def test_head_model_rejects_bad_arrays(head):
    with pytest.raises(InputError, match=rf"arkit_basis.*\(52, {head.num_vertices}, 3\)"):
        head.replace(arkit_basis=head.arkit_basis[:51])
    bad = head.v_template.copy()
    bad[7, 1] = np.nan
    with pytest.raises(InputError, match="v_template.*finite"):
        head.replace(v_template=bad)
    with pytest.raises(InputError, match="faces.*indices in"):
        head.replace(faces=head.faces + 1)
    with pytest.raises(InputError, match="lbs_weights"):
        head.replace(lbs_weights=head.lbs_weights[:, :4])
    with pytest.raises(InputError, match="parents"):
        head.replace(parents=np.array([0, 0, 1, 1, 1]))
