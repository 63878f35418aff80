"""One summary row per catalogue item: plain JSON-ready dicts, from a gate result or an error.

Every row has the same keys. ``verdict``: ``pass`` | ``fail`` (the gate failed, an implausible avatar
included) | ``error`` (nothing was gated: the avatar could not be read, or the run broke). ``error_kind``:
``input`` (the avatar or the gate input is bad: stored, a rerun does not retry it; an avatar that cannot
even be read to hash it has no key and is not) or ``internal`` (a crash or a lost worker: not stored, a
rerun retries it). The keys in ``VOLATILE`` say where and when an item ran;
every other value depends only on the item's inputs (the determinism the catalogue promises).
"""

from __future__ import annotations

import math
from typing import Any

VERDICTS = ("pass", "fail", "error")
VOLATILE = ("seconds", "load_seconds", "worker", "resumed")
LEAK_STAT, COVERAGE_STAT = "leak_max", "coverage_p1"
MAX_PROBLEMS = 8


def _number(x: float | None) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    return None if x is None or not math.isfinite(x) else float(x)


def _row(avatar: str, spec: str, edit: str, take: str, **fields: Any) -> dict[str, Any]:
    row = {"key": None, "avatar": avatar, "avatar_spec": spec, "edit": edit, "take": take, "verdict": "error",
           "worst_leak": None, "worst_coverage": None, "flags": [], "problems": [], "error": None,
           "error_kind": None, "report": None, "seconds": None, "load_seconds": None, "worker": None,
           "resumed": False}
    row.update(fields)
    return row


def error_row(avatar: str, spec: str, edit: str, take: str, message: str, kind: str,
              key: str | None = None) -> dict[str, Any]:
    """A red row: nothing was gated (``kind``: input | internal)."""
    return _row(avatar, spec, edit, take, key=key, error=message, error_kind=kind)


def check_problem(c) -> str:
    """A failed ``CheckResult`` as a row reads it: the item, its value and the bar, so a catalogue shows at a
    glance which avatars fail far beyond a bar and which by a hair (``0.034, bar <= 0.03``)."""
    wanted = "" if c.expected == "pass" else f"; expected to {c.expected}"
    return f"{c.item_id}: {c.value:.4g}, bar {c.op} {c.threshold:.4g}{wanted}"


def problems(result) -> list[str]:
    """What failed in a ``GateResult``, item ids first (at most ``MAX_PROBLEMS``); a check with its value and bar."""
    out = [check_problem(c) for c in result.checks if not c.ok]
    out += [o.item_id for o in result.orderings if not o.ok] + [d.item_id for d in result.detections if not d.ok]
    out += [g.item_id for g in result.goldens if g.status not in ("pass", "updated")]
    out += [s.item_id for s in result.skipped if s.failed]
    check = result.avatar_check
    if check.get("implausible") and not check.get("allowed"):
        out.insert(0, "avatar/plausible: implausible, verdicts withheld")
    if result.closure.get("failed"):
        out.append("avatar/blink_closure")
    return out[:MAX_PROBLEMS]


def result_row(avatar: str, spec: str, edit: str, take: str, key: str, result, report: str) -> dict[str, Any]:
    """The row of a finished gate. ``worst_leak`` / ``worst_coverage``: the largest leak max and the smallest
    coverage p1 (worse eye, any moment) of the variants that ship (reference and must-pass; a must-fail
    variant leaks by design); None when the gate measured none (an implausible avatar's verdicts are withheld)."""
    roles = {name: v.get("role") for name, v in result.variants.items()}
    shipping = [c for c in result.checks if roles.get(c.variant) != "must-fail"]
    leaks = [c.value for c in shipping if c.stat == LEAK_STAT]
    cover = [c.value for c in shipping if c.stat == COVERAGE_STAT]
    flags = [f["statistic"] for f in result.avatar_check.get("findings", [])]
    return _row(avatar, spec, edit, take, key=key, verdict="pass" if result.ok else "fail",
                worst_leak=_number(max(leaks, default=None)), worst_coverage=_number(min(cover, default=None)),
                flags=flags, problems=problems(result), report=report)


def stable(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` without the keys that say where and when it ran."""
    return {k: v for k, v in row.items() if k not in VOLATILE}


def row_order(row: dict[str, Any]) -> tuple:
    """The summary's order: avatar, edit, take (never the order items finished in)."""
    return (row["avatar"], row["avatar_spec"], row["edit"], row["take"])
