"""``Pose``: the per-frame inputs that drive a head (what a take supplies), typed and batched."""

from __future__ import annotations

import dataclasses

import numpy as np

from avatarcheck.arkit import NUM_ARKIT
from avatarcheck.checks import checked_array


@dataclasses.dataclass(frozen=True)
class Pose:
    """B frames: arkit52 (B, 52) ARKit weights in ``ARKIT_NAMES`` order; eyes (B, 6) left then right
    eye axis-angle; global_rot, neck, jaw, translation (B, 3). ``None`` means zeros (rest)."""

    arkit52: np.ndarray
    eyes: np.ndarray | None = None
    global_rot: np.ndarray | None = None
    neck: np.ndarray | None = None
    jaw: np.ndarray | None = None
    translation: np.ndarray | None = None

    def __post_init__(self) -> None:
        sizes: dict[str, int] = {}
        src = "Pose"
        object.__setattr__(self, "arkit52", checked_array(np.atleast_2d(self.arkit52), src, "arkit52",
                                                         ("B", NUM_ARKIT), dtype=np.float32, sizes=sizes))
        for name, width in (("eyes", 6), ("global_rot", 3), ("neck", 3), ("jaw", 3), ("translation", 3)):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, checked_array(np.atleast_2d(value), src, name, ("B", width),
                                                             dtype=np.float32, sizes=sizes))

    @property
    def num_frames(self) -> int:
        return int(self.arkit52.shape[0])

    @classmethod
    def of(cls, arkit52: np.ndarray | None = None, eyes: np.ndarray | None = None,
           global_rot: np.ndarray | None = None) -> "Pose":
        """A pose from some of its parts; missing ARKit weights are zeros for as many frames as the
        given parts have (one frame when none is given)."""
        if arkit52 is None:
            rows = next((len(np.atleast_2d(x)) for x in (eyes, global_rot) if x is not None), 1)
            arkit52 = np.zeros((rows, NUM_ARKIT), np.float32)
        return cls(arkit52, eyes=eyes, global_rot=global_rot)

    @classmethod
    def rest(cls, frames: int = 1) -> "Pose":
        return cls(np.zeros((frames, NUM_ARKIT), np.float32))

    def layer_inputs(self) -> dict[str, np.ndarray]:
        """The ``HeadLayer.forward`` keyword arguments this pose sets."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}

    def frames(self, sl: slice) -> "Pose":
        return Pose(**{k: v[sl] for k, v in self.layer_inputs().items()})
