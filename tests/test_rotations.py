"""Quaternion and rotation helpers against scipy's Rotation (an independent implementation)."""

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.transform import Rotation

from avatarcheck.geometry.rotations import (
    frame_from_normal,
    matrix_to_quat,
    nearest_rotation,
    quat_multiply,
    quat_to_matrix,
)

quat = arrays(np.float64, 4, elements=st.floats(-1, 1)).filter(lambda q: np.linalg.norm(q) > 0.1)


def wxyz(r: Rotation) -> np.ndarray:
    x, y, z, w = r.as_quat()
    return np.array([w, x, y, z])


@given(quat)
def test_quat_matrix_round_trip(q):
    R = quat_to_matrix(torch.from_numpy(q)).numpy()
    want = Rotation.from_quat([q[1], q[2], q[3], q[0]]).as_matrix()
    np.testing.assert_allclose(R, want, atol=1e-12)
    back = matrix_to_quat(torch.from_numpy(want)).numpy()
    qn = q / np.linalg.norm(q) * np.sign(q[0] or 1.0)
    np.testing.assert_allclose(np.abs(back @ qn), 1.0, atol=1e-9)  # same rotation, up to sign
    assert back[0] >= 0


@given(quat, quat)
def test_quat_multiply_composes_like_matrices(a, b):
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    ab = quat_multiply(torch.from_numpy(a), torch.from_numpy(b))
    Ra, Rb = (quat_to_matrix(torch.from_numpy(x)).numpy() for x in (a, b))
    np.testing.assert_allclose(quat_to_matrix(ab).numpy(), Ra @ Rb, atol=1e-12)


@given(quat, arrays(np.float64, 3, elements=st.floats(0.2, 3.0)))
def test_nearest_rotation_removes_a_symmetric_stretch(q, stretch):
    R = Rotation.from_quat(q).as_matrix()
    Q = Rotation.from_quat(q[::-1]).as_matrix()
    S = Q @ np.diag(stretch) @ Q.T  # symmetric positive definite
    np.testing.assert_allclose(nearest_rotation(torch.from_numpy(R @ S)).numpy(), R, atol=1e-9)


@given(arrays(np.float64, 3, elements=st.floats(-1, 1)).filter(lambda n: np.linalg.norm(n) > 0.1))
def test_frame_from_normal_is_a_rotation_with_normal_third(n):
    F = frame_from_normal(torch.from_numpy(n)).numpy()
    np.testing.assert_allclose(F @ F.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(F), 1.0, atol=1e-12)
    np.testing.assert_allclose(F[:, 2], n / np.linalg.norm(n), atol=1e-12)
