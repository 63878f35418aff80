"""The edit interface: what a kind of edit declares (``EditKind``), the deformation it binds
(``Deformation``) and the assets a bake produces (``EditAssets``; the array table is in ``edit.base``).

A leaf module (it imports no other edit module), so every edit kind, the basis re-evaluation and
the rigid-eyes correction can depend on it without import cycles through ``edit.base``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from avatarcheck.errors import InputError

if TYPE_CHECKING:
    from avatarcheck.avatar import Avatar


class Deformation(Protocol):
    """A smooth map of canonical space: points (N, 3) -> (N, 3), and its Jacobian (N, 3, 3)."""

    def __call__(self, points: np.ndarray) -> np.ndarray: ...

    def jacobian(self, points: np.ndarray) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class EditKind:
    """A registered kind of edit.

    ``params``: parameter name -> (type, default or ``REQUIRED``), the keys a gate file's
    ``[[edits]]`` entry (or the bake command) may set beside ``name`` and ``kind``.
    ``make(avatar, params, source)``: bind the deformation to an avatar (params already checked).
    ``validate(params, source, where)``: value checks beyond types, run when a gate file is read, so
    a bad value fails before any rendering (raise ``InputError`` naming ``where.key``).
    """

    name: str
    description: str
    params: Mapping[str, tuple[type, Any]]
    make: Callable[["Avatar", Mapping[str, Any], str], Deformation]
    validate: Callable[[Mapping[str, Any], str, str], None] | None = None


REQUIRED = object()
# An edit's ``strength`` (where a kind has one) lies in [0, MAX_STRENGTH]: beyond about 10 every shipped
# kind folds the mesh, and 1e308 overflows the bake. One bound for the bake command, a gate file's
# ``[[edits]]``, a sweep's strengths, a catalogue manifest and the Python API (all pass ``checked_params``).
MAX_STRENGTH = 10.0


def checked_params(kind: EditKind, given: Mapping[str, Any], source: str, where: str) -> dict[str, Any]:
    """Fill defaults and check names and types; errors name ``source`` and ``where.key``."""
    out: dict[str, Any] = {}
    for key in given:
        if key not in kind.params:
            raise InputError(source, f"{where}.{key}", f"a parameter of edit kind {kind.name!r} "
                             f"({', '.join(sorted(kind.params))})", "an unknown key")
    for key, (typ, default) in kind.params.items():
        if key not in given:
            if default is REQUIRED:
                raise InputError(source, f"{where}.{key}", f"a {typ.__name__}", "nothing (missing)")
            out[key] = default
            continue
        value = given[key]
        numeric = typ is float and isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (numeric or (isinstance(value, typ) and not (typ is not bool and isinstance(value, bool)))):
            raise InputError(source, f"{where}.{key}", f"a {typ.__name__}", repr(value))
        if typ is float and not np.isfinite(float(value)):
            raise InputError(source, f"{where}.{key}", "a finite number", repr(value))
        if key == "strength" and not 0.0 <= float(value) <= MAX_STRENGTH:
            raise InputError(source, f"{where}.{key}", f"a strength in [0, {MAX_STRENGTH:g}]", repr(value))
        out[key] = float(value) if typ is float else value
    if kind.validate is not None:
        kind.validate(out, source, where)
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class EditAssets:
    """An edit baked on one avatar (see the module docstring for the arrays)."""

    name: str
    kind: str
    params: dict[str, Any]
    avatar: str
    edited_sub: np.ndarray
    basis: np.ndarray
    ratio: np.ndarray
    jacobians: np.ndarray
    eyeballs: tuple = ()  # (EyeballFit, EyeballFit) when baked with rigid eyes

    def ratio_stats(self) -> dict[str, float]:
        r = self.ratio
        return {"min": float(r.min()), "median": float(np.median(r)), "max": float(r.max())}
