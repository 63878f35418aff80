"""``Take``: a recorded or synthetic ARKit-52 performance, validated once on construction.

Arrays are stored read-only so a frozen ``Take`` really cannot change under a caller's feet.

Real trackers overshoot [0, 1] (eyeLookIn up to 1.053 in a real 3809-frame export) and round a
little below 0. Readers (CSV, UDP, ``.npz``) therefore accept weights within ``WEIGHT_BAND`` =
[-0.1, 1.25], clip them to [0, 1] and record how many cells of each channel were clipped in
``Take.clipped`` (the take's provenance); NaN, inf and anything outside the band stay errors.
A ``Take`` itself always holds weights in [0, 1]. Rotations are radians, at most
``ROTATION_LIMIT`` in magnitude (a 1e30-radian head yaw is garbage, not a pose).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from avatarcheck.arkit import ARKIT_NAMES, NUM_ARKIT, arkit_index
from avatarcheck.checks import checked_array, checked_number
from avatarcheck.errors import InputError

#: Weights readers accept from real trackers (then clip to [0, 1]); outside it a value is an error.
WEIGHT_BAND: tuple[float, float] = (-0.1, 1.25)
#: Largest |rotation| in radians accepted for head and eye yaw/pitch/roll.
ROTATION_LIMIT = 2 * np.pi
#: Frame rates a take may have (rows per second); 1e300 fps is a typo, not a camera.
FPS_RANGE: tuple[float, float] = (1e-3, 1000.0)

#: Rotation channel names ``channel()`` accepts besides the 52 blendshapes (field, column).
ROTATION_CHANNELS: dict[str, tuple[str, int]] = {
    f"{prefix}{axis}".lower(): (field, col)
    for prefix, field in (("Head", "head_rotation"), ("LeftEye", "eye_left"), ("RightEye", "eye_right"))
    for col, axis in enumerate(("Yaw", "Pitch", "Roll"))
}


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.flags.writeable = False
    return array


def clip_weights(weights: np.ndarray, source: str,
                 locate: Callable[[int, int], str] | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """(T, 52) raw weights (canonical columns) -> (clipped copy in [0, 1], clipped cells per channel).

    Raises ``InputError`` for the first NaN/inf or value outside ``WEIGHT_BAND``; ``locate(row, col)``
    names that cell for the message (a file's line and column), by default ``weights[frame f, name]``.
    """
    w = np.asarray(weights)
    lo, hi = WEIGHT_BAND
    bad = np.argwhere(~np.isfinite(w) | (w < lo) | (w > hi))
    if len(bad):
        r, c = (int(i) for i in bad[0])
        where = locate(r, c) if locate else f"weights[frame {r}, {ARKIT_NAMES[c]}]"
        value = float(w[r, c])
        expected = "a finite number" if not np.isfinite(value) else f"a blendshape weight in [{lo:g}, {hi:g}]"
        raise InputError(source, where, expected, repr(value))
    over = ((w < 0) | (w > 1)).sum(axis=0)
    counts = {ARKIT_NAMES[c]: int(n) for c, n in enumerate(over) if n}
    return np.clip(w, 0.0, 1.0), counts


@dataclass(frozen=True, eq=False)
class Take:
    """T frames of ARKit-52 weights plus head and eye rotations.

    - ``weights``: (T, 52) float32 in [0, 1], columns in canonical ``ARKIT_NAMES`` order.
    - ``head_rotation``, ``eye_left``, ``eye_right``: (T, 3) float32 yaw, pitch, roll in radians
      (Live Link Face convention: pitch > 0 looks down, yaw > 0 towards the subject's right).
    - ``timestamps``: (T,) float64 seconds, strictly increasing (a CSV's are seconds since
      00:00:00:00 of its timecode; a synthetic take's start at 0).
    - ``fps``: the frame rate of the rows; ``source``: where the take came from (for messages).
    - ``clipped``: provenance, cells per channel that the reader clipped into [0, 1] from within
      ``WEIGHT_BAND`` (canonical names, counts > 0; empty when nothing was clipped). It describes
      the file the take was read from, so ``slice`` keeps it as is.
    """

    weights: np.ndarray
    head_rotation: np.ndarray
    eye_left: np.ndarray
    eye_right: np.ndarray
    timestamps: np.ndarray
    fps: float
    source: str = "take"
    clipped: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        src = self.source
        if not isinstance(src, str):
            raise InputError("Take", "source", "a string", repr(src))
        weights = checked_array(self.weights, src, "weights", (None, NUM_ARKIT), dtype=np.float32)
        t = weights.shape[0]
        if t < 1:
            raise InputError(src, "weights", f"shape (T, {NUM_ARKIT}) with T >= 1", str(weights.shape))
        bad = np.argwhere((weights < 0.0) | (weights > 1.0))
        if len(bad):
            f, c = bad[0]
            raise InputError(src, f"weights[frame {f}, {ARKIT_NAMES[c]}]", "a weight in [0, 1]",
                             repr(float(weights[f, c])))
        object.__setattr__(self, "weights", _frozen(weights))
        for name in ("head_rotation", "eye_left", "eye_right"):
            rot = checked_array(getattr(self, name), src, name, (t, 3), dtype=np.float32, limit=ROTATION_LIMIT)
            object.__setattr__(self, name, _frozen(rot))
        ts = checked_array(self.timestamps, src, "timestamps", (t,), dtype=np.float64)
        steps = np.flatnonzero(np.diff(ts) <= 0)
        if len(steps):
            i = int(steps[0]) + 1
            raise InputError(src, f"timestamps[{i}]", f"strictly increasing times (> {ts[i - 1]!r})", repr(float(ts[i])))
        object.__setattr__(self, "timestamps", _frozen(ts))
        object.__setattr__(self, "fps", checked_number(self.fps, src, "fps", *FPS_RANGE))
        object.__setattr__(self, "clipped", _checked_clipped(src, self.clipped))

    @classmethod
    def from_weights(cls, weights: np.ndarray, fps: float = 60.0, source: str = "take",
                     start_s: float = 0.0) -> Take:
        """A take from (T, 52) weights alone: zero rotations, timestamps ``start_s + i / fps``."""
        w = np.asarray(weights, dtype=np.float32)
        t = w.shape[0] if w.ndim == 2 else 0
        zeros = np.zeros((t, 3), np.float32)
        return cls(w, zeros, zeros, zeros, start_s + np.arange(t) / float(fps), fps, source)

    @property
    def num_frames(self) -> int:
        return int(self.weights.shape[0])

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last frame."""
        return float(self.timestamps[-1] - self.timestamps[0])

    @property
    def clipped_cells(self) -> int:
        """Total cells clipped into [0, 1] when the take was read."""
        return int(sum(self.clipped.values()))

    def channel(self, name: str) -> np.ndarray:
        """(T,) values of one channel by name, any capitalisation: an ARKit-52 blendshape
        (``eyeBlinkLeft``, ``EyeBlinkLeft``) or a rotation column (``HeadYaw``, ``LeftEyePitch``)."""
        key = name.strip().lower() if isinstance(name, str) else ""
        if key in ROTATION_CHANNELS:
            col_field, col = ROTATION_CHANNELS[key]
            return getattr(self, col_field)[:, col]
        try:
            return self.weights[:, arkit_index(key)]
        except KeyError:
            raise InputError(self.source, "channel", "an ARKit-52 blendshape or a head/eye rotation name",
                             repr(name)) from None

    def slice(self, start: int, stop: int | None = None) -> Take:
        """Frames ``[start:stop]`` (Python slice rules) as a new take; it must not be empty."""
        sl = slice(start, stop)
        if len(range(*sl.indices(self.num_frames))) == 0:
            raise InputError(self.source, "slice", f"a non-empty frame range of 0..{self.num_frames}",
                             f"[{start}:{stop}]")
        return Take(self.weights[sl], self.head_rotation[sl], self.eye_left[sl], self.eye_right[sl],
                    self.timestamps[sl], self.fps, self.source, dict(self.clipped))

    def with_source(self, source: str) -> Take:
        return Take(self.weights, self.head_rotation, self.eye_left, self.eye_right, self.timestamps,
                    self.fps, source, dict(self.clipped))

    def __repr__(self) -> str:
        return f"Take(source={self.source!r}, frames={self.num_frames}, fps={self.fps:g})"


def _checked_clipped(source: str, clipped: Mapping[str, int]) -> dict[str, int]:
    """Canonical name -> positive cell count, in canonical channel order (a fresh dict, so the
    take stays picklable and a caller's dict cannot change it)."""
    if not isinstance(clipped, Mapping):
        raise InputError(source, "clipped", "a mapping of channel name to count", type(clipped).__name__)
    out: dict[str, int] = {}
    for name, count in clipped.items():
        try:
            canonical = ARKIT_NAMES[arkit_index(name)] if isinstance(name, str) else None
        except KeyError:
            canonical = None
        if canonical is None:
            raise InputError(source, "clipped", "ARKit-52 channel names", repr(name)[:80])
        if isinstance(count, (bool, np.bool_)) or not isinstance(count, (int, np.integer)) or count < 0:
            raise InputError(source, f"clipped[{canonical}]", "a cell count >= 0", repr(count)[:80])
        if count:
            out[canonical] = int(count)
    return dict(sorted(out.items(), key=lambda kv: arkit_index(kv[0])))
