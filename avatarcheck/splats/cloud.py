"""``SplatCloud``: one Gaussian per subdivided mesh vertex, in canonical space.

Shapes (N splats = subdivided vertices, K = (sh_degree + 1)^2 SH coefficients):

=========  ==============  ===========================================================
field      shape           meaning
=========  ==============  ===========================================================
offsets    (N, 3) float32  centre offset from the anchor vertex, canonical space, metres
scales     (N, 3) float32  **linear** sigmas (already exponentiated): corrections multiply
quats      (N, 4) float32  unit rotation quaternions, w first (gsplat / 3DGS order)
opacities  (N,) float32    activated opacity in [0, 1]
sh         (N, K, 3)       SH colour coefficients; degree 0 -> rgb = 0.5 + C0 * sh[:, 0]
labels     (N,) uint8      index into ``LABEL_NAMES`` (skin, lid, eyeball_left, ...)
=========  ==============  ===========================================================
"""

from __future__ import annotations

import dataclasses

import numpy as np

from avatarcheck.checks import checked_array
from avatarcheck.errors import InputError

LABEL_NAMES: tuple[str, ...] = ("skin", "lid", "eyeball_left", "eyeball_right")
EYEBALL_LABELS: tuple[str, ...] = ("eyeball_left", "eyeball_right")
SH_C0 = 0.28209479177387814  # Y_0^0, the constant SH basis function


def rgb_to_sh(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) colours in [0, 1] -> (N, 1, 3) degree-0 SH coefficients (3DGS convention)."""
    return ((np.asarray(rgb, np.float32) - 0.5) / SH_C0)[:, None, :]


def label_code(name: str) -> int:
    try:
        return LABEL_NAMES.index(name)
    except ValueError:
        raise KeyError(f"not a splat label: {name!r}; have {LABEL_NAMES}") from None


@dataclasses.dataclass(frozen=True, eq=False)
class SplatCloud:
    offsets: np.ndarray
    scales: np.ndarray
    quats: np.ndarray
    opacities: np.ndarray
    sh: np.ndarray
    labels: np.ndarray
    source: str = "SplatCloud"

    def __post_init__(self) -> None:
        # labels are checked before the uint8 cast: 258 must not become 2, nor 2.7 become 2
        labels = checked_array(self.labels, self.source, "labels", (None,), kind="int")
        if labels.size and (labels.min() < 0 or labels.max() >= len(LABEL_NAMES)):
            raise InputError(self.source, "labels", f"codes in [0, {len(LABEL_NAMES)}) ({', '.join(LABEL_NAMES)})",
                             f"range [{labels.min()}, {labels.max()}]")
        object.__setattr__(self, "labels", np.ascontiguousarray(labels, dtype=np.uint8))
        for name in ("offsets", "scales", "quats", "opacities", "sh"):
            arr = checked_array(getattr(self, name), self.source, name, finite=False)
            if arr.dtype.kind == "b":
                raise InputError(self.source, name, "a real-valued (float or integer) array", "dtype bool")
            object.__setattr__(self, name, np.ascontiguousarray(arr, dtype=np.float32))
        validate_cloud(self)

    @property
    def num_splats(self) -> int:
        return int(self.offsets.shape[0])

    @property
    def sh_degree(self) -> int:
        return int(round(np.sqrt(self.sh.shape[1]))) - 1

    @property
    def rgb(self) -> np.ndarray:
        """(N, 3) view-independent colour (the degree-0 term), clamped at 0 like gsplat."""
        return np.maximum(self.sh[:, 0] * SH_C0 + 0.5, 0.0)

    def mask(self, *names: str) -> np.ndarray:
        """(N,) bool: splats carrying any of the given labels."""
        return np.isin(self.labels, [label_code(n) for n in names])

    def replace(self, **changes) -> "SplatCloud":
        """A copy with some fields replaced (validated again)."""
        return dataclasses.replace(self, **changes)


def validate_cloud(c: SplatCloud) -> None:
    """Shapes, finiteness and ranges; ``InputError`` names the source and the field."""
    sz: dict[str, int] = {}
    for name, shape in (("offsets", ("N", 3)), ("scales", ("N", 3)), ("quats", ("N", 4)),
                        ("opacities", ("N",)), ("sh", ("N", None, 3))):
        checked_array(getattr(c, name), c.source, name, shape, sizes=sz)
    checked_array(c.labels, c.source, "labels", ("N",), kind="int", sizes=sz)
    if c.sh.shape[1] not in (1, 4, 9, 16):
        raise InputError(c.source, "sh", "shape (N, K, 3) with K in 1, 4, 9, 16", f"shape {c.sh.shape}")
    if (c.scales <= 0).any():
        raise InputError(c.source, "scales", "positive linear sigmas", f"min {c.scales.min():.3g}")
    if ((c.opacities < 0) | (c.opacities > 1)).any():
        raise InputError(c.source, "opacities", "values in [0, 1]",
                         f"range [{c.opacities.min():.3g}, {c.opacities.max():.3g}]")
    qn = np.linalg.norm(c.quats, axis=1)
    if (np.abs(qn - 1) > 1e-3).any():
        raise InputError(c.source, "quats", "unit quaternions", f"norms in [{qn.min():.3g}, {qn.max():.3g}]")
    if c.labels.size and c.labels.max() >= len(LABEL_NAMES):
        raise InputError(c.source, "labels", f"codes below {len(LABEL_NAMES)} ({LABEL_NAMES})", str(c.labels.max()))
