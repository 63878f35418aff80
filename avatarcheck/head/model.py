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

Joints in FLAME order: global, neck, jaw, eye_left, eye_right. "Left" is the subject's left,
which is +x (ARKit's ``...Left`` channels act there too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from avatarcheck.arkit import NUM_ARKIT
from avatarcheck.errors import InputError

JOINT_NAMES: tuple[str, ...] = ("global", "neck", "jaw", "eye_left", "eye_right")
NUM_JOINTS = len(JOINT_NAMES)
FLAME_PARENTS = np.array([-1, 0, 1, 1, 1], dtype=np.int64)


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
        object.__setattr__(self, "vertex_sets", MappingProxyType(
            {k: np.asarray(v, dtype=np.int64) for k, v in dict(self.vertex_sets).items()}))
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


def _shape_str(a: np.ndarray | None) -> str:
    return "None" if a is None else f"array of shape {tuple(a.shape)} dtype {a.dtype}"


def validate_head_arrays(m: HeadModel) -> None:
    """Check shapes, dtypes, index ranges and finiteness; raise ``InputError`` naming the field."""
    src = f"HeadModel({m.name})"
    v = m.v_template
    if not isinstance(v, np.ndarray) or v.ndim != 2 or v.shape[1] != 3:
        raise InputError(src, "v_template", "array of shape (V, 3)", _shape_str(v))
    n_v = v.shape[0]

    def need(field: str, arr, shape: tuple, optional: bool = False) -> None:
        if arr is None and optional:
            return
        ok = isinstance(arr, np.ndarray) and arr.ndim == len(shape) and all(
            want is None or have == want for have, want in zip(arr.shape, shape))
        if not ok:
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise InputError(src, field, f"array of shape {want}", _shape_str(arr))
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            raise InputError(src, field, "finite values", f"{int((~np.isfinite(arr)).sum())} NaN/inf entries")

    need("v_template", v, (n_v, 3))
    need("faces", m.faces, (None, 3))
    if not np.issubdtype(m.faces.dtype, np.integer):
        raise InputError(src, "faces", "integer vertex indices", f"dtype {m.faces.dtype}")
    if m.faces.size and (m.faces.min() < 0 or m.faces.max() >= n_v):
        raise InputError(src, "faces", f"indices in [0, {n_v})", f"range [{m.faces.min()}, {m.faces.max()}]")
    need("shapedirs", m.shapedirs, (n_v, 3, None))
    need("arkit_basis", m.arkit_basis, (NUM_ARKIT, n_v, 3))
    need("exprdirs", m.exprdirs, (n_v, 3, None), optional=True)
    n_j = m.J_regressor.shape[0] if isinstance(m.J_regressor, np.ndarray) and m.J_regressor.ndim == 2 else None
    need("J_regressor", m.J_regressor, (None, n_v))
    need("parents", m.parents, (n_j,))
    need("lbs_weights", m.lbs_weights, (n_v, n_j))
    if m.posedirs is not None:
        need("posedirs", m.posedirs, ((n_j - 1) * 9, n_v * 3))
    if m.parents[0] != -1 or any(not (0 <= p < i) for i, p in enumerate(m.parents[1:], start=1)):
        raise InputError(src, "parents", "parents[0] = -1 and 0 <= parents[i] < i", str(m.parents.tolist()))
    for name, idx in m.vertex_sets.items():
        if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= n_v)):
            raise InputError(src, f"vertex_sets[{name!r}]", f"1-D indices in [0, {n_v})", _shape_str(idx))
