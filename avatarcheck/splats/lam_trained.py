"""A cloud with the statistics of a *real* trained LAM avatar, for any head (and a broken export).

The stand-in of ``splats.trained`` is idealised: flattened discs at 0.7 x the local edge length,
opacity 0.98, zero offsets, every eyeball splat on its eyeball. Real LAM exports look different,
and a check tuned only on the stand-in may not hold on them. This module generates a seeded cloud
that reproduces what was **measured on three public LAM OpenAvatarChat exports (2026-12-05)**, one
splat per vertex of the once-subdivided FLAME head, region by region (``RegionTargets``, by the
anchor's region, ``regions_of``: ``face`` (the face sets outside the eye regions), ``eye`` (eye
regions outside lids and eyeballs), ``lid``, ``rest`` (scalp, back of the head, neck), ``eyeball``).
Ranges are over the three exports; the fields carry the numbers:

* offsets are **large and mostly tangential**: each splat is moved along the surface and lands on it
  elsewhere. |offset| median face 7.9-11.4 mm, eye 4.5-5.2, lid 4.0-5.4, rest 18-28, eyeball splats
  on the eyeball 4.7-7.0 (``RegionTargets.offset_mm``: quantiles p10..p99); the component along the
  anchor's normal is small (median -5..+1 mm: what landing on a curved surface gives). Whole cloud:
  median 10.3-11.9 mm, p99 100-103 mm, largest component 99.9 mm, at LAM's activation bound
  (sigmoid(raw) - 0.5) * 0.2 < 0.1 m (``offset_bound``);
* sigmas (largest axis) are log-normal around a per-region multiple of the mean incident edge length
  (face 1.0, eye 1.55, lid 1.7, rest 0.9, eyeball 2.5; ln sd 0.45-1.0); whole cloud sigma / edge
  1.25-1.58, median 2.2-3.1 mm, lids 1.46-1.95; 7-11 % of all splats at LAM's clip 0.01 m
  (``clip_fraction``, ``clip``), mostly the scalp's, the neck's and hidden eyeball splats;
* opacities are the sigmoid of a wide normal per region (median face 0.16-0.23, eye 0.08-0.15, lid
  0.09-0.18, rest 0.13-0.21, eyeball 0.03-0.05; whole cloud median 0.08-0.14, p10 0.003-0.006, p90
  0.59-0.79, none below 0.001), correlated with ln sigma per region: negatively on the face, the lids
  and the eyeball (the large splats are the faint ones: the face stays sharp), positively on the scalp;
* 52-62 % of the eyeball splats sit more than 1.5 mm outside the eyeball sphere (opacity median
  0.007-0.010, offsets median 7.4-8.5 mm). They paint no skin: 70-94 % of them are **hidden behind the
  skin** in the orbit around the eyeball (``orbit_*``), the others a nearly transparent film 1.5-5 mm
  in front of the cornea, inside the eye opening (``film_*``);
* a broken public export: offsets of median 54 mm, 76 % of the sigmas at the clip; renders as
  noise (``broken_cloud``).

**Colours follow the landing point.** A displaced splat takes the colour (and tangent frame) of the
subdivided vertex it lands on, so the face's detail (brows, lashes, iris) stays where it is: the cloud
is a resampling of the surface, as training makes it. A splat keeping its anchor's colour 10-25 mm
away would smear the face. The landing is a permutation (one splat per vertex, ``_land``), so densely
meshed parts keep their coverage, and picks vertices that move like the anchor under the blink and
jawOpen blendshapes, so a blink or an open mouth carries each colour with the surface it paints.

**Around the eyes, training clears the open eye** (measured; the region statistics alone covered the
open eye of an edited stand-in and failed the recipe's own fix): lid and eye-region offsets point away
from the eye (``outward_regions``), and within 20 mm of an eyeball centre the splats wider than 3 mm are
nearly transparent and none is much wider than 5 mm (``eye_zone*``).

Where the generator departs from the measurements, to keep a readable face on the synthetic head
(its closed lid lies 1.6 mm over the eyeball, FLAME's 2.8 mm; its lids and iris are meshed 2.5-3 x
finer than FLAME's): no film (it cannot lie outside the 1.5 mm margin and under a lid 1.6 mm up), the
lid-margin sigma limit (``margin_sigma_ratio``), which splats sit at the clip (never the face, lids or
visible eyeball: real exports clip 1-3 % of the face splats) and the choices listed at
``LamTrainedParams``. Face, eye, lid and scalp splats are ellipsoids of the measured axis ratios in
random orientations (``free_regions``), which is what opens streaks when an edit stretches the head.

The eyeball splats outside the sphere keep their ``eyeball_*`` labels, as in LAM (they are bound to
the eyeball's vertices). An eyeball-share channel (the magenta shader's E) at a full blink in a
256 px eye camera reads E max ~0.25 on ~1.5 % of the pixels (the stand-in: 0.07, none over 0.1).

Relative statistics (sigma / edge) are applied per head, to the edges where the splat lands;
absolute ones (offset lengths, the outside splats' sigmas) are anatomical and kept in metres.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from avatarcheck.geometry.mesh import mean_incident_edge_length, vertex_normals
from avatarcheck.head.model import HeadModel
from avatarcheck.splats.cloud import SplatCloud, label_code, rgb_to_sh
from avatarcheck.splats.plausibility import eyeball_sphere
from avatarcheck.splats.trained import TrainedCloudParams, trained_like_cloud

if TYPE_CHECKING:
    from avatarcheck.avatar import Avatar

SIDES = ("left", "right")
# Sets that are face, eyes or mouth (ours and FLAME_masks.pkl's, as the loader names them): skin splats
# there are never pushed to the clip (real exports clip mostly the large soft splats of the scalp,
# the back of the head and the neck, and hidden eyeball splats).
FACE_SETS = ("face", "lips", "nose", "forehead", "eye_region", "eye_region_left", "eye_region_right",
             "lid_upper_left", "lid_upper_right", "lid_lower_left", "lid_lower_right",
             "eyeball_left", "eyeball_right")
EYE_SETS = ("eye_region", "eye_region_left", "eye_region_right")
LID_SETS = ("lid_upper_left", "lid_upper_right", "lid_lower_left", "lid_lower_right")
# Each region's offset lengths are given at these quantiles (``RegionTargets.offset_mm``).
OFFSET_QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90, 0.99)
REGIONS = ("face", "eye", "lid", "rest", "eyeball")


@dataclasses.dataclass(frozen=True)
class RegionTargets:
    """One region's targets (the anchor's region). Measured values: three public LAM exports."""

    # |offset| in mm at OFFSET_QUANTILES (sampled piecewise log-linearly between them).
    offset_mm: tuple[float, float, float, float, float, float]
    # median sigma (largest axis) / mean incident edge length of where the splat lands.
    sigma_edge_ratio: float
    # sd of ln sigma around it.
    sigma_log_sd: float
    # opacity = sigmoid(normal(logit(opacity_median), opacity_logit_sd)).
    opacity_median: float
    opacity_logit_sd: float
    # correlation of ln sigma and logit opacity (negative: the larger splats are the fainter ones).
    sigma_opacity_correlation: float


@dataclasses.dataclass(frozen=True)
class LamTrainedParams:
    """Targets, each measured on three public LAM exports (2026-12-05, ranges over the three; the
    value used is about their mean) unless marked "chosen" (then the reason is given)."""

    # --- per region: offsets, sigmas, opacities ---
    # face: |offset| p10..p99 2.5-3.1, 4.2-5.1, 7.9-11.4, 18-24, 28-37, 49-59 mm; sigma / edge 0.82-1.13,
    # ln sd 0.7-1.05; opacity median 0.16-0.23, logit sd 1.3-1.6; correlation -0.10..-0.26.
    face: RegionTargets = RegionTargets((2.8, 4.6, 9.4, 20.8, 33.8, 53.0), 1.0, 0.9, 0.19, 1.5, -0.2)
    # eye regions without lids and eyeballs: |offset| 1.5-2.5, 2.7-3.6, 4.5-5.2, 7.3-8.5, 15-20,
    # 29-37 mm; sigma / edge 1.31-1.80, ln sd 0.6-0.8; opacity median 0.08-0.15, logit sd 1.1; correlation
    # -0.08..-0.34.
    eye: RegionTargets = RegionTargets((2.0, 3.2, 4.8, 7.9, 18.0, 34.0), 1.55, 0.7, 0.11, 1.1, -0.25)
    # lids: |offset| 1.7-2.7, 2.6-3.9, 4.0-5.4, 7.4-8.6, 12.5-13.3, 17-23 mm; sigma / edge 1.52-1.89
    # (median lid sigma / median lid edge 1.46-1.95), ln sd 0.6; opacity median 0.09-0.18 (logit sd 1.2-1.6);
    # correlation -0.41..-0.48 (the large lid splats are the faint ones: a closed lid lets the eyeball
    # show at the closure line, as the real exports' closed lids read leak 0.70-0.77 unedited).
    lid: RegionTargets = RegionTargets((2.3, 3.3, 4.8, 8.0, 13.0, 20.7), 1.7, 0.6, 0.13, 1.5, -0.45)
    # scalp, back of the head, neck: |offset| 4.9-7.4, 9-15, 18-28, 33-49, 85-92, 104-108 mm; sigma /
    # edge 0.74-1.0 (ln sd ~1.9 with the clip; chosen 1.0 without it); opacity median 0.13-0.21, logit sd
    # 2.1-3.7; correlation +0.51..+0.63.
    rest: RegionTargets = RegionTargets((5.8, 12.7, 24.0, 42.8, 88.7, 106.1), 0.9, 1.0, 0.17, 2.8, 0.55)
    # eyeball splats that stay on the eyeball: |offset| 1.4-2.3, 2.5-3.4, 4.7-7.0, 16-18, ~20, 22-23 mm;
    # sigma / edge 2.2-2.9 (median sigma 2.1-2.9 mm), ln sd 0.4-0.5; opacity median 0.03-0.05, logit sd
    # 1.4-1.8; correlation -0.05..-0.61.
    eyeball: RegionTargets = RegionTargets((2.0, 3.1, 6.1, 17.2, 19.8, 22.7), 2.5, 0.45, 0.04, 1.6, -0.4)
    # Chosen: a splat off the eyeball is at most this share of its distance to the eye opening's lid
    # margin (``eye_opening_*`` sets; at least its edge length): the margin stays sharp, as a trained
    # avatar's does, where the measured spread of the lid sigmas would put a few wide, opaque lid
    # splats over the open eye (0: no limit).
    margin_sigma_ratio: float = 1.0
    # Measured: within 20 mm of an eyeball centre (``eye_zone``), the lid and eye-region sigmas reach
    # p90 3.1-4.3 mm and p99 4.5-5.7 mm; the 0.4-3.5 % above 5 mm are nearly transparent (opacity median
    # 0.003-0.014): their opacity x sigma^2 sums to 0-6 mm^2 per export (the region statistics above,
    # with no such rule, gave 1,300). Training makes what would paint over the open eye fade.
    eye_zone: float = 0.02
    eye_zone_knee: float = 3.0e-3
    eye_zone_limit: float = 6.0e-3
    eye_zone_large: float = 3e-3
    eye_zone_large_opacity: float = 0.005
    eye_zone_large_logit_sd: float = 2.0
    # Measured: correlation of ln sigma and logit opacity of the eyeball splats outside the sphere
    # -0.2..-0.47 (correlations of the non-clipped splats; the regions' own are at the fields above).
    outside_sigma_opacity_correlation: float = -0.37
    # Chosen: landing jitter around the vertex a splat lands on, in its tangent plane (sd, edge lengths).
    landing_jitter: float = 0.25
    # Chosen: iterations of the tangent step that makes the landing distance match the target length.
    landing_iterations: int = 4
    # Chosen: the motions a landing vertex must share with the anchor (the blink and the open mouth,
    # what a capture video shows and the gate checks), and how much a motion mismatch counts against
    # distance (1: 1 mm of displacement at full weight counts as 1 mm).
    landing_channels: tuple[str, ...] = ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen")
    landing_motion_weight: float = 2.0
    # Measured: around the eyes, offsets point away from the eye. The component of a lid splat's offset
    # along the direction from the eyeball centre to its anchor (seen from the front), p10 / p50 / p90:
    # -0.7..-0.1 / +1.6..+2.8 / +7.0..+8.1 mm (eye regions: -2.2..-1.2 / +0.6..+1.4 / +8.4..+11.5 mm);
    # 2-3 % of the lid splats point inwards by more than 2 mm, and those are faint (opacity median
    # 0.006). Training pushes whatever would paint skin over the open eye out of the opening. These
    # regions' landing steps are mirrored to point away from the nearer eye (``_away_from_eyes``) and
    # snapped to the nearest vertex rather than permuted: a permutation's offsets average to zero
    # radially, so it cannot reproduce an outward drift (the margins keep fewer splats, as measured).
    outward_regions: tuple[str, ...] = ("lid", "eye")

    # --- variations (chosen: 1 / 0 reproduce the measurements) ---
    offset_scale: float = 1.0        # every offset length
    sigma_scale: float = 1.0         # every sigma / edge ratio
    opacity_logit_shift: float = 0.0  # added to every region's logit median (not the outside splats')

    # --- scales (linear sigmas) ---
    # Chosen (the stand-in's): normal sigma / tangent sigma, flattened discs in the tangent plane.
    normal_ratio: float = 0.3
    # Measured: real splats are ellipsoids in any orientation (|smallest axis . normal| median 0.52-0.60,
    # a uniform direction's is 0.5), middle / largest axis median 0.56, smallest / largest 0.23 (p10
    # 0.003). ``free_regions`` get that shape, randomly turned, instead of the tangent discs (tangent
    # discs on the lids turn face-on where an edit tilts the lid and cover the open eye).
    free_regions: tuple[str, ...] = ("face", "eye", "rest", "lid")
    free_axis_quantiles: tuple[tuple[float, ...], tuple[float, ...]] = (
        (0.30, 0.40, 0.56, 0.75, 0.90, 0.98),   # middle / largest at OFFSET_QUANTILES
        (0.01, 0.25, 0.48, 0.68, 0.85, 0.95))   # smallest / middle (smallest / largest: median 0.23, p10 0.006)
    # LAM's scale activation clamps exp(raw) to <= 0.01 m.
    clip: float = 0.01
    # Measured 0.072-0.109 of all splats have a sigma at the clip.
    clip_fraction: float = 0.10
    # Chosen: non-clipped sigmas are softly compressed below this share of the clip, so the only
    # sigmas at the clip are the ``clip_fraction`` chosen ones.
    below_clip: float = 0.95
    # Measured: the clip splats' opacity median 0.17-0.5 with a very wide spread (logit sd 3.7-4.7).
    clip_opacity_median: float = 0.26
    clip_opacity_logit_sd: float = 4.0

    # --- eyeball splats outside their eyeball sphere (by more than ``outside_margin``) ---
    # Measured: 52-62 % of the eyeball splats (``outside_fraction``), of two kinds. ``orbit``: 70-94 %
    # of them sit behind the skin, in the orbit around the eyeball (hidden: they show in no render).
    # ``film``: the others sit 1.5-5 mm in front of the cornea, inside the eye opening, nearly
    # transparent (``film_share``). Neither paints the skin in front of the lids.
    outside_fraction: float = 0.55
    outside_margin: float = 1.5e-3
    film_share: float = 0.15
    # Measured (orbit): |offset| p10..p99 4.0-4.8, 5.4-6.5, 8.2-9.5, 12.9-15.2, 18.4-19.3, 20.8-22.9 mm;
    # distance outside the sphere 2.3-2.5, 3.7-4.3, 5.8-6.9, 8.1-9.5, 10.8-12.1, 17.6-18.9 mm; sigma
    # median 6.9-7.6 mm (ln sd ~0.42, 10-25 % of them at the clip); opacity median 0.007-0.010 (logit sd
    # ~1.5). Anchors: the hidden part of the eyeball (polar angle from the gaze 40-147 deg).
    orbit_offset_mm: tuple[float, float, float, float, float, float] = (4.4, 6.0, 9.0, 14.1, 18.9, 21.9)
    orbit_out_mm: tuple[float, float, float, float, float, float] = (2.4, 4.0, 6.3, 9.0, 11.6, 18.2)
    orbit_sigma: float = 7.2e-3
    orbit_sigma_log_sd: float = 0.42
    orbit_opacity_median: float = 0.0075
    orbit_opacity_logit_sd: float = 1.5
    # Measured (film): |offset| p10..p99 2.3-3.3, 2.7-3.8, 4.2-4.7, 5.7-5.8, 6.6-7.5, 8.4-10.5 mm;
    # outside the sphere 1.7, 1.9-2.1, 2.2-2.8, 2.8-3.7, 3.6-5.4, 4.7-10 mm; sigma median 2.0-2.2 mm
    # (ln sd ~0.5); opacity median 0.008-0.018 (logit sd ~1.8). Anchors: the front (polar 8-55 deg).
    film_offset_mm: tuple[float, float, float, float, float, float] = (2.9, 3.4, 4.5, 5.8, 7.2, 9.2)
    film_out_mm: tuple[float, float, float, float, float, float] = (1.7, 1.95, 2.5, 3.4, 4.6, 7.6)
    film_sigma: float = 2.1e-3
    film_sigma_log_sd: float = 0.5
    film_opacity_median: float = 0.010
    film_opacity_logit_sd: float = 1.8
    # Chosen: film splats stay this far under the closed lid (the synthetic head's closed lid lies 1.6 mm
    # over the eyeball, FLAME's ~2.8 mm: no film there, see ``_outside_eyeball``).
    film_lid_clearance: float = 0.3e-3
    # Chosen: orbit anchors at least this many degrees beyond the visible cap (measured: polar angle
    # p10 40-60 deg, the cap ~30 deg), orbit splats at least this deep behind the skin (m) at rest and
    # at a full blink, directions re-drawn up to this many times to get there.
    orbit_min_polar: float = 20.0
    orbit_hide_depth: float = 0.3e-3
    orbit_tries: int = 8
    # Chosen: the visible cap (film anchors and landing points; orbit anchors outside it) is the eye
    # opening's lid margin as a polar angle per azimuth seen from the eyeball centre, plus this margin
    # (degrees); 35 deg without an ``eye_opening_*`` set.
    cap_margin: float = 3.0
    # Measured: no opacity below 0.001 in any of the three exports.
    opacity_floor: float = 0.001

    # LAM's offset activation (sigmoid(raw) - 0.5) * 0.2: |component| < 0.1 m.
    offset_bound: float = 0.1

    seed: int = 0

    def region(self, name: str) -> RegionTargets:
        return getattr(self, name)


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))  # 1 / (1 + exp(-x)) without overflow


def _set(head_sub: HeadModel, name: str) -> np.ndarray:
    return np.asarray(head_sub.vertex_sets.get(name, np.zeros(0, np.int64)), np.int64)


def _mask(head_sub: HeadModel, names: tuple[str, ...]) -> np.ndarray:
    m = np.zeros(head_sub.num_vertices, bool)
    for name in names:
        m[_set(head_sub, name)] = True
    return m


def sample_quantiles(u: np.ndarray, values: tuple[float, ...]) -> np.ndarray:
    """Values at probabilities u (uniform in [0, 1)) of a distribution given at OFFSET_QUANTILES:
    piecewise linear in log value between them, down to a third of the first below and 5 % past the
    last above."""
    knots_u = np.array([0.0, *OFFSET_QUANTILES, 1.0])
    v = np.asarray(values, np.float64)
    knots = np.log(np.concatenate([[v[0] / 3], v, [v[-1] * 1.05]]))
    return np.exp(np.interp(u, knots_u, knots))


def regions_of(head_sub: HeadModel, labels: np.ndarray) -> np.ndarray:
    """(N,) index into REGIONS of each anchor: eyeball and lid by label, eye by the eye-region sets,
    face by the other face sets, the rest (scalp, back, neck) outside them. A head without face sets:
    every non-eye splat is ``face``."""
    eyeball = np.isin(labels, [label_code("eyeball_left"), label_code("eyeball_right")])
    lid = labels == label_code("lid")
    eye = _mask(head_sub, EYE_SETS) & ~eyeball & ~lid
    face_sets = tuple(s for s in FACE_SETS if s not in EYE_SETS + LID_SETS + ("eyeball_left", "eyeball_right"))
    face = _mask(head_sub, face_sets) & ~eye & ~eyeball & ~lid
    if not face.any():
        face = ~eye & ~eyeball & ~lid
    out = np.full(len(labels), REGIONS.index("rest"), np.int64)
    for name, m in (("face", face), ("eye", eye), ("lid", lid), ("eyeball", eyeball)):
        out[m] = REGIONS.index(name)
    return out


def in_regions(region: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(N,) bool: splats whose region (``regions_of``, (N,) index into REGIONS) is one of ``names``."""
    return np.isin(region, [REGIONS.index(r) for r in names])


