"""One array validator for every input surface, so every message has the same wording.

``checked_array(x, source, field, shape)`` returns ``x`` as a numpy array or raises ``InputError``
naming the source (a file path or a call), the field, what was expected and what was found:

    head.npz: v_template: expected shape (V, 3), got shape (4,)
    take.npz: weights: expected finite values, got 3 NaN/inf entries (first at [12, 4])
    HeadModel(x): v_template: expected a real-valued array, got dtype <U3 (strings)

``shape`` entries are ints (exact), ``None`` (any size) or a string naming a size that must agree
across calls (pass the same ``sizes`` dict): ``checked_array(v, s, "v", ("V", 3), sizes=sz)`` then
``checked_array(w, s, "w", ("V", "J"), sizes=sz)`` checks that both have the same V.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from os import PathLike
from typing import Any

import numpy as np

from avatarcheck.errors import InputError

Dim = int | str | None

# What "real-valued" admits: floats, ints and (unless refused) bools are numbers; complex,
# strings, objects and datetimes are not, even though numpy would coerce some of them.
_REAL_KINDS = "fiu"
# What each refused dtype kind is, for the message (numpy's kind codes).
_KIND_NAMES = {"b": "booleans", "c": "complex numbers", "O": "Python objects", "U": "strings", "S": "bytes",
               "V": "raw records", "M": "datetimes", "m": "time deltas"}


def shape_text(shape: tuple[Dim, ...]) -> str:
    """``("V", 3)`` -> ``"(V, 3)"``; ``None`` prints as ``*``."""
    parts = ["*" if s is None else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, without importing torch here
        return x.detach().cpu().numpy()
    return np.asarray(x)


def all_finite(x: Any) -> bool:
    """Whether every entry of a numpy array or torch tensor is finite, in one summing pass.

    NaN and inf propagate through a sum, so a finite sum means finite entries; only when the sum
    itself is not finite (a bad entry, or finite entries that overflow when added) does the exact
    elementwise test run. Integer and bool arrays are always finite.
    """
    if hasattr(x, "is_floating_point"):  # torch, without importing it here
        import torch

        return not x.is_floating_point() or bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())
    arr = np.asarray(x)
    if arr.dtype.kind not in "fc":
        return True
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing or NaN sum is an answer here
        total = arr.sum()
    return bool(np.isfinite(total)) or bool(np.isfinite(arr).all())


def dtype_text(dtype: np.dtype) -> str:
    """``dtype bool (booleans)``: a refused dtype and what its values are."""
    name = _KIND_NAMES.get(dtype.kind)
    return f"dtype {dtype}" + (f" ({name})" if name else "")


def checked_array(x: Any, source: str | PathLike, field: str, shape: tuple[Dim, ...] | None = None, *,
                  dtype: type | np.dtype | None = None, kind: str = "real", finite: bool = True,
                  sizes: MutableMapping[str, int] | None = None, limit: float | None = None) -> np.ndarray:
    """``x`` as an array after checking kind, shape, finiteness and (optionally) magnitude.

    kind: ``"real"`` (float / int / bool), ``"number"`` (float / int: bools refused, for quantities where a
    mask would silently read as 1.0), ``"int"`` (integers only), ``"any"`` (no dtype check).
    dtype: convert to this dtype after the checks (``None`` keeps the array's own).
    limit: every |value| must be at most this (catches 1e30 garbage that is technically finite).
    """
    try:
        arr = _to_numpy(x)
    except (TypeError, ValueError) as err:
        raise InputError(source, field, "an array", f"{type(x).__name__} ({err})") from None
    if kind == "real" and arr.dtype.kind not in _REAL_KINDS + "b":
        raise InputError(source, field, "a real-valued array", dtype_text(arr.dtype))
    if kind == "number" and arr.dtype.kind not in _REAL_KINDS:
        raise InputError(source, field, "a real-valued array of float or integer numbers", dtype_text(arr.dtype))
    if kind == "int" and arr.dtype.kind not in "iu":
        raise InputError(source, field, "an integer array", dtype_text(arr.dtype))
    if shape is not None:
        ok = arr.ndim == len(shape)
        if ok:
            for want, have in zip(shape, arr.shape):
                if isinstance(want, int) and want != have:
                    ok = False
                elif isinstance(want, str) and sizes is not None:
                    if sizes.setdefault(want, have) != have:
                        ok = False
        if not ok:
            text = shape_text(tuple(sizes.get(s, s) if isinstance(s, str) and sizes else s for s in shape))
            raise InputError(source, field, f"shape {text}", f"shape {tuple(arr.shape)}")
    if finite and arr.dtype.kind == "f" and not all_finite(arr):
        bad = ~np.isfinite(arr)
        first = np.argwhere(bad)[0].tolist()
        raise InputError(source, field, "finite values", f"{int(bad.sum())} NaN/inf entries (first at {first})")
    if limit is not None and arr.size and arr.dtype.kind in _REAL_KINDS:
        worst = float(np.max(np.abs(arr)))
        if worst > limit:
            raise InputError(source, field, f"values within +-{limit:g}", f"magnitude {worst:.3g}")
    if dtype is not None:
        arr = np.ascontiguousarray(arr, dtype=dtype)
    return arr


def checked_positive_int(value: Any, source: str | PathLike, field: str, maximum: int | None = None) -> int:
    """A positive int (bools refused), optionally at most ``maximum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise InputError(source, field, "a positive integer", repr(value))
    if maximum is not None and value > maximum:
        raise InputError(source, field, f"a positive integer at most {maximum}", repr(value))
    return int(value)


def checked_number(value: Any, source: str | PathLike, field: str, low: float | None = None,
                   high: float | None = None) -> float:
    """A finite real number (bools refused) in [low, high] where given."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(source, field, "a number", repr(value))
    v = float(value)
    rng = f" in [{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"
    if not np.isfinite(v) or (low is not None and v < low) or (high is not None and v > high):
        raise InputError(source, field, "a finite number" + (rng if low is not None or high is not None else ""),
                         repr(value))
    return v
