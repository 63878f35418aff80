"""A gate is declared data: a TOML file in the package, overridable from a user's pyproject.

``load_gate("three-moment", pyproject)`` reads ``gates/three-moment.toml`` and deep-merges
``[tool.avatarcheck."three-moment"]`` over it (tables key by key, lists replaced). Every key is
checked against a schema: unknown keys, wrong types and out-of-range values are errors naming the
file and the key. ``plan`` expands the declaration into the flat list of items every runner
(pytest, CLI) evaluates. A new gate of the same kind is one more TOML file in ``gates/``.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from avatarcheck.edit.override_assets import BY_GATE_NAME
from avatarcheck.errors import InputError
from avatarcheck.gate.metrics import FACE_STATS, STATS
# SAFE_NAME, checked_name and deep_merge are importable from here as before (gate.schema holds them).
from avatarcheck.gate.schema import SAFE_NAME, Table, checked_name, deep_merge, unique_names  # noqa: F401
from avatarcheck.gate.sweep_spec import SweepSpec, merge_sweep, parse_sweep

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

UNEDITED = "unedited"               # the edit name of the reference variant's renders
EXPECTATIONS = ("pass", "fail", "any")
ROLES = ("reference", "must-fail", "must-pass")
MISSING_MOMENT = ("skip", "fail")
MAX_IMAGE_SIZE = 2048


@dataclasses.dataclass(frozen=True)
class EditSpec:
    """``rigid_eyes``: bake with the eyeballs kept rigid (``edit.rigid_eyes``; the gate key of the same
    name, default true)."""

    name: str
    kind: str
    params: dict[str, Any]
    rigid_eyes: bool = True


@dataclasses.dataclass(frozen=True)
class VariantSpec:
    """``role``: reference (rendered once, on the unedited avatar), must-fail (shows the artefact:
    its closed-eye checks are declared to fail in ``[expect]``), must-pass (the fix)."""

    name: str
    role: str
    overrides: tuple[str, ...]
    numbers: dict[str, float]       # values of number overrides (scale_boost = 1.5)
    description: str
    curve: bool = True              # draw its leak curve (false: only its closed-eye frames are evaluated)


@dataclasses.dataclass(frozen=True)
class CheckSpec:
    name: str
    stat: str
    op: str
    threshold: float
    moments: tuple[str, ...]
    # With a margin the unedited avatar sets the bar where it is itself beyond the threshold: a variant
    # may then be at most this much worse than the unedited avatar at the same moment (within the
    # threshold, the bar is the threshold). A trained
    # avatar's thin lids leak before any edit (a public export: leak max 0.70 at a full blink); the
    # check asks what the edit adds. Below the threshold the bar is the threshold, as without one.
    unedited_margin: float | None = None

    def bar(self, unedited: float | None = None) -> float:
        """The threshold a value is compared with, given the unedited avatar's value (when relative)."""
        if self.unedited_margin is None or unedited is None or self.passes_threshold(unedited):
            return self.threshold
        return unedited + self.unedited_margin if self.op == "<=" else unedited - self.unedited_margin

    def meets(self, value: float, bar: float) -> bool:
        """``value <op> bar``."""
        return value <= bar if self.op == "<=" else value >= bar

    def passes_threshold(self, value: float) -> bool:
        return self.meets(value, self.threshold)

    def passes(self, value: float, unedited: float | None = None) -> bool:
        return self.meets(value, self.bar(unedited))


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


WORST_CLOSED = "worst_closed"


@dataclasses.dataclass(frozen=True)
class ClosedEyeSpec:
    """Every closed-eye frame is gated, not only the full-blink moment: among the frames where both
    eyes' blink is at least ``blink_min``, the one where ``rank_by`` is worst (per variant) must pass
    the checks of the moment ``like``. It appears as the pseudo-moment ``worst_closed``."""

    blink_min: float
    like: str
    rank_by: str


