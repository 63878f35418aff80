"""A gate is declared data: a TOML file in the package, overridable from a user's pyproject.

``load_gate("three-moment", pyproject)`` reads ``gates/three-moment.toml`` and deep-merges
``[tool.avatarcheck."three-moment"]`` over it (tables key by key, lists replaced). ``plan`` expands
the declaration into the flat list of check items every runner (pytest, CLI) evaluates.
"""

from __future__ import annotations

import dataclasses
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from avatarcheck.errors import InputError
from avatarcheck.gate.metrics import STATS
from avatarcheck.takes.moments import MOMENT_NAMES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BASELINE_EDIT = "unedited"
OVERRIDE_NAMES = ("xyz", "arkit_bs", "scale_ratio", "scale_boost", "jacobians", "lash_ring_boost")
EXPECTATIONS = ("pass", "fail", "any")


@dataclasses.dataclass(frozen=True)
class EditSpec:
    name: str
    preset: str
    strength: float


@dataclasses.dataclass(frozen=True)
class CheckSpec:
    name: str
    stat: str
    op: str
    threshold: float
    moments: tuple[str, ...]

    def passes(self, value: float) -> bool:
        return value <= self.threshold if self.op == "<=" else value >= self.threshold


@dataclasses.dataclass(frozen=True)
class OrderingSpec:
    stat: str
    moment: str
    greater: str
    lesser: str

    @property
    def item_id(self) -> str:
        return f"ordering/{self.greater.replace('/', '.')}>{self.lesser.replace('/', '.')}/{self.moment}/{self.stat}"


@dataclasses.dataclass(frozen=True)
class CheckItem:
    """One test item: a check of one variant at one moment."""

    edit: str
    variant: str
    moment: str
    check: CheckSpec
    expected: str

    @property
    def item_id(self) -> str:
        return f"{self.edit}/{self.variant}/{self.moment}/{self.check.name}"


@dataclasses.dataclass(frozen=True)
class GoldenItem:
    edit: str
    variant: str
    moment: str

    @property
    def item_id(self) -> str:
        return f"{self.edit}/{self.variant}/{self.moment}/golden"


@dataclasses.dataclass(frozen=True)
class GateSpec:
    name: str
    description: str
    moments: tuple[str, ...]
    take: str
    image_size: int
    visible: float
    dilate_px: int
    curve_stride: int
    apply_eye_rotation: bool
    edits: tuple[EditSpec, ...]
    variants: dict[str, tuple[str, ...]]
    checks: tuple[CheckSpec, ...]
    expect: dict[str, dict[str, dict[str, str]]]
    orderings: tuple[OrderingSpec, ...]
    golden: dict[str, dict[str, float]]
    source: str

    def variant_pairs(self) -> list[tuple[str, str]]:
        """(edit, variant) in report order: the baseline once, then each edit's other variants."""
        pairs = [(BASELINE_EDIT, "baseline")] if "baseline" in self.variants else []
        for e in self.edits:
            pairs += [(e.name, v) for v in self.variants if v != "baseline"]
        return pairs

    def edit(self, name: str) -> EditSpec:
        for e in self.edits:
            if e.name == name:
                return e
        raise KeyError(name)

    def plan(self) -> list[CheckItem]:
        items = []
        for edit, variant in self.variant_pairs():
            for moment in self.moments:
                for check in self.checks:
                    if moment in check.moments:
                        expected = self.expect.get(variant, {}).get(moment, {}).get(check.name, "pass")
                        items.append(CheckItem(edit, variant, moment, check, expected))
        return items

    def golden_items(self) -> list[GoldenItem]:
        return [GoldenItem(e, v, m) for e, v in self.variant_pairs() for m in self.moments]


def available_gates() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("avatarcheck.gate").joinpath("gates").iterdir()
                  if p.name.endswith(".toml"))


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; anything else (lists included) is replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_gate(name: str, pyproject: str | Path | None = None) -> GateSpec:
    """The packaged gate ``name`` with the user's ``[tool.avatarcheck."<name>"]`` merged over it."""
    if name not in available_gates():
        raise InputError("--gate", "name", f"one of {available_gates()}", repr(name))
    text = resources.files("avatarcheck.gate").joinpath("gates", f"{name}.toml").read_text()
    data = tomllib.loads(text)
    source = f"avatarcheck/gate/gates/{name}.toml"
    if pyproject is not None and Path(pyproject).is_file():
        try:
            user = tomllib.loads(Path(pyproject).read_text())
        except tomllib.TOMLDecodeError as err:
            raise InputError(pyproject, "toml", "valid TOML", str(err)) from None
        over = user.get("tool", {}).get("avatarcheck", {}).get(name)
        if over:
            data = deep_merge(data, over)
            source += f" + {pyproject} [tool.avatarcheck.\"{name}\"]"
    return parse_gate(name, data, source)


