"""The skull surface as a radial function of direction from the head centre (the origin).

``skull_points(d)`` maps unit directions (N, 3) to surface points: an ellipsoid with a tapered
jaw, a neck column below, and soft bumps for nose, brows, cheekbones, lips and chin. Eye
sockets are not here: ``build`` blends the lid spheres in.
"""

from __future__ import annotations

import numpy as np

from avatarcheck.head.synthetic.params import SyntheticHeadParams


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _bump(d: np.ndarray, az0: float, el0: float, s_az: float, s_el: float) -> np.ndarray:
    """Gaussian bump over (azimuth about y, elevation) of directions d (N, 3) -> (N,)."""
    az = np.arctan2(d[:, 0], d[:, 2])
    el = np.arcsin(np.clip(d[:, 1], -1.0, 1.0))
    return np.exp(-0.5 * (((az - az0) / s_az) ** 2 + ((el - el0) / s_el) ** 2))


def skull_radius(d: np.ndarray, p: SyntheticHeadParams) -> np.ndarray:
    """Distance from the origin to the skull along unit directions d (N, 3) -> (N,)."""
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    half_w = p.half_width * (1.0 - p.jaw_taper * _smoothstep(-y, 0.05, 0.85))
    half_d = np.where(z >= 0, p.half_depth_front, p.half_depth_back)
    r_ell = 1.0 / np.sqrt((x / half_w) ** 2 + (y / p.half_height) ** 2 + (z / half_d) ** 2)
    # Neck: a vertical column closed by a flat cap, only for downward directions.
    horiz = np.sqrt(x * x + z * z)
    with np.errstate(divide="ignore"):
        r_col = np.where(y < 0, np.minimum(p.neck_radius / np.maximum(horiz, 1e-9),
                                           -p.neck_bottom / np.maximum(-y, 1e-9)), 0.0)
    k = 0.012  # smooth maximum: rounds the jaw-neck junction
    r = 0.5 * (r_ell + r_col + np.sqrt((r_ell - r_col) ** 2 + k * k))
    el_mouth = np.arcsin(p.mouth_y / p.half_depth_front)
    features = (
        0.019 * _bump(d, 0.0, -0.14, 0.085, 0.19)  # nose bridge and body
        + 0.007 * _bump(d, 0.0, -0.28, 0.07, 0.06)  # nose tip
        + 0.0045 * (_bump(d, 0.34, 0.38, 0.22, 0.07) + _bump(d, -0.34, 0.38, 0.22, 0.07))  # brows
        + 0.005 * (_bump(d, 0.62, -0.08, 0.18, 0.12) + _bump(d, -0.62, -0.08, 0.18, 0.12))  # cheekbones
        + 0.0045 * _bump(d, 0.0, el_mouth + 0.045, 0.26, 0.04)  # upper lip
        + 0.0040 * _bump(d, 0.0, el_mouth - 0.05, 0.24, 0.045)  # lower lip
        + 0.007 * _bump(d, 0.0, el_mouth - 0.30, 0.25, 0.11)  # chin
    )
    return r + features


def skull_points(d: np.ndarray, p: SyntheticHeadParams) -> np.ndarray:
    """Surface points (N, 3) along unit directions d (N, 3)."""
    return d * skull_radius(d, p)[:, None]


def skull_front_z(x: float, y: float, p: SyntheticHeadParams) -> float:
    """z of the front skull surface above (x, y), by fixed-point iteration on the direction."""
    # The point rho(d) * d with d = normalise(x, y, z) lies above (x, y) exactly when
    # |(x, y, z)| = rho(d): iterate z <- sqrt(rho(d)^2 - x^2 - y^2).
    z = p.half_depth_front
    for _ in range(100):
        d = np.array([[x, y, z]]) / np.linalg.norm([x, y, z])
        rho = float(skull_radius(d, p)[0])
        z_new = float(np.sqrt(max(rho * rho - x * x - y * y, 1e-12)))
        if abs(z_new - z) < 1e-10:
            break
        z = z_new
    return float(z)


def _warp_towards(d: np.ndarray, axis: np.ndarray, gamma: float) -> np.ndarray:
    """Pull unit directions towards ``axis``: polar angle p about it becomes pi * (p / pi)^gamma.

    A smooth bijection of the sphere (for gamma >= 1) that raises point density near ``axis``.
    """
    cos_p = np.clip(d @ axis, -1.0, 1.0)
    polar = np.arccos(cos_p)
    perp = d - cos_p[:, None] * axis
    norm = np.linalg.norm(perp, axis=1, keepdims=True)
    perp = np.where(norm > 1e-12, perp / np.maximum(norm, 1e-12), 0.0)
    warped = np.pi * (polar / np.pi) ** gamma
    return np.cos(warped)[:, None] * axis + np.sin(warped)[:, None] * perp


def fibonacci_directions(n: int, front_density: float, neck_density: float = 1.0) -> np.ndarray:
    """n near-uniform unit directions (n, 3), then warped towards the face (+z) and the neck (-y).

    The skull is a radial function of direction, so the neck (far from the centre) needs more
    directions per solid angle than the face to get comparable edge lengths.
    """
    i = np.arange(n) + 0.5
    polar = np.arccos(1.0 - 2.0 * i / n)
    azimuth = np.pi * (1.0 + 5.0 ** 0.5) * i
    s = np.sin(polar)
    d = np.stack([s * np.cos(azimuth), s * np.sin(azimuth), np.cos(polar)], axis=1)
    d = _warp_towards(d, np.array([0.0, -1.0, 0.0]), neck_density)
    return _warp_towards(d, np.array([0.0, 0.0, 1.0]), front_density)
