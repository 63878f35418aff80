"""Takes as pickle-free ``.npz`` (fast to load): arrays plus the channel names, read by name."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from avatarcheck.arkit import ARKIT_NAMES, arkit_index
from avatarcheck.errors import InputError
from avatarcheck.io.atomic import save_npz_atomic
from avatarcheck.takes.take import Take

FORMAT = "avatarcheck.take/1"
_KEYS = ("format", "channels", "weights", "head_rotation", "eye_left", "eye_right", "timestamps", "fps", "source")


def save_take_npz(path: str | os.PathLike, take: Take) -> None:
    """Write ``take`` atomically; ``channels`` records the (52,) column names of ``weights``."""
    save_npz_atomic(path, format=np.array(FORMAT), channels=np.array(ARKIT_NAMES), weights=take.weights,
                    head_rotation=take.head_rotation, eye_left=take.eye_left, eye_right=take.eye_right,
                    timestamps=take.timestamps, fps=np.array(take.fps, np.float64), source=np.array(take.source))


def load_take_npz(path: str | os.PathLike) -> Take:
    """Read a take written by ``save_take_npz`` (never unpickles); ``source`` becomes the path."""
    src = str(Path(path))
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise InputError(src, "file", "a pickle-free .npz take archive", f"{type(err).__name__}: {err}") from None
    missing = [k for k in _KEYS if k not in arrays]
    if missing:
        raise InputError(src, missing[0], f"an .npz with arrays {', '.join(_KEYS)}", f"arrays {sorted(arrays)}")
    if str(arrays["format"]) != FORMAT:
        raise InputError(src, "format", repr(FORMAT), repr(str(arrays["format"])))
    channels = [str(c) for c in arrays["channels"].reshape(-1)]
    try:
        order = [arkit_index(c) for c in channels]
    except KeyError as err:
        raise InputError(src, "channels", "the 52 ARKit names", str(err)) from None
    if sorted(order) != list(range(52)):
        raise InputError(src, "channels", "each of the 52 ARKit names once", f"{len(channels)} names")
    weights = arrays["weights"]
    if weights.ndim != 2 or weights.shape[1] != 52:
        raise InputError(src, "weights", "shape (T, 52)", str(weights.shape))
    canonical = np.empty_like(weights)
    canonical[:, order] = weights
    if arrays["fps"].shape != ():
        raise InputError(src, "fps", "a scalar", str(arrays["fps"].shape))
    return Take(canonical, arrays["head_rotation"], arrays["eye_left"], arrays["eye_right"], arrays["timestamps"],
                float(arrays["fps"]), src)
