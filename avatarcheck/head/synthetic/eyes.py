"""Per-eye geometry: eyeball mesh, lid frame placement, and the sampling rings around the opening."""

from __future__ import annotations

import dataclasses

import numpy as np

from avatarcheck.head.synthetic.eye_frame import almond_outline, offset_ring, support_points
from avatarcheck.head.synthetic.params import SyntheticHeadParams
from avatarcheck.head.synthetic.skull import skull_front_z


@dataclasses.dataclass(frozen=True)
class EyeFrame:
    """Where one eye sits and how lid angles map onto the skin's parameter sphere.

    A lid-frame point (alpha, beta) sits on the parameter sphere (unit directions from the head
    centre) at ``normalise(e + (alpha / k) t1 + (beta / k) t2)``: a gnomonic chart about the
    eye's direction ``e``, scaled by ``k`` so lid angles and skull angles match in arc length.
    """

    side: str  # "left" (+x) or "right" (-x)
    centre: np.ndarray  # (3,) eyeball centre
    e: np.ndarray  # (3,) unit direction of the eye on the parameter sphere
    t1: np.ndarray  # (3,) tangent towards +x
    t2: np.ndarray  # (3,) tangent towards +y
    k: float

    def to_param(self, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
        d = self.e + (alpha / self.k)[:, None] * self.t1 + (beta / self.k)[:, None] * self.t2
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def from_param(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(alpha, beta, in_front) for unit directions d (N, 3); in_front marks the chart's valid half."""
        de = d @ self.e
        safe = np.where(de > 1e-6, de, 1.0)
        return self.k * (d @ self.t1) / safe, self.k * (d @ self.t2) / safe, de > 0.2


def eye_frame(side: str, p: SyntheticHeadParams) -> EyeFrame:
    x = p.eye_x if side == "left" else -p.eye_x
    front = skull_front_z(x, p.eye_y, p)
    centre = np.array([x, p.eye_y, front - p.eye_recess - p.lid_radius])
    lid_front = centre + np.array([0.0, 0.0, p.lid_radius + p.eye_recess])
    e = lid_front / np.linalg.norm(lid_front)
    t1 = np.array([1.0, 0.0, 0.0]) - e[0] * e
    t1 /= np.linalg.norm(t1)
    t2 = np.cross(e, t1)
    return EyeFrame(side, centre, e, t1, t2, float(np.linalg.norm(lid_front) / p.lid_radius))


def eye_rings(p: SyntheticHeadParams, stop_spacing: float) -> tuple[list[np.ndarray], float]:
    """Rings of (alpha, beta) points around the opening, ring 0 being the margin itself.

    Spacing starts at ``margin_spacing`` and grows by ``ring_growth`` per ring until it reaches
    ``stop_spacing`` (the skull sampling's spacing, in lid angles). Returns the rings and the
    offset just outside the last ring, where skull points may start.
    """
    normals, support = support_points(almond_outline(p))
    rings, offset, spacing, j = [], 0.0, p.margin_spacing, 0
    while spacing < stop_spacing:
        rings.append(offset_ring(normals, support, offset, spacing, phase=0.5 * (j % 2)))
        offset += 0.87 * spacing  # row height of near-equilateral triangles
        spacing *= p.ring_growth
        j += 1
    return rings, offset + 0.3 * spacing


def almond_distance(ab: np.ndarray, p: SyntheticHeadParams) -> np.ndarray:
    """Distance (N,) of (alpha, beta) points outside the convex opening (negative inside)."""
    outline = almond_outline(p, n=800)
    angles = np.linspace(0.0, 2.0 * np.pi, 360, endpoint=False)
    normals = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    support = np.max(outline @ normals.T, axis=0)  # h(n)
    return np.max(ab @ normals.T - support, axis=1)


def eyeball_mesh(centre: np.ndarray, p: SyntheticHeadParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UV sphere about ``centre`` with its poles on the gaze axis (+z).

    Rings sit exactly on the pupil and iris edges so the regions are crisp.
    Returns vertices (N, 3), faces (F, 3) (outward), polar angle from the front pole (N,).
    """
    n_rest = p.eyeball_rings - 6
    polar = np.concatenate([
        np.linspace(0.0, p.pupil_angle, 3)[1:],
        np.linspace(p.pupil_angle, p.iris_angle, 5)[1:],
        np.linspace(p.iris_angle, np.pi, n_rest + 2)[1:-1],
    ])
    seg = p.eyeball_segments
    az = 2.0 * np.pi * np.arange(seg) / seg
    pr, aa = np.meshgrid(polar, az, indexing="ij")
    dirs = np.stack([np.sin(pr) * np.cos(aa), np.sin(pr) * np.sin(aa), np.cos(pr)], axis=-1).reshape(-1, 3)
    dirs = np.concatenate([[[0.0, 0.0, 1.0]], dirs, [[0.0, 0.0, -1.0]]])
    verts = centre + p.eyeball_radius * dirs
    angle = np.concatenate([[0.0], pr.reshape(-1), [np.pi]])
    n_r = len(polar)

    def ring(i: int, j: np.ndarray) -> np.ndarray:
        return 1 + i * seg + (j % seg)

    j = np.arange(seg)
    faces = [np.stack([np.zeros(seg, int), ring(0, j), ring(0, j + 1)], 1)]
    for i in range(n_r - 1):
        a, b, c, d = ring(i, j), ring(i + 1, j), ring(i + 1, j + 1), ring(i, j + 1)
        faces += [np.stack([a, b, c], 1), np.stack([a, c, d], 1)]
    back = len(verts) - 1
    faces.append(np.stack([ring(n_r - 1, j + 1), ring(n_r - 1, j), np.full(seg, back)], 1))
    faces = np.concatenate(faces).astype(np.int64)
    return verts, faces, angle