def _get(data: dict[str, Any], key: str, kind: type | tuple[type, ...], source: str, where: str) -> Any:
    if key not in data:
        raise InputError(source, f"{where}.{key}", f"a {getattr(kind, '__name__', kind)}", "nothing (missing)")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind in (int, float, (int, float)):
        raise InputError(source, f"{where}.{key}", f"a {getattr(kind, '__name__', kind)}", repr(value))
    return value


def parse_gate(name: str, data: dict[str, Any], source: str) -> GateSpec:
    """Validate the merged tables; every error names the source, the key and what was expected."""
    known = {"gate", "edits", "variants", "checks", "expect", "orderings", "golden"}
    for key in data:
        if key not in known:
            raise InputError(source, key, f"one of the tables {sorted(known)}", "an unknown key")
    g = _get(data, "gate", dict, source, "")
    moments = tuple(_get(g, "moments", list, source, "gate"))
    for m in moments:
        if m not in MOMENT_NAMES:
            raise InputError(source, "gate.moments", f"names from {MOMENT_NAMES}", repr(m))
    edits = tuple(EditSpec(_get(e, "name", str, source, "edits"), _get(e, "preset", str, source, "edits"),
                           float(_get(e, "strength", (int, float), source, "edits")))
                  for e in _get(data, "edits", list, source, ""))
    variants = {}
    for vname, v in _get(data, "variants", dict, source, "").items():
        ov = tuple(_get(v, "overrides", list, source, f"variants.{vname}"))
        for o in ov:
            if o not in OVERRIDE_NAMES:
                raise InputError(source, f"variants.{vname}.overrides", f"names from {OVERRIDE_NAMES}", repr(o))
        variants[vname] = ov
    checks = []
    for c in _get(data, "checks", list, source, ""):
        cname = _get(c, "name", str, source, "checks")
        stat = _get(c, "stat", str, source, f"checks.{cname}")
        if stat not in STATS:
            raise InputError(source, f"checks.{cname}.stat", f"one of {sorted(STATS)}", repr(stat))
        op = _get(c, "op", str, source, f"checks.{cname}")
        if op not in ("<=", ">="):
            raise InputError(source, f"checks.{cname}.op", "'<=' or '>='", repr(op))
        cm = tuple(_get(c, "moments", list, source, f"checks.{cname}"))
        for m in cm:
            if m not in moments:
                raise InputError(source, f"checks.{cname}.moments", f"moments of this gate {moments}", repr(m))
        checks.append(CheckSpec(cname, stat, op, float(_get(c, "threshold", (int, float), source, f"checks.{cname}")), cm))
    expect = data.get("expect", {})
    for vname, per_moment in expect.items():
        if vname not in variants:
            raise InputError(source, f"expect.{vname}", f"a variant of this gate {sorted(variants)}", repr(vname))
        for m, per_check in per_moment.items():
            for cname, outcome in per_check.items():
                # Expectations for checks or moments an override removed are ignored: lists are
                # replaced whole, and the packaged expectations should not block that.
                if outcome not in EXPECTATIONS:
                    raise InputError(source, f"expect.{vname}.{m}.{cname}", f"one of {EXPECTATIONS}", repr(outcome))
    pairs = {f"{e.name}/{v}" for e in edits for v in variants}
    orderings = []
    for o in data.get("orderings", []):
        spec = OrderingSpec(_get(o, "stat", str, source, "orderings"), _get(o, "moment", str, source, "orderings"),
                            _get(o, "greater", str, source, "orderings"), _get(o, "lesser", str, source, "orderings"))
        if spec.stat not in STATS or spec.moment not in moments or not {spec.greater, spec.lesser} <= pairs:
            raise InputError(source, "orderings", f"a stat, a moment and two of {sorted(pairs)}", str(o))
        orderings.append(spec)
    golden = {b: {k: float(v) for k, v in tol.items()} for b, tol in data.get("golden", {}).items()}
    for b, tol in golden.items():
        if set(tol) != {"ssim_min", "flip_max", "max_abs"}:
            raise InputError(source, f"golden.{b}", "exactly ssim_min, flip_max, max_abs", str(sorted(tol)))
    return GateSpec(
        name=name, description=str(g.get("description", "")), moments=moments,
        take=_get(g, "take", str, source, "gate"), image_size=int(_get(g, "image_size", int, source, "gate")),
        visible=float(_get(g, "visible", (int, float), source, "gate")),
        dilate_px=int(_get(g, "dilate_px", int, source, "gate")),
        curve_stride=max(1, int(_get(g, "curve_stride", int, source, "gate"))),
        apply_eye_rotation=bool(g.get("apply_eye_rotation", False)),
        edits=edits, variants=variants, checks=tuple(checks), expect=expect, orderings=tuple(orderings),
        golden=golden, source=source)
