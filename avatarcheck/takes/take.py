"""``Take``: a recorded or synthetic ARKit-52 performance, validated once on construction.

Arrays are stored read-only so a frozen ``Take`` really cannot change under a caller's feet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatarcheck.arkit import ARKIT_NAMES, NUM_ARKIT, arkit_index
from avatarcheck.errors import InputError

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


@dataclass(frozen=True, eq=False)
class Take:
    """T frames of ARKit-52 weights plus head and eye rotations.

    - ``weights``: (T, 52) float32 in [0, 1], columns in canonical ``ARKIT_NAMES`` order.
    - ``head_rotation``, ``eye_left``, ``eye_right``: (T, 3) float32 yaw, pitch, roll in radians
      (Live Link Face convention: pitch > 0 looks down, yaw > 0 towards the subject's right).
    - ``timestamps``: (T,) float64 seconds, strictly increasing (a CSV's are seconds since
      00:00:00:00 of its timecode; a synthetic take's start at 0).
    - ``fps``: the frame rate of the rows; ``source``: where the take came from (for messages).
    """

    weights: np.ndarray
    head_rotation: np.ndarray
    eye_left: np.ndarray
    eye_right: np.ndarray
    timestamps: np.ndarray
    fps: float
    source: str = "take"

    def __post_init__(self) -> None:
        src = self.source
        if not isinstance(src, str):
            raise InputError("Take", "source", "a string", repr(src))
        try:
            weights = np.asarray(self.weights, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise InputError(src, "weights", "a numeric (T, 52) array", str(err)) from None
        if weights.ndim != 2 or weights.shape[1] != NUM_ARKIT or weights.shape[0] < 1:
            raise InputError(src, "weights", f"shape (T, {NUM_ARKIT}) with T >= 1", str(weights.shape))
        t = weights.shape[0]
        _check_finite(src, "weights", weights)
        bad = np.argwhere((weights < 0.0) | (weights > 1.0))
        if len(bad):
            f, c = bad[0]
            raise InputError(src, f"weights[frame {f}, {ARKIT_NAMES[c]}]", "a weight in [0, 1]",
                             repr(float(weights[f, c])))
        object.__setattr__(self, "weights", _frozen(weights))
        for field in ("head_rotation", "eye_left", "eye_right"):
            try:
                rot = np.asarray(getattr(self, field), dtype=np.float32)
            except (TypeError, ValueError) as err:
                raise InputError(src, field, f"a numeric ({t}, 3) array", str(err)) from None
            if rot.shape != (t, 3):
                raise InputError(src, field, f"shape ({t}, 3) (yaw, pitch, roll per frame)", str(rot.shape))
            _check_finite(src, field, rot)
            object.__setattr__(self, field, _frozen(rot))
        ts = np.asarray(self.timestamps, dtype=np.float64)
        if ts.shape != (t,):
            raise InputError(src, "timestamps", f"shape ({t},)", str(ts.shape))
        _check_finite(src, "timestamps", ts)
        steps = np.flatnonzero(np.diff(ts) <= 0)
        if len(steps):
            i = int(steps[0]) + 1
            raise InputError(src, f"timestamps[{i}]", f"strictly increasing times (> {ts[i - 1]!r})", repr(float(ts[i])))
        object.__setattr__(self, "timestamps", _frozen(ts))
        fps = self.fps
        if isinstance(fps, bool) or not isinstance(fps, (int, float, np.floating, np.integer)) \
                or not np.isfinite(fps) or fps <= 0:
            raise InputError(src, "fps", "a positive finite frame rate", repr(fps))
        object.__setattr__(self, "fps", float(fps))

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

    def channel(self, name: str) -> np.ndarray:
        """(T,) values of one channel by name, any capitalisation: an ARKit-52 blendshape
        (``eyeBlinkLeft``, ``EyeBlinkLeft``) or a rotation column (``HeadYaw``, ``LeftEyePitch``)."""
        key = name.strip().lower() if isinstance(name, str) else ""
        if key in ROTATION_CHANNELS:
            field, col = ROTATION_CHANNELS[key]
            return getattr(self, field)[:, col]
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
                    self.timestamps[sl], self.fps, self.source)

    def with_source(self, source: str) -> Take:
        return Take(self.weights, self.head_rotation, self.eye_left, self.eye_right, self.timestamps,
                    self.fps, source)

    def __repr__(self) -> str:
        return f"Take(source={self.source!r}, frames={self.num_frames}, fps={self.fps:g})"


def _check_finite(source: str, field: str, array: np.ndarray) -> None:
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        idx = ", ".join(str(int(i)) for i in bad[0])
        raise InputError(source, f"{field}[{idx}]", "a finite number", repr(float(array[tuple(bad[0])])))
