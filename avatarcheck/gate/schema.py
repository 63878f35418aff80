"""Typed access to a gate file's TOML tables, shared by ``gate.spec`` and ``gate.sweep_spec``.

Every error names the file (``source``) and the dotted key, says what was expected and what was found.
Kept apart from both parsers so neither imports the other for its schema tools.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from avatarcheck.errors import InputError

# Names become file and folder names (reports, goldens): short, lower-case, no separators. ``\Z``, not
# ``$``: ``$`` also matches before a final newline ("pear\n"); apply it with ``fullmatch``.
SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; anything else (lists included) is replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def checked_name(value: str, source: str, key: str) -> str:
    """A name that becomes a path component: ``SAFE_NAME`` (no '/', '..', absolute paths)."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value):
        raise InputError(source, key, "a name of lower-case letters, digits, '_' or '-' (it names files)", repr(value))
    return value


def unique_names(names: list[str], source: str, key: str) -> None:
    """Refuse a name listed twice under ``key``."""
    seen = set()
    for n in names:
        if n in seen:
            raise InputError(source, key, "unique names", f"{n!r} twice")
        seen.add(n)


class Table:
    """Typed access to one TOML table: errors name ``source`` and the dotted key."""

    def __init__(self, data: Any, source: str, where: str, known: set[str]) -> None:
        if not isinstance(data, dict):
            raise InputError(source, where or "(top level)", "a table", repr(data))
        for key in data:
            if key not in known:
                raise InputError(source, f"{where}.{key}".lstrip("."), f"one of the keys {sorted(known)}",
                                 "an unknown key")
        self.data, self.source, self.where = data, source, where

    def key(self, k: str) -> str:
        return f"{self.where}.{k}".lstrip(".")

    def get(self, k: str, kind: type, default: Any = dataclasses.MISSING) -> Any:
        if k not in self.data:
            if default is dataclasses.MISSING:
                raise InputError(self.source, self.key(k), f"a {kind.__name__}", "nothing (missing)")
            return default
        v = self.data[k]
        ok = (isinstance(v, (int, float)) and not isinstance(v, bool)) if kind is float else (
            isinstance(v, kind) and (kind is bool or not isinstance(v, bool)))
        if not ok:
            raise InputError(self.source, self.key(k), f"a {kind.__name__}", repr(v))
        return float(v) if kind is float else v

    def number(self, k: str, low: float, high: float, default: Any = dataclasses.MISSING, *,
               integer: bool = False, low_open: bool = False) -> Any:
        v = self.get(k, int if integer else float, default)
        if not math.isfinite(v) or v < low or v > high or (low_open and v == low):
            rng = f"{'(' if low_open else '['}{low:g}, {high:g}]"
            raise InputError(self.source, self.key(k), f"{'an integer' if integer else 'a number'} in {rng}", repr(v))
        return v

    def choice(self, k: str, options: tuple[str, ...], default: Any = dataclasses.MISSING) -> str:
        v = self.get(k, str, default)
        if v not in options:
            raise InputError(self.source, self.key(k), f"one of {options}", repr(v))
        return v

    def name(self, k: str) -> str:
        return checked_name(self.get(k, str), self.source, self.key(k))

    def strings(self, k: str, default: Any = dataclasses.MISSING) -> tuple[str, ...]:
        v = self.get(k, list, default)
        if not all(isinstance(x, str) for x in v):
            raise InputError(self.source, self.key(k), "a list of strings", repr(v))
        return tuple(v)

    def tables(self, k: str, default: Any = dataclasses.MISSING) -> list[dict]:
        v = self.get(k, list, default)
        for i, x in enumerate(v):
            if not isinstance(x, dict):
                raise InputError(self.source, f"{self.key(k)}[{i}]", "a table", repr(x))
        return v
