"""What a gate run produced: plain dataclasses that round-trip through JSON (``result.json``).

The pytest plugin, the CLI and the HTML report share this one model. Paths to images are
relative to the report folder, so a report folder can be moved or uploaded as a CI artifact.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avatarcheck.io.atomic import write_bytes_atomic

SCHEMA_VERSION = 2


@dataclass
class CheckResult:
    """One threshold check: ``value <op> threshold`` for one (edit, variant, moment, eye, check).

    ``passed`` is the raw outcome; ``expected`` is what the gate declares ("pass", or "fail" for
    the pre-fix variant's closed-eye leak checks: the gate must detect the recipe's artefact);
    ``ok`` is ``passed == (expected == "pass")``, what the test item reports.
    """

    item_id: str          # "pear/pre-fix/full_blink/leak_area"
    edit: str             # "unedited" | "pear" | "hourglass" ...
    variant: str          # "baseline" | "pre-fix" | "post-fix" (names from the gate file)
    moment: str           # "eye_wide" | "full_blink" | "half_blink_down"
    check: str            # name in the gate file ("leak_area", "coverage", ...)
    stat: str             # the metric compared ("leak_area", "coverage_p1", ...)
    eye: str              # "left" | "right" (the worse eye is reported for "both")
    value: float
    op: str               # "<=" | ">="
    threshold: float      # the bar compared with: the gate file's threshold, or the unedited value + margin
    passed: bool
    expected: str
    ok: bool
    message: str
    unedited: float | None = None  # the unedited avatar's value, when the check is relative to it


@dataclass
class OrderingResult:
    """A declared ordering between variants, e.g. pear pre-fix leaks more than hourglass pre-fix."""

    item_id: str
    stat: str
    moment: str
    greater: str          # "pear/pre-fix"
    lesser: str           # "hourglass/pre-fix"
    greater_value: float
    lesser_value: float
    ok: bool
    message: str


@dataclass
class GoldenResult:
    """Golden-image comparison of one (edit, variant, moment) magenta render."""

    item_id: str
    edit: str
    variant: str
    moment: str
    backend: str
    golden_path: str      # relative to the golden root, e.g. "three-moment/synthetic/<take>/pear/pre-fix/full_blink.cpu.png"
    status: str           # "pass" | "fail" | "missing" | "updated"
    ssim: float | None
    flip: float | None
    max_abs: float | None
    tolerances: dict[str, float]
    message: str
    golden_image: str | None = None   # report-relative copies for the golden / result / diff triplet
    result_image: str | None = None
    diff_image: str | None = None


@dataclass
class MomentImages:
    """Images and per-eye metrics of one (edit, variant, moment) render."""

    edit: str
    variant: str
    moment: str
    frame: int
    magenta: str          # report-relative PNG (magenta shader)
    heatmap: str          # report-relative PNG (E over the eye regions, colour-mapped)
    metrics: dict[str, dict[str, float]]   # eye -> {"leak_mean", "leak_p99", "leak_max", "leak_area", ...}
    rgb: str | None = None  # report-relative PNG: the same frame in the avatar's own colours


@dataclass
class FaceImages:
    """The face region of one (edit, variant) at a moment, as the sharpness check measured it."""

    edit: str
    variant: str
    moment: str
    frame: int
    image: str            # report-relative PNG: the face camera's render, outside the region dimmed
    sharpness: float      # gradient energy over the reference variant's (gate.sharpness)
    region_px: int        # pixels in the region


@dataclass
class DetectionResult:
    """A must-fail variant of one edit: the gate must see its artefact, i.e. fail at least one check."""

    item_id: str          # "pear/pre-fix/detected"
    edit: str
    variant: str
    failing: list[str]    # the variant's failing check items
    ok: bool
    message: str


@dataclass
class HeadImages:
    """The whole head of one (edit, variant) at a moment, as the head_holes check measured it."""

    edit: str
    variant: str
    moment: str
    frame: int
    views: dict[str, dict[str, Any]]  # view -> {"image": render PNG, "holes": PNG with holes red, "shares": {...}}
    worst: str            # "view/region" where the holes grew the most over the unedited avatar's
    excess: float         # that growth (share of the head's silhouette pixels)


@dataclass
class LeakCurve:
    """Leak over the whole take (every ``stride``-th frame) for one (edit, variant)."""

    edit: str
    variant: str
    frames: list[int]
    leak_mean: dict[str, list[float]]     # eye -> per-frame leak mean over the lid-covered region
    leak_max: dict[str, list[float]]


@dataclass
class EditSummary:
    """The edit's assets: ratio statistics, histogram, a ratio-coloured head image, audit findings."""

    edit: str
    kind: str                             # the edit kind (avatarcheck.edit.registry), e.g. "chibi"
    params: dict[str, Any]                # its parameters, e.g. {"preset": "pear", "strength": 2.0}
    ratio_stats: dict[str, float]         # min / median / max / mean
    ratio_hist_counts: list[int]
    ratio_hist_edges: list[float]
    ratio_image: str | None               # report-relative PNG of the head coloured by ratio
    audit: dict[str, list[dict[str, str]]]  # variant -> [{"channel", "severity", "message"}]


@dataclass
class SkippedItem:
    """An item that could not be evaluated, e.g. at a moment the take lacks. ``failed``: the gate
    declares missing moments failures (``missing_moment = "fail"``)."""

    item_id: str
    reason: str
    failed: bool = False


