"""Pinhole cameras in the OpenCV convention (x right, y down, z forward), as gsplat takes them.

``viewmat`` maps world to camera: ``x_cam = R x_world + t``. Intrinsics from a vertical field of
view with the principal point at the image centre (LAM's inference camera); near 0.01, far 100.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from avatarcheck.errors import InputError


@dataclasses.dataclass(frozen=True, eq=False)
class Camera:
    viewmat: np.ndarray  # (4, 4) float32 world -> camera
    K: np.ndarray  # (3, 3) float32 intrinsics
    width: int
    height: int
    near: float = 0.01
    far: float = 100.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "viewmat", np.asarray(self.viewmat, np.float32))
        object.__setattr__(self, "K", np.asarray(self.K, np.float32))
        if self.viewmat.shape != (4, 4) or not np.isfinite(self.viewmat).all():
            raise InputError("Camera", "viewmat", "finite (4, 4)", str(self.viewmat.shape))
        if self.K.shape != (3, 3) or not np.isfinite(self.K).all():
            raise InputError("Camera", "K", "finite (3, 3)", str(self.K.shape))
        if self.width < 1 or self.height < 1:
            raise InputError("Camera", "size", "width and height >= 1", f"{self.width}x{self.height}")

    @property
    def position(self) -> np.ndarray:
        """Camera centre in world coordinates (3,)."""
        R, t = self.viewmat[:3, :3].astype(np.float64), self.viewmat[:3, 3].astype(np.float64)
        return -R.T @ t

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> pixel coordinates (N, 2) (pixel centres at +0.5)."""
        p = np.asarray(points, np.float64) @ self.viewmat[:3, :3].T.astype(np.float64) + self.viewmat[:3, 3]
        uv = p @ self.K.T.astype(np.float64)
        return uv[:, :2] / uv[:, 2:3]


def intrinsics_from_fov(fov_y_deg: float, width: int, height: int) -> np.ndarray:
    """Square-pixel pinhole K (3, 3) from the vertical field of view, centre at (W/2, H/2)."""
    f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], np.float32)


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = (0.0, 1.0, 0.0)) -> np.ndarray:
    """OpenCV world-to-camera (4, 4) for a camera at ``eye`` looking at ``target``, ``up`` upwards."""
    eye, target, up = (np.asarray(a, np.float64) for a in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)  # camera x right = forward x up (y points down in the image)
    if np.linalg.norm(x) < 1e-9:
        raise InputError("look_at", "up", "a direction not parallel to the view direction", str(up))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])  # rows: camera axes in world coordinates
    m = np.eye(4)
    m[:3, :3] = R
    m[:3, 3] = -R @ eye
    return m.astype(np.float32)


def orbit_camera(target: np.ndarray, distance: float, yaw_deg: float = 0.0, pitch_deg: float = 0.0,
                 size: int | tuple[int, int] = 512, fov_y_deg: float = 20.0) -> Camera:
    """A camera on a sphere about ``target``: yaw 0 pitch 0 looks at the face from +z.

    Positive yaw moves the camera towards +x (the subject's left), positive pitch upwards.
    """
    w, h = (size, size) if isinstance(size, int) else size
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    offset = distance * np.array([math.sin(yaw) * math.cos(pitch), math.sin(pitch), math.cos(yaw) * math.cos(pitch)])
    eye = np.asarray(target, np.float64) + offset
    return Camera(look_at(eye, target), intrinsics_from_fov(fov_y_deg, w, h), w, h)


def head_camera(vertices: np.ndarray, size: int | tuple[int, int] = 512, fov_y_deg: float = 20.0,
                yaw_deg: float = 0.0, pitch_deg: float = 0.0, margin: float = 1.1,
                region: np.ndarray | None = None) -> Camera:
    """Frontal camera framing ``vertices`` (V, 3) (or the subset ``region``) with a margin.

    Aims at the centre of the bounding box and backs off until the box's larger half-extent
    (x or y, times ``margin``) fits the field of view in front of the box's front face.
    """
    v = np.asarray(vertices, np.float64)
    if region is not None:
        v = v[region]
    lo, hi = v.min(axis=0), v.max(axis=0)
    centre = (lo + hi) / 2
    w, h = (size, size) if isinstance(size, int) else size
    half_fov_y = math.radians(fov_y_deg) / 2
    half_fov_x = math.atan(math.tan(half_fov_y) * w / h)
    half = (hi - lo) / 2
    distance = margin * max(half[0] / math.tan(half_fov_x), half[1] / math.tan(half_fov_y)) + half[2]
    return orbit_camera(centre, distance, yaw_deg, pitch_deg, size, fov_y_deg)
