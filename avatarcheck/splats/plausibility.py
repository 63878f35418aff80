"""Is a splat cloud plausible as a trained LAM avatar? Summary statistics and one table of ranges.

A broken public LAM export (offsets of median 54 mm, 76 % of the sigmas at LAM's 0.01 m clip)
loads, poses and renders without an error, as noise; every check downstream then measures noise.
``cloud_statistics`` summarises a cloud against its anchor mesh, ``implausible`` compares the
summary with ``PLAUSIBLE_RANGES`` and names each statistic outside its range.

The ranges are deliberately generous: they must pass the embedded stand-in (``splats.trained``:
opaque discs at 0.7 edges, zero offsets), clouds with the statistics measured on real trained LAM
avatars (``splats.lam_trained``) and realistic variations of both, and fail only clouds no LAM
training produces. A statistic that does not apply (no lid or eyeball splats, a head without
eyeball sets) is NaN and is not judged.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from avatarcheck.geometry.sphere import fit_sphere

from avatarcheck.errors import InputError
from avatarcheck.geometry.mesh import mean_incident_edge_length
from avatarcheck.head.model import HeadModel
from avatarcheck.splats.cloud import SplatCloud, label_code

# An eyeball splat further than this outside its eyeball's sphere is "outside" (painting skin).
OUTSIDE_MARGIN = 1.5e-3
# A sigma within this relative distance of the clip is "at the clip" (PLY round trips store log
# scales in float32).
CLIP_RTOL = 1e-4


@dataclasses.dataclass(frozen=True)
class CloudStatistics:
    """Summary of a cloud against its anchors. Lengths in mm; sigma = a splat's largest axis."""

    num_splats: int
    offset_median_mm: float          # median offset length
    offset_p99_mm: float             # 99th percentile offset length
    offset_max_component_mm: float   # largest |offset component| (LAM's activation: < 100 mm)
    clip_fraction: float             # share of splats with a sigma at the clip
    sigma_median_mm: float           # median sigma
    sigma_edge_ratio: float          # median over splats of sigma / mean incident edge length
    lid_sigma_edge_ratio: float      # median lid sigma / median lid mean incident edge (NaN: no lids)
    opacity_median: float
    opacity_p10: float
    opacity_p90: float
    lid_opacity_median: float        # NaN: no lid splats
    eyeball_outside_fraction: float  # share of eyeball splats > 1.5 mm outside their eyeball sphere
    eyeball_opacity_median: float    # all eyeball splats (NaN: none)
    eyeball_outside_opacity_median: float  # the outside ones (NaN: none outside)
    eyeball_outside_offset_median_mm: float  # their offset lengths (NaN: none outside)

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class PlausibilityFinding:
    statistic: str
    value: float
    expected: str
    message: str


# statistic -> (low, high), inclusive: generous envelopes of trained LAM avatars. Reference values:
# real exports (measured), the lam_trained cloud on the synthetic head, the stand-in, the broken export.
PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    # real: ~1 mm for 90 % of the splats (eyeball paint is the other tail); lam_trained 1.1; stand-in 0;
    # broken 54. Generous: hair modelled by offsets from the scalp may move the median.
    "offset_median_mm": (0.0, 15.0),
    # real eyeball paint reaches p99 18 mm (10 % of the splats); lam_trained 12.5; stand-in 0; broken
    # ~100. Generous for hair volume (LAM's bound allows 173 mm).
    "offset_p99_mm": (0.0, 70.0),
    # LAM's offset activation (sigmoid(raw) - 0.5) * 0.2 cannot reach 100 mm.
    "offset_max_component_mm": (0.0, 100.0),
    # real 0.10; lam_trained 0.10; stand-in 0; broken 0.76.
    "clip_fraction": (0.0, 0.35),
    # real lids 2.5 mm; lam_trained 3.6 (synthetic head, coarser than FLAME off the face); stand-in
    # ~1; broken 10 (the clip).
    "sigma_median_mm": (0.1, 7.0),
    # density calibration: real lids 1.8; lam_trained 1.8; stand-in 0.7; broken > 5.
    "sigma_edge_ratio": (0.2, 4.0),
    "lid_sigma_edge_ratio": (0.3, 4.0),
    # real: well below 1 (lids 0.12); lam_trained 0.30; stand-in 0.98. Below 0.02 nothing renders.
    "opacity_median": (0.02, 1.0),
    # something must be nearly opaque for a face to render: lam_trained 0.81; stand-in 0.98.
    "opacity_p90": (0.3, 1.0),
    "lid_opacity_median": (0.02, 1.0),
    # real ~0.5 (eyeball splats painting skin); lam_trained 0.5; stand-in 0; broken ~1.
    "eyeball_outside_fraction": (0.0, 0.8),
}

