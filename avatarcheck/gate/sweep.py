"""Safe-strength sweep: how strong can an edit get before a correction stops closing the lids?

For each strength of an edit and each correction (a set of override assets), the gate's checks are
evaluated at the take's moments (expected outcome "pass" everywhere: a sweep asks where a fix holds,
not where the artefact shows). The answer per correction is the largest strength of the longest
prefix of the sweep that passes every check: the recipe's "ships up to about 2.0", as a number for
this avatar.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from avatarcheck.errors import InputError
from avatarcheck.gate.evaluation import GateEvaluation, unedited_value
from avatarcheck.gate.inputs import GateInputs
from avatarcheck.gate.metrics import worst_eye
from avatarcheck.gate.result import SweepCorrection
from avatarcheck.gate.spec import EditSpec, GateSpec, VariantSpec
from avatarcheck.gate.sweep_spec import CORRECTIONS, SweepSpec

__all__ = ["CORRECTIONS", "SweepResult", "largest_safe", "sweep", "sweep_gate", "sweep_correction",
           "leak_threshold", "sweep_item", "unchecked_moments", "unchecked_text"]


@dataclasses.dataclass(frozen=True)
class SweepResult:
    kind: str
    params: dict
    strengths: list[float]
    corrections: list[str]
    passed: dict[str, list[bool]]            # correction -> per strength
    worst: dict[str, list[str]]              # correction -> per strength: the first failing check, or ""
    leak_max: dict[str, list[float]]         # correction -> per strength: worst leak max over the moments
    safe: dict[str, float | None]            # correction -> largest safe strength (None: fails at the first)
    unchecked: list[str] = dataclasses.field(default_factory=list)  # checked moments the take lacks (never run)


def largest_safe(strengths: Sequence[float], passed: Sequence[bool]) -> float | None:
    """The last strength of the leading run of passes (strengths ascending); None if the first fails."""
    safe = None
    for s, ok in zip(strengths, passed):
        if not ok:
            break
        safe = s
    return safe


def sweep_gate(spec: GateSpec, kind: str, params: Mapping, strengths: Sequence[float],
               corrections: Sequence[str], image_size: int | None = None) -> GateSpec:
    """The gate with one edit per strength (``s0``, ``s1``, ... ascending) and one must-pass variant per
    correction: what a ``GateEvaluation`` of the sweep renders."""
    edits = tuple(EditSpec(f"s{i}", kind, {**params, "strength": float(s)}) for i, s in enumerate(sorted(strengths)))
    variants = {c: VariantSpec(c, "must-pass", *CORRECTIONS[c], "") for c in corrections}
    return dataclasses.replace(spec, edits=edits, variants=variants, image_size=image_size or spec.image_size,
                               sweep=None)


def sweep_correction(ev: GateEvaluation, correction: str) -> tuple[list[bool], list[str], list[float]]:
    """One correction over the sweep gate's edits (``sweep_gate``), in strength order: per strength
    (passed every check, the first failing check or "refused (...)" or "", worst leak max over the moments;
    NaN where the pull-back was refused)."""
    spec = ev.spec
    passed, worst, leak = [], [], []
    for e in spec.edits:
        try:
            frames = ev.moment_evals(e.name, correction)
        except InputError as err:  # e.g. a pull-back past the plausibility bound: not a usable fix
            passed.append(False)
            worst.append(f"refused ({err.field}: {err.got})")
            leak.append(np.nan)
            continue
        failing = [f"{m}/{chk.name}" for m, fe in frames.items() for chk in spec.checks
                   if m in chk.moments and not chk.passes(worst_eye(fe.metrics, chk.stat)[1],
                                                          unedited_value(ev, chk, m))]
        passed.append(not failing)
        worst.append(failing[0] if failing else "")
        leak.append(max((worst_eye(fe.metrics, "leak_max")[1] for fe in frames.values()), default=np.nan))
    return passed, worst, leak


def leak_threshold(spec: GateSpec) -> float | None:
    """The threshold of the gate's leak-max check (the plot's reference line), if it has one."""
    return next((c.threshold for c in spec.checks if c.stat == "leak_max"), None)


def sweep(spec: GateSpec, inputs: GateInputs, kind: str, params: Mapping, strengths: Sequence[float],
          corrections: Sequence[str] = tuple(CORRECTIONS), backend: str = "cpu",
          image_size: int | None = None) -> SweepResult:
    """Evaluate every (strength, correction) at the take's present moments with the gate's checks."""
    strengths = sorted(float(s) for s in strengths)
    ev = GateEvaluation(sweep_gate(spec, kind, params, strengths, corrections, image_size), inputs, backend)
    passed, worst, leak = {}, {}, {}
    for c in corrections:
        passed[c], worst[c], leak[c] = sweep_correction(ev, c)
    return SweepResult(kind, dict(params), strengths, list(corrections), passed, worst, leak,
                       {c: largest_safe(strengths, passed[c]) for c in corrections},
                       unchecked_moments(ev.spec, inputs.present))


def sweep_item(ev: GateEvaluation, s: SweepSpec, correction: str) -> SweepCorrection:
    """One correction of the gate's ``[sweep]`` over the sweep gate ``ev`` renders (``sweep_gate``), as a
    result record; it fails only where ``min_safe`` asks for more than holds."""
    passed, worst, leak = sweep_correction(ev, correction)
    safe = largest_safe(s.strengths, passed)
    need = s.min_safe.get(correction)
    unchecked = unchecked_moments(ev.spec, ev.inputs.present)
    strict = bool(unchecked) and ev.spec.missing_moment == "fail"
    ok = (need is None or (safe is not None and safe >= need)) and not strict
    item_id = f"sweep/{s.name}/{correction}"
    first_bad = next((i for i, p in enumerate(passed) if not p), None)
    text = "none" if safe is None else f"{safe:g}" + (" (every strength tried passes)" if first_bad is None else "")
    if need is not None:
        text += f", {'at least' if ok else 'below'} min_safe {need:g}"
    if first_bad is not None:
        fails = worst[first_bad] if worst[first_bad].startswith("refused") else f"{worst[first_bad]} fails"
        text += f" (at strength {s.strengths[first_bad]:g}: {fails})"
    if unchecked:
        text += "; " + unchecked_text(unchecked) + (' (missing_moment = "fail")' if strict else "")
    message = f"{item_id}: largest safe strength {text}"
    return SweepCorrection(item_id, s.name, s.kind, dict(s.params), correction, list(s.strengths), passed, worst,
                           [None if np.isnan(v) else float(v) for v in leak], leak_threshold(ev.spec),
                           ev.spec.image_size, safe, need, ok, message, unchecked)


def unchecked_moments(spec: GateSpec, present: Mapping) -> list[str]:
    """The gate's take moments that some check names and the take lacks (``present``: the moments
    found in the take): a sweep evaluates the checks at present moments only, so these never ran."""
    named = {m for chk in spec.checks for m in chk.moments}
    return [m for m in spec.moments if m in named and m not in present]


def unchecked_text(unchecked: Sequence[str]) -> str:
    """The sweep item's and the CLI's words for ``unchecked_moments``, e.g. ``not checked at full_blink:
    the take lacks that moment``."""
    what = "that moment" if len(unchecked) == 1 else "those moments"
    return f"not checked at {', '.join(unchecked)}: the take lacks {what}"
