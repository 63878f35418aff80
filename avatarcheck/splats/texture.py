"""Procedural high-frequency detail for a splat cloud's colours (the embedded avatar's "texture").

Region colours alone are smooth, so a renderer that blurs the face (a uniform scale boost) looks
the same as one that does not. A trained LAM avatar's colours carry skin texture, brows, lashes and
an iris pattern at the splat spacing; this module gives the stand-in cloud the same kind of detail,
one colour per splat (so detail is at vertex frequency, the finest a splat cloud can carry):

* **skin**: a per-splat brightness jitter (pores, fine mottling) and sparse darker pores;
* **brows**: an arched band above each eye, dark hair colour on a random subset of its splats;
* **lashes**: the lid margins (``eye_opening_*``), dark, every other splat darker still on the upper rim;
* **iris**: radial stripes, a dark limbal ring at the iris edge.

Everything is a deterministic function of the canonical positions, the named vertex sets and a seed.
Colours only: labels (and so the E channel the gate measures) are untouched. Sets the head lacks
(a FLAME head without lid sets) are skipped.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from avatarcheck.head.model import HeadModel

SIDES = ("left", "right")


@dataclasses.dataclass(frozen=True)
class DetailParams:
    seed: int = 14
    skin_jitter: float = 0.10          # per-splat brightness factor in [1 - j, 1 + j]
    pore_share: float = 0.08           # share of skin splats that are darker pores
    pore_depth: float = 0.22           # their brightness loss
    brow_color: tuple[float, float, float] = (0.28, 0.19, 0.13)
    brow_density: float = 0.65         # share of brow-band splats that are hair
    lash_color: tuple[float, float, float] = (0.07, 0.05, 0.05)
    iris_stripes: int = 14             # radial stripes around the pupil
    iris_contrast: float = 0.35


def _eye_frame(head: HeadModel, side: str) -> tuple[np.ndarray, float] | None:
    """(centre (3,), radius) of one eyeball from its vertex set, or None when the head has none."""
    ids = head.vertex_sets.get(f"eyeball_{side}")
    if ids is None or not len(ids):
        return None
    v = head.v_template[ids].astype(np.float64)
    centre = v.mean(axis=0)
    return centre, float(np.linalg.norm(v - centre, axis=1).mean())


def brow_band(v: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """(V,) bool: points of an arched band above one eye (canonical frame: y up, face towards +z).

    v (V, 3). The arch is centred 0.3 radii outwards of the eye (away from the nose: brows do not
    meet), peaks 2.3 eyeball radii above the eye centre and drops 0.6 radii at its ends, 1.9 radii to
    either side; the band is 0.8 radii thick and only on the front of the head.
    """
    dx = (v[:, 0] - centre[0] - 0.3 * radius * np.sign(centre[0])) / (1.9 * radius)
    arch = centre[1] + radius * (2.3 - 0.6 * dx ** 2)
    return (np.abs(dx) <= 1.0) & (np.abs(v[:, 1] - arch) <= 0.4 * radius) & (v[:, 2] > centre[2])


def iris_pattern(v: np.ndarray, centre: np.ndarray, stripes: int, rng: np.random.Generator) -> np.ndarray:
    """(K,) brightness factors in about [-1, 1] for iris points v (K, 3): radial stripes plus noise,
    darker towards the outer edge (the limbal ring)."""
    d = v - centre
    angle = np.arctan2(d[:, 1], d[:, 0])
    radial = np.hypot(d[:, 0], d[:, 1])
    edge = (radial - radial.min()) / max(float(np.ptp(radial)), 1e-12)     # 0 at the pupil, 1 at the limbus
    return 0.6 * np.cos(stripes * angle + 0.8 * rng.standard_normal(len(v))) - 1.2 * edge ** 3


def detail_colors(head_sub: HeadModel, rgb: np.ndarray, params: DetailParams = DetailParams()) -> np.ndarray:
    """rgb (V_sub, 3) region colours -> (V_sub, 3) float32 colours with detail, clipped to [0, 1]."""
    rgb = np.asarray(rgb, np.float64).copy()
    v = head_sub.v_template.astype(np.float64)
    n = len(v)
    rng = np.random.default_rng(params.seed)
    sets = head_sub.vertex_sets

    eyeball = np.zeros(n, bool)
    for side in SIDES:
        eyeball[sets.get(f"eyeball_{side}", [])] = True
    skin = ~eyeball
    bright = 1.0 + params.skin_jitter * rng.uniform(-1.0, 1.0, n)
    bright -= params.pore_depth * (rng.random(n) < params.pore_share)
    rgb[skin] *= bright[skin, None]

    for side in SIDES:
        frame = _eye_frame(head_sub, side)
        if frame is None:
            continue
        centre, radius = frame
        brow = skin & brow_band(v, centre, radius) & (rng.random(n) < params.brow_density)
        rgb[brow] = np.asarray(params.brow_color) * (1.0 + 0.3 * rng.uniform(-1.0, 1.0, (int(brow.sum()), 1)))
        rim = np.asarray(sets.get(f"eye_opening_{side}", []), np.int64)
        if len(rim):
            upper = np.isin(rim, sets.get(f"lid_upper_{side}", []))
            lash = np.asarray(params.lash_color)
            rgb[rim] = np.where(upper[:, None], lash, 0.5 * (lash + rgb[rim]))
            rgb[rim[upper][::2]] *= 0.5
        iris = np.asarray(sets.get(f"iris_{side}", []), np.int64)
        if len(iris):
            rgb[iris] *= (1.0 + params.iris_contrast * iris_pattern(v[iris], centre, params.iris_stripes, rng))[:, None]
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)
