"""A sculpt checked at bake time against the override layer's own limits (audit N6, N12).

``bake --mesh`` writes assets that the override layer (``edit.overrides``) checks again when it
loads them: coordinates within ``MAX_COORD_M``, a head-sized mesh (``MIN_EXTENT_M``), and sigma
multipliers (the scale ratio, the Jacobians' singular values) within ``PLAUSIBLE_FACTOR``. Checking
the same limits here turns "the renderer refuses the assets" into an error at the bake that names
the OBJ, the vertex in the file's own numbering and the likely cause. In the order they run:

============  =========================================================  ==================================
check         refuses                                                    says
============  =========================================================  ==================================
units         the sculpt's robust size (median distance from its         the likely unit and the scale to
              median point) beyond ``PLAUSIBLE_FACTOR`` x the avatar's   apply ("centimetres: scale by 0.01")
extent        every vertex within ``MIN_EXTENT_M`` of the others         collapsed to a point
coordinates   ``|x| > MAX_COORD_M`` (a stray vertex, an overflow 1e30)   the vertices and their distance
mirror        a sculpt whose best affine fit to the avatar has det < 0   mirrored: an axis is flipped
scale ratio   edge lengths around a vertex changed beyond the factor     the vertices (shuffled vertex
              (shuffled vertex order, noise, spikes)                     order, noise or spikes)
Jacobians     det J <= 0 (a fold) or a singular value beyond the factor  the vertices
============  =========================================================  ==================================

The first four look at the file's own vertices (``check_sculpt_vertices``), the last two at the
subdivided mesh the assets live on (``check_sculpt_stretch``); their vertex indices are given back
in the file's numbering (``FileNumbering``: 1-based, as OBJ counts, and an edge midpoint of a coarse
file as the two vertices it lies between).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from avatarcheck.edit.corrections import scale_ratio
from avatarcheck.edit.overrides import MAX_COORD_M, MIN_EXTENT_M, PLAUSIBLE_FACTOR
from avatarcheck.edit.rigid_eyes import affine_fit
from avatarcheck.errors import InputError
from avatarcheck.geometry.mesh import mean_incident_edge_length

#: Uniform scales that mean "exported in other units" (the avatar is in metres): factor -> unit name.
#: Only scales beyond PLAUSIBLE_FACTOR are refused, so feet (3.28x) never need a name.
UNIT_SCALES: tuple[tuple[float, str], ...] = (
    (100.0, "centimetres"), (1000.0, "millimetres"), (1e6, "micrometres"), (1.0 / 0.0254, "inches"),
    (0.001, "kilometres"),
)
#: How close (relative) a measured scale must be to a unit's factor to name the unit.
UNIT_MATCH = 0.15
#: A mirror is named only when an affine map explains the sculpt this well (R^2): a shuffled vertex
#: order also gives a meaningless fit, whose determinant says nothing about mirroring.
MIRROR_FIT_R2 = 0.5
#: How many vertices an error lists.
LISTED = 5


@dataclasses.dataclass(frozen=True)
class FileNumbering:
    """Subdivided vertex indices -> the sculpt file's own vertex numbers (1-based, as OBJ counts them).

    A coarse file holds the first ``file_vertices`` subdivided vertices; subdivided vertex
    ``file_vertices + i`` is the midpoint of coarse edge ``coarse_edges[i]`` (E, 2), which the file never
    had, so it is named by the two vertices it lies between. ``coarse_edges`` is None for a file at the
    subdivided resolution (its numbering is the subdivided one).
    """

    source: str
    file_vertices: int
    coarse_edges: np.ndarray | None = None

    def name(self, index: int) -> str:
        if self.coarse_edges is None or index < self.file_vertices:
            return f"vertex {index + 1}"
        a, b = (int(x) + 1 for x in self.coarse_edges[index - self.file_vertices])
        return f"the midpoint of vertices {a} and {b}"

    def names(self, indices: np.ndarray, detail: np.ndarray | None = None, fmt: str = "{:.3g}") -> str:
        """The first ``LISTED`` of ``indices`` (K,) by name, each with ``detail`` (K,) formatted by ``fmt``."""
        idx = [int(i) for i in np.asarray(indices).ravel()]
        shown = [self.name(i) + ("" if detail is None else f" ({fmt.format(float(detail[k]))})")
                 for k, i in enumerate(idx[:LISTED])]
        more = f" and {len(idx) - LISTED} more" if len(idx) > LISTED else ""
        return f"{', '.join(shown)}{more} (1-based, as numbered in the OBJ)"

    def face(self, corners: np.ndarray) -> str:
        """A face of the file (3,) zero-based -> its OBJ line, ``f 1 2 3``."""
        return "f " + " ".join(str(int(c) + 1) for c in corners)


def _spread(v: np.ndarray) -> float:
    """Robust size of a point set (N, 3): the median distance from its per-axis median point."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.median(np.linalg.norm(v - np.median(v, axis=0), axis=1)))


def unit_hint(scale: float) -> str:
    """What a uniform ``scale`` against a metre avatar suggests: the unit, and the factor to apply."""
    for factor, unit in UNIT_SCALES:
        if abs(np.log(scale / factor)) < np.log1p(UNIT_MATCH):
            return f"it looks exported in {unit}; scale it by {1.0 / factor:g}"
    return f"scale it by {1.0 / scale:.3g} if it was exported in other units"


def count_vertices(count: int) -> str:
    """'1 vertex', '3 vertices'."""
    return f"{count} vertex" if count == 1 else f"{count} vertices"


