"""Takes as pickle-free ``.npz`` (fast to load): arrays plus the channel names, read by name.

Loading never trusts the archive: ``io.npz.load_npz_checked`` checks each member's ``.npy``
header against the member's real size before anything is allocated and refuses object dtypes
(pickles); any corruption (bad zip, bad deflate stream, an unsupported compression) is an
``InputError`` naming the file. Then every array's dtype and shape is checked here: complex,
string and datetime weights, a bool or text fps, are errors rather than silent coercions.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from avatarcheck.arkit import ARKIT_NAMES, arkit_index
from avatarcheck.checks import checked_array
from avatarcheck.errors import InputError
from avatarcheck.io.atomic import save_npz_atomic
from avatarcheck.io.npz import load_npz_checked
from avatarcheck.takes.limits import MAX_TAKE_BYTES
from avatarcheck.takes.take import FPS_RANGE, Take, clip_weights

FORMAT = "avatarcheck.take/1"
_KEYS = ("format", "channels", "weights", "head_rotation", "eye_left", "eye_right", "timestamps", "fps", "source")
#: Optional members: ``clipped_channels`` / ``clipped_counts`` (the take's clip provenance).
_OPTIONAL = ("clipped_channels", "clipped_counts")


def save_take_npz(path: str | os.PathLike, take: Take) -> None:
    """Write ``take`` atomically; ``channels`` records the (52,) column names of ``weights``."""
    names = list(take.clipped)
    save_npz_atomic(path, format=np.array(FORMAT), channels=np.array(ARKIT_NAMES), weights=take.weights,
                    head_rotation=take.head_rotation, eye_left=take.eye_left, eye_right=take.eye_right,
                    timestamps=take.timestamps, fps=np.array(take.fps, np.float64), source=np.array(take.source),
                    clipped_channels=np.array(names, dtype="<U32"),
                    clipped_counts=np.array([take.clipped[n] for n in names], np.int64))


def load_take_npz(path: str | os.PathLike) -> Take:
    """Read a take written by ``save_take_npz`` (never unpickles); ``source`` becomes the path.

    Weights within ``WEIGHT_BAND`` are clipped like a CSV's and counted in ``clipped``.
    """
    src = str(Path(path))
    try:
        arrays = load_npz_checked(path, MAX_TAKE_BYTES)
    except InputError as err:  # zipfile quotes whole headers of a damaged archive: keep messages short
        if len(err.got) <= 200:
            raise
        raise InputError(err.source, err.field, err.expected, _short(err.got, 200)) from None
    missing = [k for k in _KEYS if k not in arrays]
    if missing:
        raise InputError(src, missing[0], f"an .npz with arrays {', '.join(_KEYS)}", f"arrays {sorted(arrays)[:12]}")
    fmt = arrays["format"]
    if fmt.dtype.kind != "U" or fmt.shape != () or str(fmt) != FORMAT:
        raise InputError(src, "format", repr(FORMAT), _short(repr(fmt)))
    channels = _names(src, "channels", arrays["channels"])
    try:
        order = [arkit_index(c) for c in channels]
    except KeyError as err:
        raise InputError(src, "channels", "the 52 ARKit names", _short(str(err))) from None
    if len(order) != 52 or sorted(order) != list(range(52)):
        raise InputError(src, "channels", "each of the 52 ARKit names once", f"{len(channels)} names")
    weights = checked_array(arrays["weights"], src, "weights", (None, 52), dtype=np.float64, finite=False)
    canonical = np.empty_like(weights)
    canonical[:, order] = weights
    clipped_w, counts = clip_weights(canonical, src)
    for name, extra in _clipped_provenance(src, arrays).items():
        counts[name] = counts.get(name, 0) + extra
    fps = arrays["fps"]
    if fps.shape != () or fps.dtype.kind not in "fiu":
        raise InputError(src, "fps", "a real scalar frame rate", f"{fps.dtype} array of shape {fps.shape}")
    source = arrays["source"]
    if source.dtype.kind != "U" or source.shape != ():
        raise InputError(src, "source", "a text scalar", f"{source.dtype} array of shape {source.shape}")
    rotations = [checked_array(arrays[k], src, k, kind="real") for k in ("head_rotation", "eye_left", "eye_right")]
    timestamps = checked_array(arrays["timestamps"], src, "timestamps", kind="real")
    fps_value = fps[()].item()
    if not (isinstance(fps_value, (int, float)) and FPS_RANGE[0] <= fps_value <= FPS_RANGE[1]):
        raise InputError(src, "fps", f"a frame rate in [{FPS_RANGE[0]:g}, {FPS_RANGE[1]:g}]", _short(repr(fps_value)))
    return Take(clipped_w, *rotations, timestamps, float(fps_value), src, counts)


def _clipped_provenance(src: str, arrays: dict[str, np.ndarray]) -> dict[str, int]:
    """Counts a previous reader clipped (stored by ``save_take_npz``); absent in older files."""
    if not all(k in arrays for k in _OPTIONAL):
        return {}
    names = _names(src, "clipped_channels", arrays["clipped_channels"])
    counts = checked_array(arrays["clipped_counts"], src, "clipped_counts", (len(names),), kind="int")
    if (counts < 0).any():
        raise InputError(src, "clipped_counts", "counts >= 0", str(int(counts.min())))
    out: dict[str, int] = {}
    for name, count in zip(names, counts.tolist()):
        try:
            canonical = ARKIT_NAMES[arkit_index(name)]
        except KeyError:
            raise InputError(src, "clipped_channels", "ARKit-52 names", _short(repr(name))) from None
        out[canonical] = out.get(canonical, 0) + int(count)
    return out


def _names(src: str, field: str, array: np.ndarray) -> list[str]:
    if array.dtype.kind != "U" or array.ndim != 1:
        raise InputError(src, field, "a 1-D text array", f"{array.dtype} array of shape {array.shape}")
    return [str(c) for c in array]


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