@dataclass
class SweepCorrection:
    """One correction of the gate's safe-strength sweep (``[sweep]``, run with ``--sweep``).

    Lists run over ``strengths`` (ascending). ``safe``: the largest strength of the leading run of
    passes (None: the first fails). ``min_safe``: the strength the gate requires it to hold to;
    ``ok`` is ``safe >= min_safe`` (always True without one), and False when checks could not run
    for a moment the take lacks while the gate says ``missing_moment = "fail"``.
    """

    item_id: str                          # "sweep/pear/ratio"
    sweep: str                            # the sweep's name (its edit)
    kind: str                             # edit kind and parameters (without strength)
    params: dict[str, Any]
    correction: str                       # "none" | "boost" | "ratio" | "jacobian" | "ratio+lash_ring"
    strengths: list[float]
    passed: list[bool]                    # every check passed at that strength
    worst: list[str]                      # the first failing check ("full_blink/coverage"), "refused (...)", or ""
    leak_max: list[float | None]          # worst leak max over the moments (None: refused)
    leak_threshold: float | None          # the gate's leak-max threshold (the plot's line)
    image_size: int
    safe: float | None
    min_safe: float | None
    ok: bool
    message: str
    # moments the gate's checks name that the take lacks: their checks ran at no strength (the item
    # fails for it under ``missing_moment = "fail"``)
    unchecked: list[str] = dataclasses.field(default_factory=list)


@dataclass
class GateResult:
    gate: str
    avatar: str
    take: str
    backend: str
    device: str
    image_size: int
    moments: dict[str, dict[str, Any]]    # name -> {"frame", "reason", "values"}
    checks: list[CheckResult] = field(default_factory=list)
    orderings: list[OrderingResult] = field(default_factory=list)
    goldens: list[GoldenResult] = field(default_factory=list)
    images: list[MomentImages] = field(default_factory=list)
    curves: list[LeakCurve] = field(default_factory=list)
    edits: list[EditSummary] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    sweep: list[SweepCorrection] = field(default_factory=list)   # empty unless run with --sweep
    faces: list[FaceImages] = field(default_factory=list)   # sharpness checks' face renders
    heads: list[HeadImages] = field(default_factory=list)   # head_holes checks' head renders
    detections: list[DetectionResult] = field(default_factory=list)  # must-fail variants: artefact seen?
    take_key: str = ""                    # the take's name + content hash (golden paths use it)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"role", "description", ...}
    versions: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)   # seconds per stage
    created: str = ""                     # ISO 8601 time of the run
    notes: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)        # where the avatar came from (SourceInfo)
    avatar_check: dict[str, Any] = field(default_factory=dict)  # plausibility: statistics, findings, image
    closure: dict[str, Any] = field(default_factory=dict)       # the rig's blink closure (gate.closure)
    golden_set: dict[str, str] = field(default_factory=dict)    # the goldens compared (gate.golden.GoldenSet)
    schema: int = SCHEMA_VERSION

    @property
    def checked_nothing(self) -> bool:
        """No verdict was evaluated (every item skipped, e.g. a take with none of the moments)."""
        return not (self.checks or self.orderings or self.goldens or self.sweep or self.detections)

    @property
    def ok(self) -> bool:
        # A gate that checked nothing would pass vacuously: a CI on an empty take must not go green.
        return (not self.checked_nothing and all(c.ok for c in self.checks) and all(o.ok for o in self.orderings)
                and all(g.status in ("pass", "updated") for g in self.goldens)
                and not any(s.failed for s in self.skipped) and all(s.ok for s in self.sweep)
                and all(d.ok for d in self.detections)
                and not (self.avatar_check.get("implausible") and not self.avatar_check.get("allowed"))
                and not self.closure.get("failed"))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=False)

    def save(self, path: str | os.PathLike) -> None:
        write_bytes_atomic(path, self.to_json().encode())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GateResult":
        d = dict(d)
        for key, sub in (("checks", CheckResult), ("orderings", OrderingResult), ("goldens", GoldenResult),
                         ("images", MomentImages), ("curves", LeakCurve), ("edits", EditSummary),
                         ("skipped", SkippedItem), ("sweep", SweepCorrection), ("faces", FaceImages),
                         ("heads", HeadImages), ("detections", DetectionResult)):
            d[key] = [sub(**x) for x in d.get(key, [])]
        return cls(**d)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "GateResult":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def merge(self, other: "GateResult") -> "GateResult":
        """Union of two partial results of the same run (pytest-xdist workers), de-duplicated by id."""
        out = dataclasses.replace(self)
        for key, ident in (("checks", "item_id"), ("orderings", "item_id"), ("goldens", "item_id"),
                           ("images", None), ("curves", None), ("edits", "edit"), ("skipped", "item_id"),
                           ("sweep", "item_id"), ("faces", None), ("heads", None),
                           ("detections", "item_id")):
            seen: dict[Any, Any] = {}
            for x in getattr(self, key) + getattr(other, key):
                k = getattr(x, ident) if ident else (x.edit, x.variant, getattr(x, "moment", ""))
                seen.setdefault(k, x)
            setattr(out, key, list(seen.values()))
        out.timings = {k: self.timings.get(k, 0.0) + other.timings.get(k, 0.0)
                       for k in set(self.timings) | set(other.timings)}
        out.notes = list(dict.fromkeys(self.notes + other.notes))
        out.avatar_check = self.avatar_check or other.avatar_check
        out.source = self.source or other.source
        out.closure = self.closure or other.closure
        out.golden_set = self.golden_set or other.golden_set
        return out