@dataclasses.dataclass(frozen=True)
class GateSpec:
    name: str
    description: str
    moments: tuple[str, ...]
    moment_params: dict[str, dict[str, Any]]
    missing_moment: str
    take: str
    image_size: int
    visible: float
    dilate_px: int
    curve_stride: int
    apply_eye_rotation: bool
    edits: tuple[EditSpec, ...]
    variants: dict[str, VariantSpec]
    checks: tuple[CheckSpec, ...]
    expect: dict[str, dict[str, dict[str, str]]]
    orderings: tuple[OrderingSpec, ...]
    golden: dict[str, dict[str, float]]
    source: str
    closed_eye: ClosedEyeSpec | None = None
    curve_max_frames: int = 240
    sweep: SweepSpec | None = None      # the [sweep] table (gate.sweep_spec); run only when asked
    # Checks on a face statistic (metrics.FACE_STATS: sharpness against the reference variant), kept
    # apart from ``checks`` (per-eye lid metrics, which a sweep evaluates without a reference).
    face_checks: tuple[CheckSpec, ...] = ()
    face_image_size: int = 256      # [sharpness] image_size: the face camera of sharpness checks
    head_image_size: int = 256      # [head_coverage] image_size: the head cameras of head_holes checks
    # [gate] avatar: any --avatar spec (an OAC zip, LAM's infer output, a FLAME folder, synthetic[:flavour]);
    # None: the embedded stand-in. The command line's --avatar / --gate-avatar wins.
    avatar: str | None = None
    # How --gate named it (load_gate): a packaged gate's name, or a gate file's path as typed ("" : ``name``).
    selector: str = ""
    # [gate] closure_max: the largest share of an eyeball the closed lids may leave visible at mesh level
    # (gate.closure); None: reported, never failed (it is the avatar's rig, not the edit).
    closure_max: float | None = None

    def curve_frames(self, num_frames: int) -> range:
        """Every ``curve_stride``-th frame, thinned so a long take samples at most ``curve_max_frames``."""
        stride = max(self.curve_stride, -(-num_frames // self.curve_max_frames))
        return range(0, num_frames, stride)

    @property
    def item_moments(self) -> tuple[str, ...]:
        """The moments items are planned for: the take's moments, then ``worst_closed`` if declared."""
        return self.moments + ((WORST_CLOSED,) if self.closed_eye else ())

    def expected(self, variant: str, moment: str, check: str) -> str:
        """The declared outcome; undeclared: "pass", or "any" on a must-fail variant (it must fail at least
        one check, the ``detected`` item, and which ones depends on the avatar)."""
        lookup = self.closed_eye.like if moment == WORST_CLOSED and self.closed_eye else moment
        default = "any" if variant in self.variants and self.variants[variant].role == "must-fail" else "pass"
        return self.expect.get(variant, {}).get(lookup, {}).get(check, default)

    def check_applies(self, check: CheckSpec, moment: str) -> bool:
        if moment == WORST_CLOSED:  # per-eye checks only: a face stat compares with the reference's frame
            return self.closed_eye is not None and self.closed_eye.like in check.moments and check.stat in STATS
        return moment in check.moments

    def variants_with(self, role: str) -> list[str]:
        return [v.name for v in self.variants.values() if v.role == role]

    def variant_pairs(self) -> list[tuple[str, str]]:
        """(edit, variant) in report order: reference variants once (unedited), then each edit's others."""
        pairs = [(UNEDITED, v) for v in self.variants_with("reference")]
        for e in self.edits:
            pairs += [(e.name, v.name) for v in self.variants.values() if v.role != "reference"]
        return pairs

    def edit(self, name: str) -> EditSpec:
        for e in self.edits:
            if e.name == name:
                return e
        raise KeyError(name)

    def summary_variant(self) -> str:
        """The variant whose edited mesh the edit summary shows: the first must-pass one."""
        return (self.variants_with("must-pass") or self.variants_with("must-fail") or list(self.variants))[0]

    def plan(self) -> list[CheckItem]:
        items = []
        for edit, variant in self.variant_pairs():
            for moment in self.item_moments:
                for check in self.checks + self.face_checks:
                    if self.check_applies(check, moment):
                        items.append(CheckItem(edit, variant, moment, check, self.expected(variant, moment, check.name)))
        return items

    def golden_items(self) -> list[GoldenItem]:
        return [GoldenItem(e, v, m) for e, v in self.variant_pairs() for m in self.moments]

    def golden_tolerances(self, backend: str) -> dict[str, float]:
        if backend not in self.golden:
            raise InputError(self.source, f"golden.{backend}", "golden tolerances (ssim_min, flip_max, max_abs) for "
                             f"backend {backend!r}", f"tables for {sorted(self.golden)} only")
        return self.golden[backend]


def available_gates() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("avatarcheck.gate").joinpath("gates").iterdir()
                  if p.name.endswith(".toml"))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise InputError(path, "encoding", "UTF-8 TOML", f"undecodable bytes ({err.reason} at byte {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(path, "toml", "valid TOML", str(err)) from None
    except OSError as err:
        raise InputError(path, "file", "a readable pyproject.toml", f"{type(err).__name__}: {err.strerror}") from None


def load_gate(name: str, pyproject: str | Path | None = None, *, pyproject_required: bool = False) -> GateSpec:
    """The gate ``name`` with the user's ``[tool.avatarcheck."<name>"]`` merged over it.

    ``name``: a packaged gate (``gates/<name>.toml``), or the path of a team's own gate file
    (``gates/lids.toml``: its stem is the gate's name). ``pyproject_required``: a missing file is an
    error (an explicit ``--pyproject``), not the defaults.
    """
    selector = name
    name, data, source = _read_gate_file(name)
    if pyproject is not None:
        path = Path(pyproject)
        if path.is_file():
            data, source = _merge_pyproject(name, data, source, path)
        elif pyproject_required or path.exists():
            raise InputError(path, "pyproject", "an existing TOML file", "a directory" if path.exists() else "no such file")
    return dataclasses.replace(parse_gate(name, data, source), selector=selector)


def _read_gate_file(name: str) -> tuple[str, dict[str, Any], str]:
    """(the gate's name, its tables, where they came from) for a packaged gate name or a gate file path."""
    if name.endswith(".toml"):
        path = Path(name)
        data = _read_toml(path) if path.is_file() else None
        if data is None:
            raise InputError(path, "gate", "an existing gate TOML file", "no such file")
        return checked_name(path.stem, str(path), "gate name (the file's stem)"), data, str(path)
    if name in available_gates():
        data = tomllib.loads(resources.files("avatarcheck.gate").joinpath("gates", f"{name}.toml").read_text())
        return name, data, f"avatarcheck/gate/gates/{name}.toml"
    raise InputError("--gate", "name", f"one of {available_gates()} or a gate .toml file", repr(name))


def _merge_pyproject(name: str, data: dict[str, Any], source: str, path: Path) -> tuple[dict[str, Any], str]:
    """``data`` with the pyproject's ``[tool.avatarcheck."<name>"]`` merged over it, and the combined source."""
    user = _read_toml(path)
    tool = user.get("tool", {})
    ours = tool.get("avatarcheck", {}) if isinstance(tool, dict) else None
    if not isinstance(ours, dict):
        raise InputError(path, "tool.avatarcheck", "a table", repr(ours))
    over = ours.get(name)
    if over is not None and not isinstance(over, dict):
        raise InputError(path, f'tool.avatarcheck."{name}"', "a table", repr(over))
    if not over:
        return data, source
    merged = deep_merge(data, over)
    if "sweep" in over:  # the user's own sweep edit replaces the packaged one (N9)
        merged["sweep"] = merge_sweep(data.get("sweep"), over["sweep"])
    return merged, source + f" + {path} [tool.avatarcheck.\"{name}\"]"


# -- schema --------------------------------------------------------------------------------------
# One parser per table, called by ``parse_gate`` in the order the tables are validated: the first
# error found is the one reported, so that order is part of the behaviour.

_TOP_KEYS = {"gate", "moments", "closed_eye", "edits", "variants", "checks", "expect", "orderings", "golden", "sweep",
             "sharpness", "head_coverage"}
_GATE_KEYS = {"description", "moments", "take", "avatar", "closure_max", "image_size", "visible", "dilate_px",
              "curve_stride", "apply_eye_rotation", "missing_moment", "curve_max_frames"}


def parse_gate(name: str, data: dict[str, Any], source: str) -> GateSpec:
    """Validate the merged tables; every error names the source, the key and what was expected."""
    top = Table(data, source, "", _TOP_KEYS)
    g = Table(top.get("gate", dict), source, "gate", _GATE_KEYS)
    moments = _parse_gate_moments(g, source)
    moment_params = _parse_moment_params(top, moments, source)
    edits = _parse_edits(top, source)
    variants = _parse_variants(top, source)
    checks, face_checks = _parse_checks(top, source, variants, moments)
    expect = _parse_expect(top, source, variants)
    orderings = _parse_orderings(top, source, edits, variants, moments)
    golden = _parse_golden(top, source)
    closed_eye = _parse_closed_eye(top, source, moments) if "closed_eye" in data else None
    sweep = parse_sweep(data["sweep"], source, edits, MAX_IMAGE_SIZE) if "sweep" in data else None
    face_image_size, head_image_size = _parse_camera_sizes(top, source)
    return GateSpec(
        closed_eye=closed_eye, sweep=sweep, face_image_size=face_image_size, head_image_size=head_image_size,
        name=name, moments=moments, moment_params=moment_params, **_parse_gate_settings(g),
        edits=edits, variants=variants, checks=checks, face_checks=face_checks, expect=expect,
        orderings=orderings, golden=golden, source=source)


def _parse_gate_moments(g: Table, source: str) -> tuple[str, ...]:
    """``gate.moments``: at least one, each once (``_parse_moment_params`` checks them against the registry)."""
    moments = g.strings("moments")
    if not moments:
        raise InputError(source, "gate.moments", "at least one moment", "[]")
    unique_names(list(moments), source, "gate.moments")
    return moments


def _parse_moment_params(top: Table, moments: tuple[str, ...], source: str) -> dict[str, dict[str, Any]]:
    """The ``[moments.<name>]`` selection thresholds of each listed moment, defaults filled in; each
    listed moment must be registered."""
    from avatarcheck.moments import MOMENTS, moment_definition

    mtab = top.get("moments", dict, {})
    for key in mtab:  # tables of moments the gate no longer lists are ignored (lists are replaced whole)
        moment_definition(key, f"{source}: moments.{key}")
    moment_params: dict[str, dict[str, Any]] = {}
    for m in moments:
        if m not in MOMENTS:
            raise InputError(source, "gate.moments", f"names from the moment registry {sorted(MOMENTS)}", repr(m))
        defaults = moment_definition(m, source).params
        t = Table(mtab.get(m, {}), source, f"moments.{m}", set(defaults))
        moment_params[m] = {k: _moment_param(t, k, default, source) for k, default in defaults.items()}
    return moment_params


def _moment_param(t: Table, k: str, default: Any, source: str) -> Any:
    """One threshold: a weight in [0, 1.25], or a [low, high] range of them where the default is a pair."""
    if not isinstance(default, tuple):
        return t.number(k, 0.0, 1.25, default)
    v = t.get(k, list, list(default))
    if len(v) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v) \
            or not 0 <= v[0] <= v[1] <= 1.25:
        raise InputError(source, t.key(k), "[low, high] with 0 <= low <= high <= 1.25", repr(v))
    return (float(v[0]), float(v[1]))


def _parse_edits(top: Table, source: str) -> tuple[EditSpec, ...]:
    """``[[edits]]``: registered kinds with checked parameters, uniquely named, none called ``unedited``."""
    from avatarcheck.edit.base import checked_params
    from avatarcheck.edit.registry import edit_kind

    edits = []
    for i, e in enumerate(top.tables("edits")):
        kind = e.get("kind", "chibi")
        k = edit_kind(kind, source, f"edits[{i}].kind") if isinstance(kind, str) else None
        if k is None:
            raise InputError(source, f"edits[{i}].kind", "a string", repr(kind))
        t = Table(e, source, f"edits[{i}]", {"name", "kind", "rigid_eyes"} | set(k.params))
        ename = t.name("name")
        if ename == UNEDITED:
            raise InputError(source, f"edits[{i}].name", f"a name other than {UNEDITED!r} (the reference)", repr(ename))
        params = {p: v for p, v in e.items() if p not in ("name", "kind", "rigid_eyes")}
        edits.append(EditSpec(ename, kind, checked_params(k, params, source, f"edits[{i}]"),
                              t.get("rigid_eyes", bool, True)))
    unique_names([e.name for e in edits], source, "edits.name")
    return tuple(edits)


def parse_edits(tables: list, source: str) -> tuple[EditSpec, ...]:
    """Edit tables read exactly as a gate file's ``[[edits]]`` (a catalogue manifest declares its edits so)."""
    return _parse_edits(Table({"edits": tables}, source, "", {"edits"}), source)


def _parse_variants(top: Table, source: str) -> dict[str, VariantSpec]:
    """``[variants.<name>]``: at least one."""
    variants = {vname: _parse_variant(vname, v, source) for vname, v in top.get("variants", dict).items()}
    if not variants:
        raise InputError(source, "variants", "at least one variant", "none")
    return variants


def _parse_variant(vname: str, v: Any, source: str) -> VariantSpec:
    """One variant: its role, its override assets (each once) and the values of its number overrides."""
    where = f"variants.{vname}"
    checked_name(vname, source, where)
    numbers_known = {a.gate_name for a in BY_GATE_NAME.values() if a.is_number}
    t = Table(v, source, where, {"role", "overrides", "description", "curve"} | numbers_known)
    ov = t.strings("overrides")
    for o in ov:
        if o not in BY_GATE_NAME:
            raise InputError(source, f"{where}.overrides", f"names from {sorted(BY_GATE_NAME)}", repr(o))
    unique_names(list(ov), source, f"{where}.overrides")
    numbers = {}
    for o in ov:
        if BY_GATE_NAME[o].is_number:
            numbers[o] = t.number(o, 0.0, 20.0, low_open=True)
    for o in numbers_known & set(v) - set(ov):
        raise InputError(source, f"{where}.{o}", f"{o!r} listed in {where}.overrides too", "a value only")
    role = t.choice("role", ROLES)
    if role == "reference" and ov:
        raise InputError(source, f"{where}.overrides", "[] for the reference variant (the unedited avatar)",
                         repr(list(ov)))
    return VariantSpec(vname, role, ov, numbers, t.get("description", str, ""), t.get("curve", bool, True))


def _parse_checks(top: Table, source: str, variants: dict[str, VariantSpec],
                  moments: tuple[str, ...]) -> tuple[tuple[CheckSpec, ...], tuple[CheckSpec, ...]]:
    """``[[checks]]`` -> (per-eye checks, face checks); a check left without a listed moment is dropped."""
    checks = []
    for i, c in enumerate(top.tables("checks")):
        check = _parse_check(i, c, source, variants, moments)
        if check is not None:
            checks.append(check)
    if not checks:
        raise InputError(source, "checks", "at least one check", "[]")
    unique_names([c.name for c in checks], source, "checks.name")
    face_checks = tuple(c for c in checks if c.stat in FACE_STATS)
    return tuple(c for c in checks if c.stat not in FACE_STATS), face_checks


def _parse_check(i: int, c: dict, source: str, variants: dict[str, VariantSpec],
                 moments: tuple[str, ...]) -> CheckSpec | None:
    """``checks[i]``, or None when none of its moments is among the gate's."""
    from avatarcheck.moments import MOMENTS

    t = Table(c, source, f"checks[{i}]", {"name", "stat", "op", "threshold", "moments", "unedited_margin"})
    cname = t.name("name")
    stat = t.choice("stat", tuple(sorted(STATS) + sorted(FACE_STATS)))
    if stat in FACE_STATS and not any(v.role == "reference" for v in variants.values()):
        raise InputError(source, f"checks[{i}].stat", f"a gate with a reference variant ({stat!r} compares "
                         "each variant with it)", "no variant with role = \"reference\"")
    op = t.choice("op", ("<=", ">="))
    cm = t.strings("moments")
    for m in cm:
        if m not in MOMENTS:
            raise InputError(source, f"checks[{i}].moments", f"registered moments {sorted(MOMENTS)}", repr(m))
    # Moments the gate no longer lists are ignored (a pyproject may narrow gate.moments alone).
    cm = tuple(m for m in cm if m in moments)
    threshold = t.number("threshold", -1e6, 1e6)
    margin = t.number("unedited_margin", 0.0, 1e6) if "unedited_margin" in c else None
    if margin is not None and stat in FACE_STATS:
        raise InputError(source, f"checks[{i}].unedited_margin", f"no margin on {stat!r} (it is measured "
                         "against the unedited avatar already)", repr(margin))
    return CheckSpec(cname, stat, op, threshold, cm, margin) if cm else None


def _parse_expect(top: Table, source: str, variants: dict[str, VariantSpec]) -> dict[str, dict[str, dict[str, str]]]:
    """``[expect.<variant>.<moment>]``: check = "pass" | "fail" | "any", for the gate's variants."""
    expect: dict[str, dict[str, dict[str, str]]] = {}
    for vname, per_moment in top.get("expect", dict, {}).items():
        if vname not in variants:
            raise InputError(source, f"expect.{vname}", f"a variant of this gate {sorted(variants)}", repr(vname))
        if not isinstance(per_moment, dict):
            raise InputError(source, f"expect.{vname}", "a table of moments", repr(per_moment))
        expect[vname] = {}
        for m, per_check in per_moment.items():
            if not isinstance(per_check, dict):
                raise InputError(source, f"expect.{vname}.{m}", "a table of check = outcome", repr(per_check))
            # Expectations for checks or moments an override removed are ignored: lists are
            # replaced whole, and the packaged expectations should not block that.
            for cname, outcome in per_check.items():
                if outcome not in EXPECTATIONS:
                    raise InputError(source, f"expect.{vname}.{m}.{cname}", f"one of {EXPECTATIONS}", repr(outcome))
            expect[vname][m] = dict(per_check)
    return expect


def _parse_orderings(top: Table, source: str, edits: tuple[EditSpec, ...], variants: dict[str, VariantSpec],
                     moments: tuple[str, ...]) -> tuple[OrderingSpec, ...]:
    """``[[orderings]]``: a per-eye stat at a listed moment, between two edit/variant pairs."""
    pairs = {f"{e.name}/{v}" for e in edits for v in variants}
    orderings = []
    for i, o in enumerate(top.tables("orderings", [])):
        t = Table(o, source, f"orderings[{i}]", {"stat", "moment", "greater", "lesser"})
        spec = OrderingSpec(t.get("stat", str), t.get("moment", str), t.get("greater", str), t.get("lesser", str))
        if spec.stat not in STATS or spec.moment not in moments or not {spec.greater, spec.lesser} <= pairs:
            raise InputError(source, f"orderings[{i}]", f"a stat, a moment and two of {sorted(pairs)}", str(o))
        orderings.append(spec)
    return tuple(orderings)


def _parse_golden(top: Table, source: str) -> dict[str, dict[str, float]]:
    """``[golden.<backend>]``: the image comparison's tolerances per render backend."""
    golden = {}
    for b, tol in top.get("golden", dict, {}).items():
        t = Table(tol, source, f"golden.{b}", {"ssim_min", "flip_max", "max_abs"})
        golden[b] = {"ssim_min": t.number("ssim_min", 0.0, 1.0), "flip_max": t.number("flip_max", 0.0, 1.0),
                     "max_abs": t.number("max_abs", 0.0, 1.0)}
    return golden


def _parse_closed_eye(top: Table, source: str, moments: tuple[str, ...]) -> ClosedEyeSpec:
    """``[closed_eye]``: which frames count as closed, which moment's checks they take, how the worst is ranked."""
    t = Table(top.get("closed_eye", dict), source, "closed_eye", {"blink_min", "like", "rank_by"})
    return ClosedEyeSpec(t.number("blink_min", 0.0, 1.0, low_open=True), t.choice("like", moments),
                         t.choice("rank_by", tuple(sorted(STATS))))


def _parse_camera_sizes(top: Table, source: str) -> tuple[int, int]:
    """(``[sharpness] image_size``, ``[head_coverage] image_size``): the face camera of sharpness checks
    (the lower face, framed per variant) and the head cameras of head_holes checks (front and from below)."""
    sharp = Table(top.get("sharpness", dict, {}), source, "sharpness", {"image_size"})
    head = Table(top.get("head_coverage", dict, {}), source, "head_coverage", {"image_size"})
    return (sharp.number("image_size", 16, MAX_IMAGE_SIZE, 256, integer=True),
            head.number("image_size", 16, MAX_IMAGE_SIZE, 256, integer=True))


def _parse_gate_settings(g: Table) -> dict[str, Any]:
    """The ``[gate]`` table's scalar settings, as ``GateSpec`` fields."""
    return dict(
        curve_max_frames=g.number("curve_max_frames", 1, 10**9, 240, integer=True),
        description=g.get("description", str, ""),
        missing_moment=g.choice("missing_moment", MISSING_MOMENT, "skip"),
        take=g.get("take", str), avatar=g.get("avatar", str, "") or None,
        closure_max=g.number("closure_max", 0.0, 1.0) if "closure_max" in g.data else None,
        image_size=g.number("image_size", 16, MAX_IMAGE_SIZE, integer=True),
        visible=g.number("visible", 0.0, 1.0, low_open=True),
        dilate_px=g.number("dilate_px", 0, 64, integer=True),
        curve_stride=g.number("curve_stride", 1, 10**9, integer=True),
        apply_eye_rotation=g.get("apply_eye_rotation", bool, False),
    )


def spec_summary(spec: GateSpec) -> Mapping[str, Any]:
    """What a report states about the gate's declaration (roles and descriptions per variant)."""
    return {"variants": {v.name: {"role": v.role, "description": v.description, "overrides": list(v.overrides),
                                  "numbers": dict(v.numbers)} for v in spec.variants.values()}}
