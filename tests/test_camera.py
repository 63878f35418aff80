"""Pinhole cameras in the OpenCV convention."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from avatarcheck.errors import InputError
from avatarcheck.render.camera import Camera, head_camera, intrinsics_from_fov, look_at, orbit_camera


@given(st.floats(-80, 80), st.floats(-60, 60), st.floats(0.2, 3.0))
def test_orbit_camera_looks_at_target(yaw, pitch, dist):
    target = np.array([0.01, -0.02, 0.03])
    cam = orbit_camera(target, dist, yaw, pitch, size=(64, 48))
    np.testing.assert_allclose(cam.project(target[None])[0], [32, 24], atol=1e-3)
    np.testing.assert_allclose(np.linalg.norm(cam.position - target), dist, rtol=1e-5)
    R = cam.viewmat[:3, :3].astype(np.float64)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-6)


def test_frontal_camera_convention():
    cam = orbit_camera(np.zeros(3), 1.0, size=100, fov_y_deg=90)
    # Camera at +z looking down -z: world +x is image right, world +y is image up (row decreases).
    uv = cam.project(np.array([[0.1, 0.0, 0.0], [0.0, 0.1, 0.0]]))
    assert uv[0, 0] > 50 and abs(uv[0, 1] - 50) < 1e-4
    assert uv[1, 1] < 50 and abs(uv[1, 0] - 50) < 1e-4
    # fov 90 -> f = H / 2: a point at 45 degrees lands on the image edge.
    np.testing.assert_allclose(cam.project(np.array([[0.0, -1.0, 0.0]]))[0, 1], 100, atol=1e-3)
    assert orbit_camera(np.zeros(3), 1.0, yaw_deg=30).position[0] > 0  # yaw towards +x


def test_head_camera_frames_the_region(head):
    cam = head_camera(head.v_template, size=96)
    uv = cam.project(head.v_template)
    assert (uv > 0).all() and (uv < 96).all()
    assert uv.max() - uv.min() > 40  # fills a good part of the frame


def test_bad_camera_inputs():
    with pytest.raises(InputError, match="viewmat"):
        Camera(np.full((4, 4), np.nan), intrinsics_from_fov(30, 8, 8), 8, 8)
    with pytest.raises(InputError, match="up"):
        look_at(np.zeros(3), np.array([0.0, 1.0, 0.0]))
