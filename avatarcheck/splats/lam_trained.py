"""A cloud with the statistics of a *real* trained LAM avatar, for any head (and a broken export).

The stand-in of ``splats.trained`` is idealised: flattened discs at 0.7 x the local edge length,
opacity 0.98, zero offsets, every eyeball splat on its eyeball. Real LAM exports look different,
and a check tuned only on the stand-in may not hold on them. This module generates a seeded cloud
that reproduces what was **measured on real LAM exports** (public trained avatars, one splat per
vertex of the once-subdivided FLAME head); the field of ``LamTrainedParams`` that carries each:

* lids: largest-axis sigma 2.5 mm over a 1.4 mm mean incident edge, ratio ~1.8
  (``sigma_edge_ratio``); lid opacity median 0.12 (``lid_opacity_median``);
* 10 % of all splats have a sigma at LAM's clip 0.01 m, LAM's scale activation being exp(raw)
  clamped to <= 0.01 (``clip_fraction``, ``clip``);
* opacities: the sigmoid of a wide distribution, the whole-cloud median well below 1
  (``opacity_logit_sd``, ``skin_opacity_median``);
* eyeball splats used as skin paint: about half of them sit more than 1.5 mm outside the eyeball
  sphere, over the lids and around the eye, with offsets of median 7 mm and 99th percentile 18 mm,
  opacity median 0.01 and sigma 3.9 mm; the other half stay on the eyeball (``paint_*``);
* offsets: LAM's activation (sigmoid(raw) - 0.5) * 0.2 keeps every component below 0.1 m
  (``offset_bound``);
* a broken public export: offsets of median 54 mm, 76 % of the sigmas at the clip; renders as
  noise (``broken_cloud``).

Consequence for label-based measures: the painting splats keep their ``eyeball_*`` labels and sit
in front of the lids, so an eyeball-share channel (the magenta shader's E) reads them at a full
blink (E max ~0.45-0.65 on ~6 % of a 256 px eye camera, in rings around the closed eyes of the
synthetic head; the stand-in: 0.07) although the RGB
render shows a closed, skin-coloured lid.

Choices that were *not* measured (documented at their fields): the whole-cloud opacity level
(``skin_opacity_median``), the sigma spread (``sigma_log_sd``), the size of the ordinary offsets
(``offset_median``: "small, ~1 mm"), which splats sit at the clip (the largest soft ones on the
scalp, the back of the head and the neck, never the face, lids or eyes, as in real exports),
which eyeball splats paint skin (the ones hidden under the skin, nearest to it; the iris, pupil and
the sclera in the eye opening stay, so the open eye still renders) and the sigma of the eyeball
splats that stay (``eyeball_sigma_edge_ratio``: 1.0, so the cornea does not poke through the closed
lid).

Relative statistics (sigma / edge) are applied per head; absolute ones (the eyeball paint's 7 mm
offsets and 3.9 mm sigma) are anatomical and kept in metres. Tangent frames and baked-light
colours are the stand-in's (``trained_like_cloud``); labels are unchanged: painting eyeball splats
stay labelled ``eyeball_*``, as they are in LAM (they are bound to the eyeball's vertices).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from avatarcheck.geometry.mesh import mean_incident_edge_length, vertex_normals
from avatarcheck.head.model import HeadModel
from avatarcheck.splats.cloud import SplatCloud, label_code, rgb_to_sh
from avatarcheck.splats.plausibility import eyeball_sphere
from avatarcheck.splats.trained import TrainedCloudParams, trained_like_cloud

if TYPE_CHECKING:
    from avatarcheck.avatar import Avatar

SIDES = ("left", "right")
# Sets that are face, eyes or mouth (ours and FLAME_masks.pkl's, as the loader names them): splats
# there are never pushed to the clip (real exports clip the large soft splats of the scalp, the back
# of the head and the neck).
FACE_SETS = ("face", "lips", "nose", "forehead", "eye_region", "eye_region_left", "eye_region_right",
             "lid_upper_left", "lid_upper_right", "lid_lower_left", "lid_lower_right",
             "eyeball_left", "eyeball_right")


@dataclasses.dataclass(frozen=True)
class LamTrainedParams:
    """Targets, each from real LAM exports unless marked "chosen" (then the reason is given)."""

    # --- scales (linear sigmas) ---
    # Largest-axis sigma / mean incident edge length: lids measured 2.5 mm / 1.4 mm = 1.8. Applied to
    # every splat ("density-based scale"), so the lids reach it.
    sigma_edge_ratio: float = 1.8
    # Chosen: sigma / edge of the eyeball splats that stay on the eyeball. Not measured; kept
    # small so the front of the eyeball does not poke through the closed lid (splats composite in
    # the order of their centres' depth: a large cornea splat is drawn over the lid around it).
    eyeball_sigma_edge_ratio: float = 1.0
    # Chosen: log-normal spread of sigma around that scale (sd of ln sigma).
    sigma_log_sd: float = 0.35
    # Chosen (the stand-in's): normal sigma / tangent sigma, flattened discs in the tangent plane.
    normal_ratio: float = 0.3
    # LAM's scale activation clamps exp(raw) to <= 0.01 m.
    clip: float = 0.01
    # Measured: 10 % of all splats have a sigma at the clip.
    clip_fraction: float = 0.10
    # Chosen: non-clipped sigmas are softly compressed below this share of the clip, so the only
    # sigmas at the clip are the ``clip_fraction`` chosen ones.
    below_clip: float = 0.95

    # --- opacities: sigmoid(normal(logit(median), opacity_logit_sd)) ---
    # Measured: lid opacity median 0.12.
    lid_opacity_median: float = 0.12
    # Chosen: the rest of the skin. Real whole-cloud medians are "well below 1"; 0.4 keeps the
    # face readable with sigmas at 1.8 edges (coverage ~ opacity x (sigma / edge)^2).
    skin_opacity_median: float = 0.40
    # Chosen: the clip splats are large and soft.
    clip_opacity_median: float = 0.20
    # Chosen: eyeball splats that stay on the eyeball (the open eye must render).
    eyeball_opacity_median: float = 0.60
    # Chosen: "a wide distribution" of the pre-sigmoid value.
    opacity_logit_sd: float = 1.5
    # Chosen: the lids' is wider still: median 0.12 (measured) but enough nearly opaque splats that
    # the closed lid hides the eyeball at a full blink, as real avatars' lids do.
    lid_opacity_logit_sd: float = 2.5

    # --- eyeball splats used as skin paint ---
    # Measured: about half of the eyeball splats.
    paint_fraction: float = 0.5
    # Measured: they sit more than 1.5 mm outside the eyeball sphere.
    paint_outside: float = 1.5e-3
    # Measured: their offsets have median 7 mm and 99th percentile 18 mm (log-normal through both).
    paint_offset_median: float = 7e-3
    paint_offset_p99: float = 18e-3
    # Measured: opacity median 0.01, sigma (largest axis) 3.9 mm.
    paint_opacity_median: float = 0.01
    paint_sigma: float = 3.9e-3
    # Chosen: spreads of those two (logit sd, ln sd).
    paint_opacity_logit_sd: float = 1.0
    paint_sigma_log_sd: float = 0.25
    # Chosen: eyeball splats within this many degrees outside the eye opening's lid margin (polar
    # angle per azimuth, seen from the eyeball centre) stay: the sclera the open eye shows.
    paint_cap_margin: float = 3.0
    # Chosen: how far in front of the skin they paint lands (normal lift), metres.
    paint_lift: tuple[float, float] = (0.3e-3, 1.0e-3)

    # --- offsets of every other splat ---
    # Chosen ("small, ~1 mm"): median offset length, mostly tangential (a lid splat pushed 1 mm
    # inwards would sink into the eyeball).
    offset_median: float = 1e-3
    offset_normal_sd: float = 0.1e-3
    # LAM's offset activation (sigmoid(raw) - 0.5) * 0.2: |component| < 0.1 m.
    offset_bound: float = 0.1

    seed: int = 0


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))  # 1 / (1 + exp(-x)) without overflow


def _set(head_sub: HeadModel, name: str) -> np.ndarray:
    return np.asarray(head_sub.vertex_sets.get(name, np.zeros(0, np.int64)), np.int64)


def _clip_set(head_sub: HeadModel, sigma: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """``count`` splat indices to sit at the clip: the largest (raw sigma) splats off the face,
    lids and eyes; skin splats of the face only if the head has too few others."""
    n = len(sigma)
    skin = labels == label_code("skin")
    face = np.zeros(n, bool)
    for name in FACE_SETS:
        face[_set(head_sub, name)] = True
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


def _painters(head_sub: HeadModel, side: str, centre: np.ndarray, radius: float, normals: np.ndarray,
              params: LamTrainedParams) -> tuple[np.ndarray, np.ndarray]:
    """(eyeball splat indices that paint skin, the skin vertices they may paint) for one eye.

    Painters: eyeball splats outside the visible cap (iris, pupil and the sclera out to the eye
    opening's lid margin per azimuth, plus paint_cap_margin), nearest to the skin around the eye first. Canvas: the
    eye region's skin facing forward (in front of the eyeball centre).
    """
    v = head_sub.v_template.astype(np.float64)
    eyeball = _set(head_sub, f"eyeball_{side}")
    eye_sets = np.concatenate([_set(head_sub, f"eyeball_{s}") for s in SIDES])
    region = _set(head_sub, f"eye_region_{side}")
    if not len(region):  # no eye region set: the skin within 3 eyeball radii
        region = np.nonzero(np.linalg.norm(v - centre, axis=1) < 3 * radius)[0]
    canvas = np.setdiff1d(region, eye_sets)
    canvas = canvas[(v[canvas, 2] > centre[2]) & (normals[canvas, 2] > 0.2)]
    if not len(canvas):
        return np.zeros(0, np.int64), canvas
    theta, phi = _polar(v[eyeball] - centre)
    opening = _set(head_sub, f"eye_opening_{side}")
    if len(opening):  # the opening's lid margin, as a polar angle per azimuth, plus a margin
        o_theta, o_phi = _polar(v[opening] - centre)
        order = np.argsort(o_phi)
        cap = np.interp(phi, o_phi[order], o_theta[order], period=2 * np.pi) + np.radians(params.paint_cap_margin)
    else:
        cap = np.full(len(eyeball), np.radians(45.0))
    keep = np.zeros(len(v), bool)
    for name in (f"iris_{side}", f"pupil_{side}"):
        keep[_set(head_sub, name)] = True
    eligible = eyeball[(theta > cap) & ~keep[eyeball]]
    count = min(len(eligible), int(round(params.paint_fraction * len(eyeball))))
    # distance to the nearest canvas vertex, in chunks (eyeball x canvas can be large)
    near = np.empty(len(eligible))
    for s in range(0, len(eligible), 512):
        blk = eligible[s:s + 512]
        near[s:s + 512] = np.sqrt(((v[blk, None] - v[None, canvas]) ** 2).sum(-1)).min(axis=1)
    return eligible[np.argsort(near, kind="stable")[:count]], canvas


def lam_trained_cloud(head_sub: HeadModel, edges_sub: np.ndarray, rgb: np.ndarray,
                      params: LamTrainedParams = LamTrainedParams()) -> SplatCloud:
    """One splat per subdivided vertex with real LAM exports' statistics (module docstring).

    head_sub: the once-subdivided head; edges_sub (E', 2) its edges; rgb (N, 3) colours in [0, 1]
    (as for ``trained_like_cloud``). Deterministic per ``params.seed``. Heads without lid or eyeball
    sets get the parts that apply (no painting eyeballs without eyeballs).
    """
    rng = np.random.default_rng(params.seed)
    stand_in = TrainedCloudParams()
    base = trained_like_cloud(head_sub, edges_sub, rgb, stand_in)  # frames, lit colours, labels
    v = head_sub.v_template.astype(np.float64)
    n = head_sub.num_vertices
    labels = base.labels
    lit = np.clip(base.rgb.astype(np.float64), 0.0, 1.0)
    normals = vertex_normals(v, head_sub.faces)
    lid = labels == label_code("lid")
    eyeball = np.isin(labels, [label_code(s) for s in ("eyeball_left", "eyeball_right")])

    # Sigmas: log-normal around sigma_edge_ratio x edge; the largest off-face ones at the clip.
    edge = mean_incident_edge_length(v, edges_sub, head_sub.name)
    ratio = np.where(eyeball, params.eyeball_sigma_edge_ratio, params.sigma_edge_ratio)
    sigma = ratio * edge * np.exp(params.sigma_log_sd * rng.standard_normal(n))
    knee = 0.8 * params.below_clip * params.clip  # soft compression above the knee, below the clip
    room = params.below_clip * params.clip - knee
    sigma = np.where(sigma > knee, knee + room * (1 - np.exp(-(sigma - knee) / room)), sigma)
    at_clip = _clip_set(head_sub, sigma, labels, int(round(params.clip_fraction * n)))
    sigma[at_clip] = params.clip

    # Opacities: sigmoid of a normal around each region's median.
    mu = np.full(n, _logit(params.skin_opacity_median))
    mu[lid] = _logit(params.lid_opacity_median)
    mu[eyeball] = _logit(params.eyeball_opacity_median)
    mu[at_clip] = _logit(params.clip_opacity_median)
    sd = np.where(lid, params.lid_opacity_logit_sd, params.opacity_logit_sd)
    opacity = _sigmoid(mu + sd * rng.standard_normal(n))

    # Offsets: small and mostly tangential, within LAM's bound.
    tangent_sd = params.offset_median / np.sqrt(2 * np.log(2))  # median of a 2-D normal's length
    t = rng.standard_normal((n, 3)) * tangent_sd
    t -= (t * normals).sum(axis=1, keepdims=True) * normals
    offsets = t + normals * (params.offset_normal_sd * rng.standard_normal(n))[:, None]

    # Eyeball splats painting the skin around the eye.
    colour = lit.copy()
    quats = base.quats.copy()
    paint_sigma = np.zeros(n)
    painters_all = []
    log_sd = np.log(params.paint_offset_p99 / params.paint_offset_median) / 2.3263478740408408
    for side in SIDES:
        sphere = eyeball_sphere(head_sub, side)
        if sphere is None:
            continue
        centre, radius = sphere
        painters, canvas = _painters(head_sub, side, centre, radius, normals, params)
        if not len(painters):
            continue
        dist = np.sqrt(((v[painters, None] - v[None, canvas]) ** 2).sum(-1))  # (P, C)
        # Offset lengths from the measured log-normal, matched by rank to how far each painter is
        # from the skin (the nearest paint the nearest skin), so the lengths stay feasible.
        want = np.empty(len(painters))
        want[np.argsort(dist.min(axis=1), kind="stable")] = np.sort(
            params.paint_offset_median * np.exp(log_sd * rng.standard_normal(len(painters))))
        jitter = rng.uniform(0.0, 0.5e-3, dist.shape)  # a random point of the ring at that distance
        dest_v = canvas[np.argmin(np.abs(dist - want[:, None]) + jitter, axis=1)]
        lift = rng.uniform(*params.paint_lift, len(painters))
        dest = v[dest_v] + normals[dest_v] * lift[:, None]
        # in front of the skin AND clear of the eyeball sphere by more than paint_outside
        r = np.linalg.norm(dest - centre, axis=1)
        need = radius + params.paint_outside + rng.uniform(0.1e-3, 0.5e-3, len(painters))
        dest = np.where((r < need)[:, None], centre + (dest - centre) * (need / r)[:, None], dest)
        offsets[painters] = dest - v[painters]
        colour[painters] = lit[dest_v]  # the skin they paint, in its frame
        quats[painters] = base.quats[dest_v]
        opacity[painters] = _sigmoid(_logit(params.paint_opacity_median)
                                     + params.paint_opacity_logit_sd * rng.standard_normal(len(painters)))
        paint_sigma[painters] = params.paint_sigma * np.exp(params.paint_sigma_log_sd
                                                            * rng.standard_normal(len(painters)))
        painters_all.append(painters)
    if painters_all:
        p = np.concatenate(painters_all)
        sigma[p] = np.minimum(paint_sigma[p], params.below_clip * params.clip)

    bound = params.offset_bound * (1 - 1e-4)
    offsets = np.clip(offsets, -bound, bound)
    scales = np.stack([sigma, sigma, params.normal_ratio * sigma], axis=1)
    return SplatCloud(
        offsets=offsets,
        scales=scales,
        quats=quats,
        opacities=np.clip(opacity, 0.0, 1.0),
        sh=rgb_to_sh(np.clip(colour, 0.0, 1.0)),
        labels=labels,
        source=f"lam_trained_cloud({head_sub.name}, seed={params.seed})",
    )


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
