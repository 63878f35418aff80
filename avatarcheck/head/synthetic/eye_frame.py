"""Lid-frame geometry of one eye.

Eyelids slide on a "lid sphere" of radius ``R_l`` concentric with the eyeball. Points on it are
addressed by two angles about the eyeball centre ``c``::

    L(alpha, beta) = c + R_l * (sin a, cos a sin b, cos a cos b)

``beta`` is a rotation about the x axis through ``c``, so a blink that rotates the upper lid down
by ``delta`` is exactly ``beta -> beta - delta`` and keeps the lid on the sphere, in front of
the eyeball. ``alpha`` points to +x for both eyes.

The opening is an almond with parabolic margins:
``-open_down * s(alpha) < beta < open_up * s(alpha)``, ``s = 1 - (alpha / open_half_width)^2``.
"""

from __future__ import annotations

import numpy as np

from avatarcheck.head.synthetic.params import SyntheticHeadParams


def lid_point(centre: np.ndarray, radius: float, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """L(alpha, beta): (N,) angles -> (N, 3) points."""
    ca = np.cos(alpha)
    return centre + radius * np.stack([np.sin(alpha), ca * np.sin(beta), ca * np.cos(beta)], axis=-1)


def opening_profile(alpha: np.ndarray, p: SyntheticHeadParams) -> np.ndarray:
    """s(alpha) = 1 - (alpha / half width)^2, clipped at 0 beyond the corners."""
    return np.clip(1.0 - (alpha / p.open_half_width) ** 2, 0.0, None)


def opening_margins(alpha: np.ndarray, p: SyntheticHeadParams) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) margin beta at each alpha."""
    s = opening_profile(alpha, p)
    return p.open_up * s, -p.open_down * s


def lid_weight(alpha: np.ndarray, beta: np.ndarray, p: SyntheticHeadParams) -> np.ndarray:
    """1 on the lid sphere, smooth fall-off to 0 across the socket blend zone, 0 on the skull."""
    b_ext = np.where(beta >= 0, p.lid_extent_up, p.lid_extent_down)
    r = np.sqrt((alpha / p.lid_extent_across) ** 2 + (beta / b_ext) ** 2)
    t = np.clip((r - 1.0) / (p.blend_factor - 1.0), 0.0, 1.0)
    return 1.0 - t * t * (3.0 - 2.0 * t)


def almond_outline(p: SyntheticHeadParams, n: int = 2000) -> np.ndarray:
    """Dense closed polyline (n, 2) of the opening in (alpha, beta), counter-clockwise."""
    a = np.linspace(-p.open_half_width, p.open_half_width, n // 2, endpoint=False)
    _, lo = opening_margins(a, p)
    up, _ = opening_margins(-a, p)
    lower = np.stack([a, lo], axis=1)  # left -> right along the bottom
    upper = np.stack([-a, up], axis=1)  # right -> left along the top
    return np.concatenate([lower, upper])


def support_points(outline: np.ndarray, n_normals: int = 1440) -> tuple[np.ndarray, np.ndarray]:
    """Outward normals (n, 2) and, per normal, the outline point maximising n.p (n, 2)."""
    angles = np.linspace(0.0, 2.0 * np.pi, n_normals, endpoint=False)
    normals = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return normals, outline[np.argmax(outline @ normals.T, axis=0)]


def offset_ring(normals: np.ndarray, support: np.ndarray, offset: float, spacing: float,
                phase: float) -> np.ndarray:
    """Points (M, 2) on the curve at distance ``offset`` outside a convex outline, ~``spacing`` apart.

    The support-point form of a convex offset (every outward normal n gives the outline point
    maximising n.p, moved by offset * n; see ``support_points``) rounds sharp corners correctly.
    """
    curve = support + offset * normals
    closed = np.concatenate([curve, curve[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    total = arc[-1]
    m = max(8, int(round(total / spacing)))
    s = (np.arange(m) + phase) * (total / m)
    return np.stack([np.interp(s, arc, closed[:, 0]), np.interp(s, arc, closed[:, 1])], axis=1)