def _motion_features(head_sub: HeadModel, params: LamTrainedParams) -> np.ndarray:
    """(N, F) how each vertex moves: its displacement under ``landing_channels`` (ARKit, metres at
    weight 1) and its skinning weights (x 0.05 m), times ``landing_motion_weight``. Landing picks the
    vertex nearest in position *and* motion, so a splat lands on skin that moves like its anchor (a
    lid splat along the lid, not over the lashes it would carry into the closed eye)."""
    from avatarcheck.arkit import arkit_index

    parts = [head_sub.arkit_basis[arkit_index(c)].astype(np.float64) for c in params.landing_channels]
    parts.append(0.05 * head_sub.lbs_weights.astype(np.float64))
    return params.landing_motion_weight * np.concatenate(parts, axis=1)


def _tangent_directions(normals: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random unit directions (K, 3) in the planes of unit normals (K, 3)."""
    d = rng.standard_normal(normals.shape)
    d -= (d * normals).sum(axis=1, keepdims=True) * normals
    norm = np.linalg.norm(d, axis=1, keepdims=True)
    fallback = np.cross(normals, np.array([1.0, 0.0, 0.0]))
    d = np.where(norm > 1e-9, d / np.maximum(norm, 1e-12), fallback)
    return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)


def _land(v: np.ndarray, normals: np.ndarray, motion: np.ndarray, anchors: np.ndarray, members: np.ndarray,
          length: np.ndarray, rng: np.random.Generator, iterations: int, candidates: int = 16,
          away: np.ndarray | None = None, permute: bool = True) -> np.ndarray:
    """(K,) the vertex each splat of ``anchors`` (K,) lands on: a permutation of ``members`` (K,),
    each ~``length`` (K,) metres (straight line) from its anchor in a random tangential direction and
    moving like it (``motion`` (N, F), ``_motion_features``).

    Where: a tangent step of the target length, snapped to the nearest member in (position, motion),
    the step rescaled by target / reached (the surface curves away), the best of ``iterations`` tries.
    ``away`` (K, 3), optional: unit directions (zero: none); a step against one is mirrored to point
    along it (``_away_from_eyes``). ``permute=False``: each splat keeps the member it snapped to (two
    may share one), for regions whose measured offsets drift one way (``outward_regions``).
    Which: a permutation (``_permutation``): each splat takes a member near its target that no other
    splat has taken. A plain nearest-vertex snap would drain densely meshed parts (the iris, the eye
    region) into the coarse ones around them; a permutation keeps one splat per vertex, so the
    stand-in's coverage holds wherever the splats went.
    """
    tree = cKDTree(np.concatenate([v[members], motion[members]], axis=1))
    direction = _tangent_directions(normals[anchors], rng)
    if away is not None:
        along = (direction * away).sum(axis=1, keepdims=True)
        direction -= 2.0 * np.minimum(along, 0.0) * away
    a, m = v[anchors], motion[anchors]
    step = length.copy()
    target, err = a.copy(), length.copy()  # staying put misses by the whole length
    snapped = np.searchsorted(members, anchors) if not permute else None
    for _ in range(iterations):
        x = a + step[:, None] * direction
        _, j = tree.query(np.concatenate([x, m], axis=1))
        got = np.linalg.norm(v[members[j]] - a, axis=1)
        miss = np.abs(got - length)
        better = miss < err
        target[better], err[better] = x[better], miss[better]
        if snapped is not None:
            snapped[better] = j[better]
        step *= np.clip(length / np.maximum(got, 1e-6), 0.5, 2.0)
    if snapped is not None:
        return members[snapped]
    return members[_permutation(tree.data, np.concatenate([target, m], axis=1), rng, candidates)]


def _assign(cand: np.ndarray, count: int, rng: np.random.Generator,
            taken: np.ndarray | None = None) -> np.ndarray:
    """(K,) one of each row's candidates (K, k) (indices < count, best first), distinct: rounds in which
    every splat still unplaced proposes its best free candidate and, of those proposing the same one,
    the first in a random order gets it. -1: no free candidate left in the row. ``taken`` (count,)
    bool, updated: indices already used."""
    n, k = cand.shape
    out = np.full(n, -1, np.int64)
    taken = np.zeros(count, bool) if taken is None else taken
    rank = rng.permutation(n)  # priority: lower wins
    for _ in range(k):
        todo = np.nonzero(out < 0)[0]
        free = ~taken[cand[todo]]
        has = free.any(axis=1)
        todo, free = todo[has], free[has]
        if not len(todo):
            break
        want = cand[todo, free.argmax(axis=1)]
        order = np.argsort(rank[todo], kind="stable")
        _, first = np.unique(want[order], return_index=True)
        win = todo[order[first]]
        out[win] = want[order[first]]
        taken[out[win]] = True
    return out


def _permutation(points: np.ndarray, targets: np.ndarray, rng: np.random.Generator, k: int = 16) -> np.ndarray:
    """(K,) a permutation p of range(K) with points[p[i]] near targets[i] (both (K, F)): ``_assign``
    over each target's k nearest points, then the targets left over over the points left free,
    until every point is used once."""
    n = len(points)
    out = np.full(n, -1, np.int64)
    taken = np.zeros(n, bool)
    todo = np.arange(n)
    while len(todo):
        free = np.nonzero(~taken)[0]
        kk = min(k, len(free))
        _, cand = cKDTree(points[free]).query(targets[todo], k=kk)
        cand = free[np.asarray(cand).reshape(len(todo), kk)]
        got = _assign(cand, n, rng, taken)
        out[todo] = got
        todo = todo[got < 0]
    return out


def _clip_set(head_sub: HeadModel, sigma: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """``count`` splat indices to sit at the clip: the largest (raw sigma) splats off the face,
    lids and eyes; skin splats of the face only if the head has too few others."""
    skin = labels == label_code("skin")
    face = _mask(head_sub, FACE_SETS)
    first = np.nonzero(skin & ~face)[0]
    then = np.nonzero(skin & face)[0]
    pick = first[np.argsort(-sigma[first], kind="stable")][:count]
    if len(pick) < count:
        pick = np.concatenate([pick, then[np.argsort(-sigma[then], kind="stable")][: count - len(pick)]])
    return pick


def _polar(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(polar angle from +z (forward), azimuth around +z), radians, of directions d (K, 3)."""
    r = np.maximum(np.linalg.norm(d, axis=1), 1e-12)
    return np.arccos(np.clip(d[:, 2] / r, -1.0, 1.0)), np.arctan2(d[:, 1], d[:, 0])


def _cap(head_sub: HeadModel, side: str, centre: np.ndarray, phi: np.ndarray, margin: float) -> np.ndarray:
    """The visible cap's polar angle (radians) at azimuths phi: the eye opening's lid margin seen from
    the eyeball centre, plus ``margin`` degrees; 35 deg without an opening set."""
    opening = _set(head_sub, f"eye_opening_{side}")
    if not len(opening):
        return np.full(len(phi), np.radians(35.0))
    o_theta, o_phi = _polar(head_sub.v_template[opening].astype(np.float64) - centre)
    order = np.argsort(o_phi)
    return np.interp(phi, o_phi[order], o_theta[order], period=2 * np.pi) + np.radians(margin)


def _outward(anchor: np.ndarray, centre: np.ndarray, out: np.ndarray, length: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    """Points ``out`` (K,) further from ``centre`` than the eyeball anchors (K, 3), ~``length`` from
    them: the anchor's direction turned by the angle that makes the chord that long, towards a
    random tangent direction."""
    d = anchor - centre
    r = np.linalg.norm(d, axis=1)
    e = d / r[:, None]
    big = r + out
    cos = np.clip((r ** 2 + big ** 2 - length ** 2) / (2 * r * big), -1.0, 1.0)
    t = _tangent_directions(e, rng)
    u = cos[:, None] * e + np.sqrt(1 - cos ** 2)[:, None] * t
    return centre + big[:, None] * u


Surface = tuple[cKDTree, np.ndarray, np.ndarray]


def _skin_surfaces(head_sub: HeadModel, v: np.ndarray, skin: np.ndarray) -> list[Surface]:
    """(tree, vertices, normals) of the skin (``skin`` indices) at rest and at a full blink of both eyes."""
    from avatarcheck.arkit import arkit_index

    out = []
    blink = sum(head_sub.arkit_basis[arkit_index(f"eyeBlink{s}")].astype(np.float64) for s in ("Left", "Right"))
    for pose in (v, v + blink):
        normals = vertex_normals(pose, head_sub.faces).astype(np.float64)
        out.append((cKDTree(pose[skin]), pose[skin], normals[skin]))
    return out


def _depth(points: np.ndarray, surfaces: list[Surface]) -> np.ndarray:
    """(K,) how far in front of the skin points are (signed along the nearest skin vertex's normal;
    negative: behind it), the largest over the surfaces (rest, blink)."""
    out = np.full(len(points), -np.inf)
    for tree, sv, sn in surfaces:
        _, j = tree.query(points)
        out = np.maximum(out, ((points - sv[j]) * sn[j]).sum(axis=1))
    return out


def _closed_lid_height(head_sub: HeadModel, side: str, centre: np.ndarray, radius: float) -> float:
    """Median height (m) over the eyeball sphere of the lid vertices within 30 deg of the gaze at a full
    blink; inf without lid sets."""
    from avatarcheck.arkit import arkit_index

    lids = np.concatenate([_set(head_sub, f"lid_{w}_{side}") for w in ("upper", "lower")])
    if not len(lids):
        return float("inf")
    name = f"eyeBlink{side.capitalize()}"
    p = head_sub.v_template[lids].astype(np.float64) + head_sub.arkit_basis[arkit_index(name)][lids]
    theta, _ = _polar(p - centre)
    near = theta < np.radians(30.0)
    if not near.any():
        return float("inf")
    return float(np.median(np.linalg.norm(p[near] - centre, axis=1))) - radius


def _outside_eyeball(head_sub: HeadModel, v: np.ndarray, skin: np.ndarray, params: LamTrainedParams,
                     rng: np.random.Generator) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Per eye: (side, eyeball splat indices outside the sphere, their positions (K, 3), their kind:
    True film, False orbit). Offset lengths and distances outside the sphere from the measured
    quantiles. Film: anchors on the visible cap, landing on it, under the closed lid (no film where
    the closed lid lies closer to the eyeball than ``outside_margin``: it could only lie on top of
    it). Orbit: anchors ``orbit_min_polar`` beyond the cap, directions re-drawn until the splat is
    behind the skin at rest and at a full blink (hidden, as measured), else pushed out along its
    anchor's direction by just the margin (4 % of them on the synthetic head: at the lids' level)."""
    out = []
    surfaces = None
    for side in SIDES:
        sphere = eyeball_sphere(head_sub, side)
        ids = _set(head_sub, f"eyeball_{side}")
        if sphere is None:
            continue
        centre, radius = sphere
        theta, phi = _polar(v[ids] - centre)
        cap = _cap(head_sub, side, centre, phi, params.cap_margin)
        visible = theta <= cap
        count = int(round(params.outside_fraction * len(ids)))
        lid_room = _closed_lid_height(head_sub, side, centre, radius) - params.film_lid_clearance
        n_film = min(int(round(params.film_share * count)), int(visible.sum()))
        if lid_room < params.outside_margin + 0.1e-3:
            n_film = 0
        hidden = theta > cap + np.radians(params.orbit_min_polar)
        film = rng.permutation(ids[visible])[:n_film]
        order = np.concatenate([rng.permutation(ids[hidden]), rng.permutation(ids[~visible & ~hidden]),
                                rng.permutation(np.setdiff1d(ids[visible], film))])
        chosen = np.concatenate([film, order[: count - n_film]])
        kind = np.arange(len(chosen)) < len(film)
        u = rng.random(len(chosen))  # one rank for both: the splats pushed furthest out travelled furthest
        length = np.where(kind, sample_quantiles(u, params.film_offset_mm),
                          sample_quantiles(u, params.orbit_offset_mm)) * 1e-3 * params.offset_scale
        push = np.where(kind, np.minimum(sample_quantiles(u, params.film_out_mm) * 1e-3, lid_room),
                        sample_quantiles(u, params.orbit_out_mm) * 1e-3)
        r = np.linalg.norm(v[chosen] - centre, axis=1)
        need = radius + params.outside_margin + rng.uniform(0.1e-3, 0.3e-3, len(chosen)) - r
        push = np.maximum(push, need)
        pos = _outward(v[chosen], centre, push, length, rng)
        # film: kept inside the visible cap (pulled back along its azimuth)
        t_pos, p_pos = _polar(pos[kind] - centre)
        lim = _cap(head_sub, side, centre, p_pos, 0.0)
        t_new = np.where(t_pos > lim, lim * rng.uniform(0.5, 1.0, len(lim)), t_pos)
        big = np.linalg.norm(pos[kind] - centre, axis=1)
        pos[kind] = centre + big[:, None] * np.stack(
            [np.sin(t_new) * np.cos(p_pos), np.sin(t_new) * np.sin(p_pos), np.cos(t_new)], axis=1)
        # orbit: hidden behind the skin
        orbit = np.nonzero(~kind)[0]
        if len(orbit):
            surfaces = _skin_surfaces(head_sub, v, skin) if surfaces is None else surfaces
            for _ in range(params.orbit_tries):
                shows = orbit[_depth(pos[orbit], surfaces) > -params.orbit_hide_depth]
                if not len(shows):
                    break
                pos[shows] = _outward(v[chosen[shows]], centre, push[shows], length[shows], rng)
            shows = orbit[_depth(pos[orbit], surfaces) > -params.orbit_hide_depth]
            d = v[chosen[shows]] - centre
            r_d = np.linalg.norm(d, axis=1)
            pos[shows] = centre + d * ((r_d + need[shows]) / r_d)[:, None]
        out.append((side, chosen, pos, kind))
    return out


def lam_trained_cloud(head_sub: HeadModel, edges_sub: np.ndarray, rgb: np.ndarray,
                      params: LamTrainedParams = LamTrainedParams()) -> SplatCloud:
    """One splat per subdivided vertex with real LAM exports' statistics (module docstring).

    head_sub: the once-subdivided head; edges_sub (E', 2) its edges; rgb (N, 3) colours in [0, 1]
    (as for ``trained_like_cloud``). Deterministic per ``params.seed``. Heads without lid, eye-region or
    eyeball sets get the parts that apply (no eyeball splats outside an eyeball without eyeballs; a
    head without face sets is all ``face``).
    """
    # One generator drawn in a fixed order by the helpers below: reordering the calls changes the cloud.
    rng = np.random.default_rng(params.seed)
    base = trained_like_cloud(head_sub, edges_sub, rgb, TrainedCloudParams())  # frames, lit colours, labels
    v = head_sub.v_template.astype(np.float64)
    labels = base.labels
    lit = np.clip(base.rgb.astype(np.float64), 0.0, 1.0)
    normals = vertex_normals(v, head_sub.faces).astype(np.float64)
    edge = mean_incident_edge_length(v, edges_sub, head_sub.name)
    region = regions_of(head_sub, labels)

    # Eyeball splats outside their eyeball: orbit (hidden) and film (over the cornea).
    eyeball = np.isin(labels, [label_code(f"eyeball_{s}") for s in SIDES])
    skin = np.nonzero(~eyeball)[0]
    outside = _outside_eyeball(head_sub, v, skin, params, rng)
    is_out, film = _outside_masks(outside, head_sub.num_vertices)
    orbit = is_out & ~film

    length = _landing_lengths(region, head_sub.num_vertices, params, rng)
    dest = _landing_vertices(head_sub, v, normals, labels, skin, is_out, length, params, rng, region)
    position = v[dest] + _landing_jitter(normals, edge, dest, params, rng)
    _place_outside_splats(outside, v, labels, skin, position, dest)

    # Sigmas follow the landing point's mesh density, but around the eyes (which land outwards, on the
    # coarser skin beyond the finely meshed lids) the anchor's: measured as lid sigma / lid edge.
    outward = in_regions(region, params.outward_regions)
    sized = np.where(outward, edge, edge[dest])
    sigma, opacity, z_opacity = _sigmas_and_opacities(region, sized, is_out, film, orbit, params, rng)
    sigma = _sharp_lid_margins(head_sub, v, position, sized, eyeball, sigma, params)
    sigma, opacity = _clipped(head_sub, labels, orbit, sigma, opacity, z_opacity, params)
    sigma, opacity = _around_the_eyes(head_sub, position, eyeball, sigma, opacity, z_opacity, params)

    bound = params.offset_bound * (1 - 1e-4)
    offsets = np.clip(position - v, -bound, bound)
    scales, quats = _scales_and_quats(base.quats[dest].copy(), region, eyeball, sigma, params, rng)
    return SplatCloud(
        offsets=offsets,
        scales=scales,
        quats=quats,
        opacities=np.clip(opacity, params.opacity_floor, 1.0),
        sh=rgb_to_sh(np.clip(lit[dest], 0.0, 1.0)),
        labels=labels,
        source=f"lam_trained_cloud({head_sub.name}, seed={params.seed})",
    )


def _outside_masks(outside: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
                   n: int) -> tuple[np.ndarray, np.ndarray]:
    """(is_out, film), (N,) bool each: the eyeball splats ``_outside_eyeball`` placed, and its film ones."""
    is_out = np.zeros(n, bool)
    film = np.zeros(n, bool)
    for _, ids, _, kind in outside:
        is_out[ids], film[ids] = True, kind
    return is_out, film


def _per_region(params: LamTrainedParams, region: np.ndarray, field: str) -> np.ndarray:
    """(N,) the ``RegionTargets`` field of each splat's region."""
    return np.array([getattr(params.region(name), field) for name in REGIONS], np.float64)[region]


def _landing_lengths(region: np.ndarray, n: int, params: LamTrainedParams, rng: np.random.Generator) -> np.ndarray:
    """(N,) each splat's landing distance: its region's measured offset quantiles, under the offset bound."""
    u = rng.random(n)
    length = np.zeros(n)
    for k, name in enumerate(REGIONS):
        m = region == k
        length[m] = np.minimum(sample_quantiles(u[m], params.region(name).offset_mm) * 1e-3 * params.offset_scale,
                               0.98 * params.offset_bound)
    return length


def _away_from_eyes(head_sub: HeadModel, v: np.ndarray, normals: np.ndarray, region: np.ndarray,
                    params: LamTrainedParams) -> np.ndarray:
    """(N, 3) for the anchors of ``params.outward_regions``: the unit direction away from the nearer
    eye's gaze axis (through the eyeball centre along +z) in the anchor's tangent plane; zero elsewhere
    (and without eyeballs)."""
    out = np.zeros_like(v)
    spheres = [s for s in (eyeball_sphere(head_sub, side) for side in SIDES) if s is not None]
    picked = in_regions(region, params.outward_regions)
    if not spheres or not picked.any():
        return out
    centres = np.array([c for c, _ in spheres], np.float64)
    ids = np.nonzero(picked)[0]
    d = v[ids, None, :] - centres[None]
    d = d[np.arange(len(ids)), np.linalg.norm(d, axis=2).argmin(axis=1)]
    d[:, 2] = 0.0  # away from the gaze axis as the face is seen (+z forward), not off the eyeball's sphere
    n = normals[ids]
    d -= (d * n).sum(axis=1, keepdims=True) * n
    norm = np.linalg.norm(d, axis=1, keepdims=True)
    out[ids] = np.where(norm > 1e-9, d / np.maximum(norm, 1e-12), 0.0)
    return out


def _landing_vertices(head_sub: HeadModel, v: np.ndarray, normals: np.ndarray, labels: np.ndarray,
                      skin: np.ndarray, is_out: np.ndarray, length: np.ndarray, params: LamTrainedParams,
                      rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    """(N,) the vertex each splat lands on, a tangential step of ``length`` away on a vertex that moves
    like its anchor. Skin on skin; an eyeball's remaining splats on its eyeball (``_eyeball_members``);
    the eyeball splats placed outside stay home here."""
    motion = _motion_features(head_sub, params)
    dest = np.arange(head_sub.num_vertices)
    away = _away_from_eyes(head_sub, v, normals, region, params)
    out = in_regions(region, params.outward_regions)
    rest = np.intersect1d(skin, np.nonzero(~out)[0])
    near = np.intersect1d(skin, np.nonzero(out)[0])
    dest[rest] = _land(v, normals, motion, rest, rest, length[rest], rng, params.landing_iterations)
    if len(near):
        dest[near] = _land(v, normals, motion, near, skin, length[near], rng, params.landing_iterations,
                           away=away[near], permute=False)
    for side in SIDES:
        ids = np.nonzero(labels == label_code(f"eyeball_{side}"))[0]
        stay = ids[~is_out[ids]]
        members = _eyeball_members(head_sub, side, v, ids, len(stay), params, rng)
        if members is not None:
            dest[stay] = _land(v, normals, motion, stay, members, length[stay], rng, params.landing_iterations)
    # a landing LAM's bounded offsets cannot reach (the permutation's last few, far off): stay home
    far = (np.abs(v[dest] - v) > 0.98 * params.offset_bound).any(axis=1)
    dest[far] = np.nonzero(far)[0]
    return dest


def _eyeball_members(head_sub: HeadModel, side: str, v: np.ndarray, ids: np.ndarray, count: int,
                     params: LamTrainedParams, rng: np.random.Generator) -> np.ndarray | None:
    """The ``count`` vertices of one eyeball (``ids``) its remaining splats land on, or None (no splat
    stays, or no eyeball sphere): its visible cap and, the rest of them, vertices well behind the lids
    (measured: 60 % of them within 40 deg of the gaze, where 31 % of the vertices are; none under the
    lid margin, where a blink would uncover them)."""
    sphere = eyeball_sphere(head_sub, side)
    if not count or sphere is None:
        return None
    theta, phi = _polar(v[ids] - sphere[0])
    cap = _cap(head_sub, side, sphere[0], phi, params.cap_margin)
    visible = ids[np.argsort(theta - cap, kind="stable")][: min(count, int((theta <= cap).sum()))]
    back = ids[theta > cap + np.radians(params.orbit_min_polar)]
    more = rng.permutation(back)[: count - len(visible)]
    if len(visible) + len(more) < count:  # too small a back: the front-most of the rest
        rest = np.setdiff1d(ids, np.concatenate([visible, more]))
        rest = rest[np.argsort(_polar(v[rest] - sphere[0])[0], kind="stable")]
        more = np.concatenate([more, rest[: count - len(visible) - len(more)]])
    return np.concatenate([visible, more])


def _landing_jitter(normals: np.ndarray, edge: np.ndarray, dest: np.ndarray, params: LamTrainedParams,
                    rng: np.random.Generator) -> np.ndarray:
    """(N, 3) a small tangential step off each landing vertex, scaled to its edge length."""
    return _tangent_directions(normals[dest], rng) * (
        params.landing_jitter * edge[dest] * rng.standard_normal(len(dest)))[:, None]


def _place_outside_splats(outside: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], v: np.ndarray,
                          labels: np.ndarray, skin: np.ndarray, position: np.ndarray, dest: np.ndarray) -> None:
    """In place: the outside splats' ``position``s, and as their ``dest`` (colour and frame) the nearest
    vertex: of the skin for the orbit's, of the eyeball for the film's."""
    for side, ids, pos, kind in outside:
        position[ids] = pos
        for pick, pool in ((kind, np.nonzero(labels == label_code(f"eyeball_{side}"))[0]), (~kind, skin)):
            if pick.any():
                dest[ids[pick]] = pool[cKDTree(v[pool]).query(pos[pick])[1]]


def _sigmas_and_opacities(region: np.ndarray, edge: np.ndarray, is_out: np.ndarray, film: np.ndarray,
                          orbit: np.ndarray, params: LamTrainedParams,
                          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sigma, opacity, the opacities' normal draw) per splat: correlated log-normal / logit-normal per
    region, sigma scaled to the landing point's ``edge``; orbit and film splats their own."""
    z_sigma = rng.standard_normal(len(region))
    rho = np.where(is_out, params.outside_sigma_opacity_correlation,
                   _per_region(params, region, "sigma_opacity_correlation"))
    z_opacity = rho * z_sigma + np.sqrt(1 - rho ** 2) * rng.standard_normal(len(region))
    sigma = (params.sigma_scale * _per_region(params, region, "sigma_edge_ratio") * edge
             * np.exp(_per_region(params, region, "sigma_log_sd") * z_sigma))
    median = _per_region(params, region, "opacity_median")
    mu = np.log(median / (1 - median)) + params.opacity_logit_shift
    sd = _per_region(params, region, "opacity_logit_sd")
    for m, (s_med, s_sd, o_med, o_sd) in (
            (film, (params.film_sigma, params.film_sigma_log_sd, params.film_opacity_median,
                    params.film_opacity_logit_sd)),
            (orbit, (params.orbit_sigma, params.orbit_sigma_log_sd, params.orbit_opacity_median,
                     params.orbit_opacity_logit_sd))):
        sigma[m] = s_med * np.exp(s_sd * z_sigma[m])
        mu[m], sd[m] = _logit(o_med), o_sd
    return sigma, _sigmoid(mu + sd * z_opacity), z_opacity


def _sharp_lid_margins(head_sub: HeadModel, v: np.ndarray, position: np.ndarray, edge: np.ndarray,
                       eyeball: np.ndarray, sigma: np.ndarray, params: LamTrainedParams) -> np.ndarray:
    """``sigma`` with the lid margins kept sharp: no non-eyeball splat wider than ``margin_sigma_ratio``
    x its distance to the eye opening (nor than its landing ``edge``, where that is larger)."""
    opening = np.concatenate([_set(head_sub, f"eye_opening_{side}") for side in SIDES])
    if not len(opening) or not params.margin_sigma_ratio:
        return sigma
    near, _ = cKDTree(v[opening]).query(position)
    cap = np.maximum(edge, params.margin_sigma_ratio * near)
    return np.where(eyeball, sigma, np.minimum(sigma, cap))


def _around_the_eyes(head_sub: HeadModel, position: np.ndarray, eyeball: np.ndarray, sigma: np.ndarray,
                     opacity: np.ndarray, z_opacity: np.ndarray,
                     params: LamTrainedParams) -> tuple[np.ndarray, np.ndarray]:
    """(sigma, opacity) of the skin splats within ``eye_zone`` of an eyeball centre: sigmas compressed
    softly from ``eye_zone_knee`` towards ``eye_zone_limit``, and those still above ``eye_zone_large``
    nearly transparent (``eye_zone_large_opacity``, the opacities' own draw ``z_opacity`` for the spread)."""
    centres = [s[0] for s in (eyeball_sphere(head_sub, side) for side in SIDES) if s is not None]
    if not centres or not params.eye_zone:
        return sigma, opacity
    near = np.min([np.linalg.norm(position - c, axis=1) for c in centres], axis=0)
    zone = ~eyeball & (near < params.eye_zone)
    knee, room = params.eye_zone_knee, params.eye_zone_limit - params.eye_zone_knee
    soft = np.where(sigma > knee, knee + room * (1 - np.exp(-(sigma - knee) / room)), sigma)
    sigma = np.where(zone, soft, sigma)
    large = zone & (sigma > params.eye_zone_large)
    faint = _sigmoid(_logit(params.eye_zone_large_opacity) + params.eye_zone_large_logit_sd * z_opacity)
    return sigma, np.where(large, faint, opacity)


def _clipped(head_sub: HeadModel, labels: np.ndarray, orbit: np.ndarray, sigma: np.ndarray, opacity: np.ndarray,
             z_opacity: np.ndarray, params: LamTrainedParams) -> tuple[np.ndarray, np.ndarray]:
    """(sigma, opacity) at LAM's clip: sigmas compressed softly below it (hidden orbit splats may reach
    it), then the largest off-face splats put at it, ``clip_fraction`` of all, with their own opacities."""
    knee = 0.8 * params.below_clip * params.clip  # soft compression above the knee, below the clip
    room = params.below_clip * params.clip - knee
    soft = np.where(sigma > knee, knee + room * (1 - np.exp(-(sigma - knee) / room)), sigma)
    sigma = np.where(orbit, np.minimum(sigma, params.clip), soft)  # hidden orbit splats reach the clip
    n = head_sub.num_vertices
    at_clip = _clip_set(head_sub, sigma, labels,
                        max(0, int(round(params.clip_fraction * n)) - int((sigma >= params.clip).sum())))
    sigma[at_clip] = params.clip
    opacity[at_clip] = _sigmoid(_logit(params.clip_opacity_median) + params.clip_opacity_logit_sd
                                * z_opacity[at_clip])
    return sigma, opacity


def _scales_and_quats(quats: np.ndarray, region: np.ndarray, eyeball: np.ndarray, sigma: np.ndarray,
                      params: LamTrainedParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(scales (N, 3), quats (N, 4)): flattened discs in the landing vertex's frame (``quats``, updated),
    except ``free_regions``' splats: three measured axis ratios, randomly turned."""
    scales = np.stack([sigma, sigma, params.normal_ratio * sigma], axis=1)
    free = in_regions(region, params.free_regions) & ~eyeball
    if free.any():
        mid_q, small_q = params.free_axis_quantiles
        mid = np.minimum(sample_quantiles(rng.random(int(free.sum())), mid_q), 1.0)
        small = mid * np.minimum(sample_quantiles(rng.random(int(free.sum())), small_q), 1.0)
        scales[free] = sigma[free, None] * np.stack([np.ones_like(mid), mid, small], axis=1)
        q = rng.standard_normal((int(free.sum()), 4))
        quats[free] = q / np.linalg.norm(q, axis=1, keepdims=True)
    return scales, quats


def broken_cloud(cloud: SplatCloud, seed: int = 0, offset_median: float = 0.054,
                 clip_fraction: float = 0.76, clip: float = 0.01) -> SplatCloud:
    """``cloud`` spoilt like a broken public LAM export: offsets of median length ``offset_median``
    (54 mm measured) from LAM's bounded activation (sigmoid(raw) - 0.5) * 0.2 of a too-wide raw, and
    ``clip_fraction`` (76 % measured) of the splats with every sigma at the clip (those already there
    count; every sigma is clamped to ``clip``, as LAM does). Renders as noise.
    Opacities, colours, frames and labels are kept."""
    if not 0.0 < offset_median < 0.17:  # components saturate at +-0.1: lengths below 0.1 * sqrt(3)
        raise ValueError(f"broken_cloud: offset_median {offset_median} m is not reachable by LAM's offsets")
    rng = np.random.default_rng(seed)
    n = cloud.num_splats
    z = rng.standard_normal((n, 3))

    def offsets_for(width: float) -> np.ndarray:
        return (_sigmoid(width * z) - 0.5) * 0.2

    lo, hi = 0.0, 1e3  # median length is increasing in the raw width: bisect for the target
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if np.median(np.linalg.norm(offsets_for(mid), axis=1)) < offset_median:
            lo = mid
        else:
            hi = mid
    scales = np.minimum(cloud.scales, clip)
    at_clip = scales.max(axis=1) >= clip * (1 - 1e-4)
    free = np.nonzero(~at_clip)[0]
    hit = rng.permutation(free)[: max(0, int(round(clip_fraction * n)) - int(at_clip.sum()))]
    scales[hit] = clip
    return cloud.replace(offsets=offsets_for(0.5 * (lo + hi)), scales=scales,
                         source=f"broken_cloud({cloud.source}, seed={seed})")


def lam_trained_avatar(params: LamTrainedParams = LamTrainedParams(), avatar: Avatar | None = None) -> Avatar:
    """``avatar`` (an ``Avatar``; default the embedded ``synthetic_avatar()``) with its cloud replaced by
    ``lam_trained_cloud``, coloured as the embedded avatar is (region colours + procedural detail,
    carried through the subdivision)."""
    from avatarcheck.avatar import synthetic_avatar
    from avatarcheck.head.subdivide import subdivide_attributes
    from avatarcheck.splats.texture import detail_colors
    from avatarcheck.splats.trained import region_colors

    avatar = synthetic_avatar() if avatar is None else avatar
    rgb = detail_colors(avatar.head_sub, subdivide_attributes(region_colors(avatar.head), avatar.topology))
    return avatar.with_cloud(lam_trained_cloud(avatar.head_sub, avatar.topology.edges_sub, rgb, params))
