"""The ``[sweep]`` table of a gate file: which edit to sweep, over which strengths, with which corrections.

```toml
[sweep]
edit = "pear"                      # one of the gate's [[edits]]; or, with `kind`, the name of an edit
# kind = "chibi"                   # declared here with its parameters (strength excepted)
# preset = "hourglass"
strengths = [1.0, 2.0, 3.0]        # ascending, in (0, 10]; or {start = 0.5, stop = 3.5, step = 0.5}
corrections = ["none", "ratio"]    # default: all of CORRECTIONS
min_safe = {ratio = 2.0}           # expectations: the correction must hold at least to this strength
image_size = 256                   # default: the gate's (leak is resolution-dependent)
```

Off by default: ``avatarcheck gate --sweep`` / ``pytest --gate-sweep`` run it (``gate.sweep``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from avatarcheck.edit.interface import MAX_STRENGTH
from avatarcheck.errors import InputError
from avatarcheck.gate.schema import Table, checked_name, deep_merge

# correction name -> (override gate names, number overrides): the recipe's fixes and ours.
CORRECTIONS: dict[str, tuple[tuple[str, ...], dict[str, float]]] = {
    "none": (("xyz", "arkit_bs"), {}),
    "boost": (("xyz", "arkit_bs", "scale_boost"), {"scale_boost": 1.5}),
    "ratio": (("xyz", "arkit_bs", "scale_ratio"), {}),
    "jacobian": (("xyz", "arkit_bs", "jacobians"), {}),
    "ratio+lash_ring": (("xyz", "arkit_bs", "scale_ratio", "lash_ring_boost"), {"lash_ring_boost": 1.3}),
    # the ratio with each splat's offset stretched by its anchor's Jacobian (edit.overrides.follow_edit)
    "ratio+offsets": (("xyz", "arkit_bs", "scale_ratio", "offsets_j"), {}),
}
MAX_STRENGTHS = 32          # each strength is a bake plus a render per correction
# The table's own keys; any other key is a parameter of the edit kind.
OWN_KEYS = frozenset({"edit", "kind", "strengths", "corrections", "min_safe", "image_size"})
# What says which edit is swept: a user table naming either declares its own edit.
_EDIT_KEYS = frozenset({"edit", "kind"})


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """``name``: the sweep's edit name (item ids ``sweep/<name>/<correction>``, the report's heading)."""

    name: str
    kind: str
    params: dict[str, Any]                  # the edit's parameters, without ``strength``
    strengths: tuple[float, ...]            # ascending, unique
    corrections: tuple[str, ...]
    min_safe: dict[str, float]              # correction -> the strength it must hold to
    image_size: int | None                  # None: the gate's


def _strengths(t: Table, source: str) -> tuple[float, ...]:
    key = t.key("strengths")
    v = t.data.get("strengths")
    if isinstance(v, dict):
        r = Table(v, source, key, {"start", "stop", "step"})
        start = r.number("start", 0.0, MAX_STRENGTH, low_open=True)
        stop = r.number("stop", 0.0, MAX_STRENGTH, low_open=True)
        step = r.number("step", 0.0, MAX_STRENGTH, low_open=True)
        if stop < start:
            raise InputError(source, key, "start <= stop", repr(v))
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        if n > MAX_STRENGTHS:
            raise InputError(source, key, f"at most {MAX_STRENGTHS} strengths", f"{n}")
        return tuple(round(start + i * step, 9) for i in range(n))
    values = t.get("strengths", list)
    ok = all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
             and 0 < x <= MAX_STRENGTH for x in values)
    if not values or not ok or len(values) > MAX_STRENGTHS:
        raise InputError(source, key, f"1 to {MAX_STRENGTHS} numbers in (0, {MAX_STRENGTH:g}], or a table "
                         "{start, stop, step}", repr(values))
    if any(b <= a for a, b in zip(values, values[1:])):
        raise InputError(source, key, "strengths in ascending order, each once", repr(values))
    return tuple(float(x) for x in values)


def merge_sweep(packaged: Any, user: Any) -> Any:
    """The ``[sweep]`` table of a user's pyproject merged over the packaged one.

    Key by key, like every other table, except the edit. A user table that names ``edit`` or ``kind``
    drops the packaged parameters, and the packaged ``kind`` too unless the user writes parameters of
    their own (then they refine the packaged kind). Merged, ``edit = "hourglas"`` over the packaged pear
    would declare a pear under the typo's name (now it must be one of the gate's edits), and
    ``kind = "anime_eyes"`` would inherit the pear's ``preset``. Strengths, corrections, ``min_safe``
    and image size still merge.
    """
    if not isinstance(packaged, dict) or not isinstance(user, dict):
        return user
    if _EDIT_KEYS & user.keys():
        params_of_users = any(k not in OWN_KEYS for k in user)
        keep = OWN_KEYS if params_of_users else OWN_KEYS - {"kind"}
        packaged = {k: v for k, v in packaged.items() if k in keep}
    return deep_merge(packaged, user)


def parse_sweep(data: Any, source: str, edits: tuple, max_image_size: int) -> SweepSpec:
    """Validate a ``[sweep]`` table against the gate's ``edits`` (``EditSpec``s); errors name ``sweep.<key>``."""
    from avatarcheck.edit.base import checked_params
    from avatarcheck.edit.registry import edit_kind

    if not isinstance(data, dict):
        raise InputError(source, "sweep", "a table", repr(data))
    own = set(OWN_KEYS)
    if "kind" in data:  # an edit declared here, named by `edit`
        kind = data["kind"]
        if not isinstance(kind, str):
            raise InputError(source, "sweep.kind", "a string", repr(kind))
        t = Table(data, source, "sweep", own | set(edit_kind(kind, source, "sweep.kind").params))
        name = t.get("edit", str)
        params = {p: v for p, v in data.items() if p not in own}
        if "strength" in params:
            raise InputError(source, "sweep.strength", "no strength (the sweep sets it: use strengths)",
                             repr(params["strength"]))
    else:  # one of the gate's [[edits]]
        t = Table(data, source, "sweep", own)
        name = t.get("edit", str)
        found = next((e for e in edits if e.name == name), None)
        if found is None:
            raise InputError(source, "sweep.edit", f"one of the gate's edits {[e.name for e in edits]} "
                             "(or kind and its parameters to declare one)", repr(name))
        kind, params = found.kind, {k: v for k, v in found.params.items() if k != "strength"}
    checked_name(name, source, "sweep.edit")
    if "strength" not in edit_kind(kind, source, "sweep.kind").params:
        raise InputError(source, "sweep.kind", "an edit kind with a strength parameter", repr(kind))
    strengths = _strengths(t, source)
    for s in strengths:  # each swept edit is checked as a gate edit would be
        full = checked_params(edit_kind(kind, source), {**params, "strength": s}, source, "sweep")
    full.pop("strength")
    same_name = next((e for e in edits if e.name == name), None)
    if same_name is not None and (same_name.kind, {k: v for k, v in same_name.params.items() if k != "strength"}) \
            != (kind, full):  # one name, one edit: a merged pyproject table must not sweep something else
        raise InputError(source, "sweep.edit", f"the gate's edit {name!r} ({same_name.kind} {same_name.params}) "
                         "with its own parameters, or another name for the edit declared here",
                         f"{kind} {full}")
    params = full
    corrections = t.strings("corrections", tuple(CORRECTIONS))
    if not corrections or any(c not in CORRECTIONS for c in corrections) or len(set(corrections)) < len(corrections):
        raise InputError(source, "sweep.corrections", f"names from {list(CORRECTIONS)}, each once", repr(corrections))
    min_safe: dict[str, float] = {}
    m = Table(t.get("min_safe", dict, {}), source, "sweep.min_safe", set(corrections))
    for c in m.data:
        min_safe[c] = m.number(c, 0.0, strengths[-1], low_open=True)
    image_size = t.number("image_size", 16, max_image_size, integer=True) if "image_size" in data else None
    return SweepSpec(name, kind, params, strengths, tuple(corrections), min_safe, image_size)


def require_sweep(spec) -> "SweepSpec":
    """The gate's ``[sweep]``, or an error for a run asked to sweep a gate that declares none."""
    if spec.sweep is None:
        raise InputError(spec.source, "sweep", "a [sweep] table (what --sweep / --gate-sweep runs)", "none")
    return spec.sweep