RANGE_NOTES: dict[str, str] = {
    "offset_median_mm": "offsets this large detach the splats from the mesh (a broken export renders as noise)",
    "offset_p99_mm": "even the eyeball splats LAM uses as skin paint stay within ~18 mm (p99)",
    "offset_max_component_mm": "LAM's offset activation (sigmoid(raw) - 0.5) * 0.2 stays below 100 mm",
    "clip_fraction": "trained LAM avatars have ~10 % of the sigmas at the clip; most here are saturated",
    "sigma_median_mm": "trained splats are a few mm (lids 2.5 mm)",
    "sigma_edge_ratio": "trained sigmas are calibrated to the mesh density (~0.7-1.8 edge lengths)",
    "lid_sigma_edge_ratio": "trained lid sigmas are ~1.8 mean incident edges",
    "opacity_median": "a cloud this transparent renders nothing",
    "opacity_p90": "some splats must be nearly opaque for a face to render",
    "lid_opacity_median": "lids this transparent do not close the eye",
    "eyeball_outside_fraction": "about half of a trained avatar's eyeball splats paint skin; nearly all "
                                "away from the eyeball is not a trained avatar",
}


def eyeball_sphere(head_sub: HeadModel, side: str) -> tuple[np.ndarray, float] | None:
    """(centre (3,), radius) of one eyeball's vertex set, or None when the head has none (< 4 vertices).

    The centre is the least-squares (algebraic) sphere fit, not the vertex mean: the mean is biased
    towards the densely meshed cornea (2 mm forward on the synthetic head, which would put a third of
    the untouched eyeball splats "outside"). The radius is the median distance to that centre.
    """
    ids = head_sub.vertex_sets.get(f"eyeball_{side}")
    if ids is None or len(ids) < 4:
        return None
    return fit_sphere(head_sub.v_template[ids])


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if x.size else math.nan


def cloud_statistics(cloud: SplatCloud, head_sub: HeadModel, edges_sub: np.ndarray,
                     clip: float = 0.01) -> CloudStatistics:
    """Summarise ``cloud`` (one splat per vertex of ``head_sub``; ``edges_sub`` its edges)."""
    n = cloud.num_splats
    if n != head_sub.num_vertices:
        raise InputError(cloud.source, "splat count", f"{head_sub.num_vertices} (one per vertex of {head_sub.name})",
                         str(n))
    if n == 0:
        raise InputError(cloud.source, "splat count", "at least one splat", "0")
    v = head_sub.v_template.astype(np.float64)
    offsets = cloud.offsets.astype(np.float64)
    length = np.linalg.norm(offsets, axis=1)
    sigma = cloud.scales.max(axis=1).astype(np.float64)
    edge = mean_incident_edge_length(v, edges_sub, head_sub.name)
    op = cloud.opacities.astype(np.float64)
    lid = cloud.labels == label_code("lid")

    outside = np.zeros(n, bool)
    judged = np.zeros(n, bool)  # eyeball splats whose eyeball has a sphere
    for side in ("left", "right"):
        mine = cloud.labels == label_code(f"eyeball_{side}")
        sphere = eyeball_sphere(head_sub, side)
        if sphere is None or not mine.any():
            continue
        centre, radius = sphere
        judged |= mine
        outside[mine] = np.linalg.norm(v[mine] + offsets[mine] - centre, axis=1) > radius + OUTSIDE_MARGIN
    eyeball = np.isin(cloud.labels, [label_code("eyeball_left"), label_code("eyeball_right")])

    return CloudStatistics(
        num_splats=n,
        offset_median_mm=float(np.median(length)) * 1e3,
        offset_p99_mm=float(np.percentile(length, 99)) * 1e3,
        offset_max_component_mm=float(np.abs(offsets).max()) * 1e3,
        clip_fraction=float((sigma >= clip * (1 - CLIP_RTOL)).mean()),
        sigma_median_mm=float(np.median(sigma)) * 1e3,
        sigma_edge_ratio=float(np.median(sigma / edge)),
        lid_sigma_edge_ratio=_median(sigma[lid]) / _median(edge[lid]) if lid.any() else math.nan,
        opacity_median=float(np.median(op)),
        opacity_p10=float(np.percentile(op, 10)),
        opacity_p90=float(np.percentile(op, 90)),
        lid_opacity_median=_median(op[lid]),
        eyeball_outside_fraction=float(outside[judged].mean()) if judged.any() else math.nan,
        eyeball_opacity_median=_median(op[eyeball]),
        eyeball_outside_opacity_median=_median(op[outside]),
        eyeball_outside_offset_median_mm=_median(length[outside]) * 1e3,
    )


def implausible(stats: CloudStatistics,
                ranges: dict[str, tuple[float, float]] | None = None) -> list[PlausibilityFinding]:
    """The statistics outside their plausible range (``PLAUSIBLE_RANGES`` by default); empty: plausible.

    NaN statistics (not applicable to this cloud) are not judged."""
    found = []
    values = stats.as_dict()
    for name, (lo, hi) in (PLAUSIBLE_RANGES if ranges is None else ranges).items():
        value = float(values[name])
        if math.isnan(value) or lo <= value <= hi:
            continue
        expected = f"[{lo:g}, {hi:g}]"
        note = RANGE_NOTES.get(name, "")
        found.append(PlausibilityFinding(
            name, value, expected,
            f"{name} = {value:.4g} is outside the range of trained LAM avatars {expected}"
            + (f": {note}" if note else "")))
    return found
