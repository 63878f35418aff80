"""``HeadModel``: FLAME's arrays in FLAME's layout, plus named vertex sets.

Shapes (V vertices, F faces, S shape components, E PCA expression components, J = 5 joints):

==================  ===============  ==================================================
field               shape            meaning
==================  ===============  ==================================================
v_template          (V, 3) float32   canonical mesh, metres, y up, face towards +z
faces               (F, 3) int64     triangles, counter-clockwise seen from outside
shapedirs           (V, 3, S)        identity blendshapes
arkit_basis         (52, V, 3)       ARKit-52 displacements, ``ARKIT_NAMES`` order
exprdirs            (V, 3, E)|None   FLAME's 100-dim PCA expression (optional)
posedirs            (36, V*3)|None   pose correctives, smplx layout (optional)
J_regressor         (5, V)           joints = J_regressor @ vertices
parents             (5,) int64       kinematic tree, parents[0] = -1
lbs_weights         (V, 5)           skinning weights, rows sum to 1
vertex_sets         name -> (K,)     index sets: eyeball_left, lid_upper_left, ...
==================  ===============  ==================================================

Validation (on construction and ``replace``): real-valued arrays only (no bool, complex, string or
datetime), integer faces, parents and vertex sets, finite values of magnitude at most
``MAX_MAGNITUDE``, skinning rows in [0, 1] summing to 1, and the model limits ``MAX_VERTICES``,
``MAX_FACES``, ``MAX_BASIS``, ``MAX_JOINTS`` (which loaders also check before allocating).

Joints in FLAME order: global, neck, jaw, eye_left, eye_right. "Left" is the subject's left,
which is +x (ARKit's ``...Left`` channels act there too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from avatarcheck.arkit import NUM_ARKIT
from avatarcheck.checks import checked_array
from avatarcheck.errors import InputError

JOINT_NAMES: tuple[str, ...] = ("global", "neck", "jaw", "eye_left", "eye_right")
NUM_JOINTS = len(JOINT_NAMES)
FLAME_PARENTS = np.array([-1, 0, 1, 1, 1], dtype=np.int64)

# Sane model limits (FLAME: 5023 vertices, 9976 faces, 400 basis dims, 5 joints). Loaders check
# them before allocating anything sized by a file's header; validation checks them again.
MAX_VERTICES = 1_000_000
MAX_FACES = 4_000_000
MAX_BASIS = 10_000
MAX_JOINTS = 64
# |value| bound for positions and bases in metres: finite but absurd values (1e30) are garbage.
MAX_MAGNITUDE = 1e4
# Skinning weights: each in [0, 1] and each row summing to 1, within float32 rounding of a sum.
WEIGHT_TOL = 1e-3


@dataclasses.dataclass(frozen=True, eq=False)
class HeadModel:
    v_template: np.ndarray
    faces: np.ndarray
    shapedirs: np.ndarray
    arkit_basis: np.ndarray
    J_regressor: np.ndarray
    parents: np.ndarray
    lbs_weights: np.ndarray
    exprdirs: np.ndarray | None = None
    posedirs: np.ndarray | None = None
    vertex_sets: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    name: str = "head"

    def __post_init__(self) -> None:
        src = f"HeadModel({self.name})"
        # index sets must already be integers: strings or floats are not silently converted
        sets = {str(k): checked_array(v, src, f"vertex_sets[{k!r}]", (None,), kind="int", dtype=np.int64)
                for k, v in dict(self.vertex_sets).items()}
        object.__setattr__(self, "vertex_sets", MappingProxyType(sets))
        validate_head_arrays(self)

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    def vertex_set(self, name: str) -> np.ndarray:
        try:
            return self.vertex_sets[name]
        except KeyError:
            raise KeyError(f"{self.name}: no vertex set {name!r}; have {sorted(self.vertex_sets)}") from None

    def replace(self, **changes) -> "HeadModel":
        """A copy with some arrays replaced (validated again)."""
        return dataclasses.replace(self, **changes)


def checked_real(x: object, source: str, field: str, shape: tuple, sizes: dict[str, int],
                 limit: float | None = MAX_MAGNITUDE) -> np.ndarray:
    """``checked_array`` for a float field: also refuses bool (numpy would read True as 1.0)."""
    arr = checked_array(x, source, field, shape, kind="real", sizes=sizes, limit=limit)
    if arr.dtype.kind == "b":
        raise InputError(source, field, "a real-valued (float or integer) array", "dtype bool")
    return arr


def check_size(source: str, field: str, what: str, value: int, maximum: int) -> None:
    """``value`` (a count read from a file) at most ``maximum``: checked before allocating by it."""
    if value > maximum:
        raise InputError(source, field, f"at most {maximum} {what}", f"{value}")


def check_skinning_weights(w: np.ndarray, source: str, field: str = "lbs_weights") -> None:
    """w (V, J): each weight in [0, 1] and each row summing to 1 (within ``WEIGHT_TOL``)."""
    if not w.size:
        return
    lo, hi = float(w.min()), float(w.max())
    if lo < -WEIGHT_TOL or hi > 1 + WEIGHT_TOL:
        raise InputError(source, field, "skinning weights in [0, 1]", f"range [{lo:.4g}, {hi:.4g}]")
    off = np.abs(w.sum(axis=1, dtype=np.float64) - 1.0)
    if (off > WEIGHT_TOL).any():
        row = int(np.argmax(off))
        raise InputError(source, field, f"rows summing to 1 (+-{WEIGHT_TOL:g})",
                         f"{int((off > WEIGHT_TOL).sum())} rows that do not (vertex {row} sums to "
                         f"{float(w[row].sum(dtype=np.float64)):.4g})")


def validate_head_arrays(m: HeadModel) -> None:
    """Check kinds, shapes, sizes, index ranges, finiteness and magnitudes; ``InputError`` names the field."""
    src = f"HeadModel({m.name})"
    sz: dict[str, int] = {}
    checked_real(m.v_template, src, "v_template", ("V", 3), sz)
    n_v = sz["V"]
    check_size(src, "v_template", "vertices", n_v, MAX_VERTICES)
    faces = checked_array(m.faces, src, "faces", (None, 3), kind="int")
    check_size(src, "faces", "faces", len(faces), MAX_FACES)
    if len(faces) == 0:  # no face: no edges to subdivide, no scale ratio, nothing to render
        raise InputError(src, "faces", "at least one triangle", "none")
    if faces.min() < 0 or faces.max() >= n_v:
        raise InputError(src, "faces", f"indices in [0, {n_v})", f"range [{faces.min()}, {faces.max()}]")
    # A triangle naming a vertex twice has no area and no normal; FLAME has none.
    repeated = np.flatnonzero((faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2])
                              | (faces[:, 0] == faces[:, 2]))
    if repeated.size:
        raise InputError(src, "faces", "three distinct vertices per triangle",
                         f"{repeated.size} triangle(s) repeating a vertex, first faces[{repeated[0]}] = "
                         f"{faces[repeated[0]].tolist()}")
    check_size(src, "shapedirs", "basis dimensions", checked_real(m.shapedirs, src, "shapedirs", ("V", 3, None),
                                                                  sz).shape[2], MAX_BASIS)
    checked_real(m.arkit_basis, src, "arkit_basis", (NUM_ARKIT, "V", 3), sz)
    if m.exprdirs is not None:
        check_size(src, "exprdirs", "basis dimensions", checked_real(m.exprdirs, src, "exprdirs", ("V", 3, None),
                                                                     sz).shape[2], MAX_BASIS)
    checked_real(m.J_regressor, src, "J_regressor", ("J", "V"), sz)
    n_j = sz["J"]
    check_size(src, "J_regressor", "joints", n_j, MAX_JOINTS)
    parents = checked_array(m.parents, src, "parents", ("J",), kind="int", sizes=sz)
    check_skinning_weights(checked_real(m.lbs_weights, src, "lbs_weights", ("V", "J"), sz, limit=None), src)
    if m.posedirs is not None:
        checked_real(m.posedirs, src, "posedirs", ((n_j - 1) * 9, n_v * 3), sz)
    if n_j == 0 or parents[0] != -1 or any(not (0 <= p < i) for i, p in enumerate(parents[1:], start=1)):
        raise InputError(src, "parents", "parents[0] = -1 and 0 <= parents[i] < i", str(parents.tolist()))
    for name, idx in m.vertex_sets.items():
        if idx.size and (idx.min() < 0 or idx.max() >= n_v):
            raise InputError(src, f"vertex_sets[{name!r}]", f"indices in [0, {n_v})",
                             f"range [{idx.min()}, {idx.max()}]")