def _check_units(canonical: np.ndarray, edited: np.ndarray, source: str) -> None:
    size, rest = _spread(edited), _spread(canonical)
    scale = size / rest
    # size 0 is the extent check's, an overflow (inf) the coordinate check's
    if size > 0 and np.isfinite(scale) and not (1.0 / PLAUSIBLE_FACTOR <= scale <= PLAUSIBLE_FACTOR):
        raise InputError(source, "v", f"coordinates in metres like the avatar's (a size within "
                         f"{PLAUSIBLE_FACTOR:g}x of its size)",
                         f"a sculpt {scale:.3g}x the avatar's size (median distance from its centre {size:.3g} "
                         f"against {rest:.3g}): {unit_hint(scale)}")


def _check_extent(edited: np.ndarray, source: str) -> None:
    with np.errstate(over="ignore", invalid="ignore"):
        extent = float(np.ptp(edited, axis=0).max())
    if extent < MIN_EXTENT_M:
        raise InputError(source, "v", f"a head-sized mesh (extent >= {MIN_EXTENT_M:g} m)",
                         f"extent {extent:.3g} m: the sculpt is collapsed to a point")


def _check_coordinates(edited: np.ndarray, numbering: FileNumbering) -> None:
    reach = np.abs(edited).max(axis=1)
    bad = np.flatnonzero(reach > MAX_COORD_M)
    if len(bad):
        raise InputError(numbering.source, "v", f"coordinates within +-{MAX_COORD_M:g} m (metres, like the "
                         "avatar; the override layer's limit)",
                         f"{count_vertices(len(bad))} beyond it (a stray vertex or an overflow): "
                         f"{numbering.names(bad, reach[bad], 'at {:.3g} m')}")


def _check_mirror(canonical: np.ndarray, edited: np.ndarray, source: str) -> None:
    A, b = affine_fit(canonical, edited)
    residual = edited - (canonical @ A.T + b)
    spread = edited - edited.mean(axis=0)
    r2 = 1.0 - float((residual ** 2).sum()) / max(float((spread ** 2).sum()), 1e-300)
    det = float(np.linalg.det(A))
    if det < 0 and r2 > MIRROR_FIT_R2:
        raise InputError(source, "v", "the avatar's orientation (det J > 0: a sculpt, not a mirror image)",
                         f"a mirrored sculpt (its best affine fit to the avatar has det {det:.3g}): an axis was "
                         "flipped on export; flip it back")


def check_sculpt_vertices(canonical: np.ndarray, edited: np.ndarray, numbering: FileNumbering) -> None:
    """Units, extent, coordinates and mirroring of a sculpt's own vertices (module docstring).

    canonical, edited (N, 3) float64: the avatar's vertices and the file's, at the file's resolution.
    """
    _check_units(canonical, edited, numbering.source)
    _check_extent(edited, numbering.source)
    _check_coordinates(edited, numbering)
    _check_mirror(canonical, edited, numbering.source)


def sculpt_ratio(canonical: np.ndarray, edited: np.ndarray, edges: np.ndarray, numbering: FileNumbering
                 ) -> np.ndarray:
    """``corrections.scale_ratio`` (N_sub,) float32 of a sculpt, with a vertex whose edges all collapsed
    (a fan merged into it) named in the file's numbering rather than as a subdivided index."""
    after = mean_incident_edge_length(edited, edges, numbering.source)
    fan = np.flatnonzero(after <= 0)
    if len(fan):
        raise InputError(numbering.source, "v", "every vertex apart from at least one of its neighbours",
                         f"{count_vertices(len(fan))} with every neighbour merged onto it: {numbering.names(fan)}")
    return scale_ratio(canonical, edited, edges)


def check_sculpt_stretch(ratio: np.ndarray, jacobians: np.ndarray, numbering: FileNumbering) -> None:
    """The scale ratio (N_sub,) and Jacobians (N_sub, 3, 3) within the override layer's factor, det J > 0.

    Each sigma multiplier the renderer may apply (the ratio alone, or J's singular values) stays in
    ``[1 / PLAUSIBLE_FACTOR, PLAUSIBLE_FACTOR]``, the range ``check_plausible_scales`` accepts.
    """
    lo, hi = 1.0 / PLAUSIBLE_FACTOR, PLAUSIBLE_FACTOR
    r = np.asarray(ratio, np.float64)
    bad = np.flatnonzero((r < lo) | (r > hi))
    if len(bad):
        raise InputError(numbering.source, "v", f"edge lengths around every vertex within {hi:g}x of the "
                         "avatar's (the override layer's limit on sigma multipliers)",
                         f"{len(bad)} of {len(r)} vertices outside it (ratio {r.min():.3g}..{r.max():.3g}; a "
                         f"changed vertex order, noise or spikes move vertices far from their neighbours): "
                         f"{numbering.names(bad, r[bad], 'ratio {:.3g}')}")
    J = np.asarray(jacobians, np.float64)
    sv = np.linalg.svd(J, compute_uv=False)
    det = np.linalg.det(J)
    bad = np.flatnonzero((det <= 0) | (sv[:, 0] > hi) | (sv[:, -1] < lo))
    if len(bad):
        raise InputError(numbering.source, "v", f"a local deformation that keeps orientation (det J > 0) and "
                         f"changes lengths within {hi:g}x",
                         f"{count_vertices(len(bad))} where the sculpt folds or squashes (det J from "
                         f"{det.min():.3g}, singular values {sv.min():.3g}..{sv.max():.3g}): "
                         f"{numbering.names(bad, det[bad], 'det J {:.3g}')}")
