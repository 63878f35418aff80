"""A gate run: the step list every runner executes (CLI and pytest plugin) and the results so far.

``GateSession`` wires the units together: inputs (loaded lazily), the evaluation cache, the
artefacts writer and one function per item kind (``gate.items``). ``steps()`` is the one list of
items, in report order; each step evaluates lazily and returns an ``Outcome``. ``result()`` is
what has been computed so far (a pytest-xdist worker's share is merged by the plugin).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import platform
from collections.abc import Callable
from pathlib import Path

from avatarcheck.gate import items
from avatarcheck.gate.artefacts import HEATMAP_VMAX, Artefacts
from avatarcheck.gate.avatar_check import already_edited_note, avatar_record, refusal
from avatarcheck.gate.evaluation import GateEvaluation, Timings
from avatarcheck.gate.golden import (DEFAULT_ROOT as DEFAULT_GOLDEN_ROOT, PACKAGED_SOURCE, GoldenSet, choose_set,
                                     golden_set_relpath)
from avatarcheck.gate.inputs import GateInputs, load_inputs
from avatarcheck.gate.result import (CheckResult, DetectionResult, EditSummary, FaceImages, GateResult,
                                     GoldenResult, HeadImages, LeakCurve, MomentImages, OrderingResult, SkippedItem,
                                     SweepCorrection)
from avatarcheck.gate.spec import WORST_CLOSED, GateSpec, spec_summary
from avatarcheck.gate.sweep import sweep_gate, sweep_item
from avatarcheck.gate.sweep_spec import require_sweep
from avatarcheck.moments import MissingMoment
from avatarcheck.render.backend import Backend, resolve_backend
from avatarcheck.sources.base import LoadedAvatar, LoadOptions

AVATAR_ITEM = "avatar/plausible"
CLOSURE_ITEM = "avatar/blink_closure"
MOMENTS_ITEM = "take/moments"


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: str          # "pass" | "fail" | "skip"
    message: str = ""


PASS = Outcome("pass")


@dataclasses.dataclass(frozen=True)
class GateStep:
    """One item of a gate run: ``run()`` evaluates it (lazily) and returns its ``Outcome``."""

    item_id: str
    description: str
    group: str            # the (edit, variant) whose renders it needs: xdist's loadgroup key
    run: Callable[[], Outcome]


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("avatarcheck", "torch", "gsplat", "numpy", "numba", "scikit-image", "flip-evaluator"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


class GateSession:
    def __init__(self, spec: GateSpec, report_dir: Path, *, avatar: Path | None = None, take: str | None = None,
                 backend: str = "auto", golden_root: Path = DEFAULT_GOLDEN_ROOT, golden_update: bool = False,
                 sweep: bool = False, ply_layout: str = "auto", allow_implausible: bool = False,
                 loaded: LoadedAvatar | None = None) -> None:
        """``loaded``: the avatar ``avatar`` names, already read (reused across runs; None: read on first use)."""
        self.spec = spec
        self.loaded = loaded
        self.report_dir = Path(report_dir)
        self.avatar_source = avatar or spec.avatar
        self.load_options = LoadOptions(ply_layout=ply_layout)
        self.allow_implausible = allow_implausible
        self.avatar_check: dict = {}
        self.closure: dict = {}
        self.take_source = take or spec.take
        self.backend: Backend = resolve_backend(backend)
        self.golden_root = Path(golden_root)
        self.golden_update = golden_update
        self.timings = Timings()
        self.artefacts = Artefacts(self.report_dir)
        self.checks: dict[str, CheckResult] = {}
        self.orderings: dict[str, OrderingResult] = {}
        self.goldens: dict[str, GoldenResult] = {}
        self.images: dict[tuple, list[MomentImages]] = {}
        self.curves: dict[tuple[str, str], LeakCurve] = {}
        self.edits: dict[str, EditSummary] = {}
        self.skipped: dict[str, SkippedItem] = {}
        # The safe-strength sweep ([sweep]) is slow: steps only when asked (--sweep / --gate-sweep).
        self.sweep = require_sweep(spec) if sweep else None
        self.sweeps: dict[str, SweepCorrection] = {}
        self.faces: dict[tuple[str, str, str], FaceImages] = {}
        self.heads: dict[tuple[str, str, str], HeadImages] = {}
        self.detections: dict[str, DetectionResult] = {}

    @functools.cached_property
    def inputs(self) -> GateInputs:
        with self.timings.timed("load inputs"):
            return load_inputs(self.avatar_source, self.take_source, self.spec.moments, self.spec.moment_params,
                               self.load_options, self.loaded)

    @functools.cached_property
    def evaluation(self) -> GateEvaluation:
        return GateEvaluation(self.spec, self.inputs, self.backend.name, self.timings)

    @functools.cached_property
    def sweep_evaluation(self) -> GateEvaluation:
        """The sweep's own renders (one edit per strength, one variant per correction): a separate cache,
        timed as one stage."""
        s = self.sweep
        return GateEvaluation(sweep_gate(self.spec, s.kind, s.params, s.strengths, s.corrections, s.image_size),
                              self.inputs, self.backend.name)

    @functools.cached_property
    def golden_set(self) -> GoldenSet:
        """Where this run's goldens are read (the user's, else the package's for the embedded avatar) or written."""
        i = self.inputs
        return choose_set(self.golden_root, golden_set_relpath(self.spec.name, i.avatar_name, i.take_key),
                          self.backend.name, embedded=i.source.kind == "embedded", update=self.golden_update)

    @functools.cached_property
    def refused(self) -> str | None:
        """Why the avatar gets no verdicts (implausible and not allowed), else None; checks it once."""
        if not self.avatar_check:
            with self.timings.timed("avatar check"):
                self.avatar_check = avatar_record(self.inputs, self.artefacts, self.backend.name,
                                                  self.allow_implausible)
        return refusal(self.avatar_check)

    def _avatar(self) -> Outcome:
        reason = self.refused
        return PASS if reason is None else Outcome("fail", f"{AVATAR_ITEM}: {reason}")

    def _closure(self) -> Outcome:
        c = self.closure = self.evaluation.closure
        if not c["failed"]:
            return PASS
        return Outcome("fail", f"{CLOSURE_ITEM}: the closed lids leave {c['worst']:.3f} of an eyeball visible at "
                       f"mesh level (closure_max {c['closure_max']:g}); the rig is {c['rig']}")

    def _guarded(self, run: Callable[[], Outcome]) -> Outcome:
        """A verdict step, withheld (skipped) when the avatar is implausible; the avatar item fails then."""
        reason = self.refused
        return run() if reason is None else Outcome("skip", reason)

    # -- steps --------------------------------------------------------------------------------------
    def _missing_reason(self, moment: str) -> str | None:
        """Why the take lacks ``moment`` (None: it has it)."""
        found = self.inputs.moments.get(moment)
        if moment == WORST_CLOSED and not len(self.evaluation.closed_frames()):
            return (f"the take has no closed-eye frame (eyeBlink of both eyes >= "
                    f"{self.spec.closed_eye.blink_min:g}) for {WORST_CLOSED}")
        if isinstance(found, MissingMoment):
            return f"the take has no {moment} moment: {found.reason}"
        return None

    def _missing(self, item_id: str, moment: str) -> Outcome | None:
        """A skip (or, with ``missing_moment = "fail"``, a failure) when the take lacks ``moment``."""
        reason = self._missing_reason(moment)
        if reason is None:
            return None
        failed = self.spec.missing_moment == "fail"
        self.skipped[item_id] = SkippedItem(item_id, reason, failed)
        return Outcome("fail" if failed else "skip", f"{item_id}: {reason}")

    def _moments(self) -> Outcome:
        """The session-level item: fails when the take has none of the moments the gate's items need.
        Every item would skip, and a gate that checked nothing must not pass (nor go green in CI)."""
        spec = self.spec
        needed = dict.fromkeys([i.moment for i in spec.plan()] + [o.moment for o in spec.orderings]
                               + [g.moment for g in spec.golden_items()])
        reasons = []
        for moment in needed:
            reason = self._missing_reason(moment)
            if reason is None:
                return PASS
            reasons.append(reason.removeprefix("the take has "))
        why = ("the take has none of the gate's moments: " + "; ".join(reasons) if reasons else
               "the gate declares no check, ordering or golden")
        why += (f"; the gate checked nothing (missing_moment = \"{spec.missing_moment}\" skips a missing moment's "
                "items, but a gate must check at least one)")
        self.skipped[MOMENTS_ITEM] = SkippedItem(MOMENTS_ITEM, why, failed=True)
        return Outcome("fail", f"{MOMENTS_ITEM}: {why}")

    def _moment_images(self, edit: str, variant: str) -> None:
        if (edit, variant) not in self.images:
            evals = self.evaluation.moment_evals(edit, variant)
            frames = {m: self.inputs.present[m].frame for m in evals}
            self.images[(edit, variant)] = self.artefacts.moment_images(edit, variant, evals, frames)

    def _worst_closed_images(self, edit: str, variant: str) -> None:
        key = (edit, variant, WORST_CLOSED)
        if key not in self.images:
            frame, ev = self.evaluation.worst_closed(edit, variant)
            self.images[key] = self.artefacts.moment_images(edit, variant, {WORST_CLOSED: ev}, {WORST_CLOSED: frame})

    def _check(self, item) -> Outcome:
        skip = self._missing(item.item_id, item.moment)
        if skip:
            return skip
        if item.moment == WORST_CLOSED:
            self._worst_closed_images(item.edit, item.variant)
        else:
            self._moment_images(item.edit, item.variant)
        r = self.checks[item.item_id] = items.check(self.evaluation, item)
        key = (item.edit, item.variant, item.moment)
        frame = self.inputs.present[item.moment].frame if item.moment in self.inputs.present else -1
        if item.check.stat == "sharpness" and key not in self.faces:
            self.faces[key] = self.artefacts.face_images(*key, frame, self.evaluation.face_view(*key), r.value)
        elif item.check.stat == "head_holes" and key not in self.heads:
            self.heads[key] = self.artefacts.head_images(*key, frame, self.evaluation.head_views(*key),
                                                         self.evaluation.head_holes(*key))
        return PASS if r.ok else Outcome("fail", r.message)

    def _ordering(self, spec) -> Outcome:
        skip = self._missing(spec.item_id, spec.moment)
        if skip:
            return skip
        moot = items.ordering_moot(self.evaluation, spec)
        if moot:
            self.skipped[spec.item_id] = SkippedItem(spec.item_id, moot, False)
            return Outcome("skip", f"{spec.item_id}: {moot}")
        r = self.orderings[spec.item_id] = items.ordering(self.evaluation, spec)
        return PASS if r.ok else Outcome("fail", r.message)

    def _golden(self, item) -> Outcome:
        skip = self._missing(item.item_id, item.moment)
        if skip:
            return skip
        self._moment_images(item.edit, item.variant)
        r = self.goldens[item.item_id] = items.golden(self.evaluation, item, self.golden_set, self.golden_update,
                                                      self.artefacts, update_command=self._golden_update_command())
        return PASS if r.status in ("pass", "updated") else Outcome("fail", f"{item.item_id}: {r.status}: {r.message}")

    def _curve(self, edit: str, variant: str) -> Outcome:
        c = self.curves[(edit, variant)] = items.curve(self.evaluation, edit, variant)
        problem = items.curve_problem(c)
        return PASS if problem is None else Outcome("fail", problem)

    def _detection(self, edit: str, variant: str) -> Outcome:
        r = self.detections[f"{edit}/{variant}/detected"] = items.detection(self.evaluation, edit, variant)
        return PASS if r.ok else Outcome("fail", r.message)

    def _summary(self, edit: str) -> Outcome:
        self.edits[edit] = items.edit_summary(self.evaluation, edit, self.artefacts)
        return PASS

    def _sweep(self, correction: str) -> Outcome:
        ev = self.sweep_evaluation  # loads the inputs first (timed on their own)
        with self.timings.timed("sweep"):
            r = self.sweeps[correction] = sweep_item(ev, self.sweep, correction)
        return PASS if r.ok else Outcome("fail", r.message)

    def steps(self) -> list[GateStep]:
        """Every item of the gate, in report order. Nothing is evaluated here."""
        out = [GateStep(AVATAR_ITEM, "a plausible trained LAM avatar (statistics, canonical render)", "avatar",
                        self._avatar),
               GateStep(CLOSURE_ITEM, "the rig's blink closes each eye at mesh level (reported; fails only "
                        "above the gate's closure_max)", "avatar", self._closure),
               GateStep(MOMENTS_ITEM, "the take has at least one of the moments the gate's items need (a gate "
                        "that checked nothing fails)", "avatar", self._moments)]
        for item in self.spec.plan():
            c = item.check
            out.append(GateStep(item.item_id, f"{c.stat} {c.op} {c.threshold:g}, expected {item.expected}",
                                f"{item.edit}/{item.variant}", functools.partial(self._check, item)))
        for o in self.spec.orderings:
            out.append(GateStep(o.item_id, f"{o.greater} > {o.lesser} on {o.stat}", "orderings",
                                functools.partial(self._ordering, o)))
        for g in self.spec.golden_items():
            out.append(GateStep(g.item_id, "magenta render vs golden image", f"{g.edit}/{g.variant}",
                                functools.partial(self._golden, g)))
        for edit, variant in self.spec.variant_pairs():
            if not self.spec.variants[variant].curve:
                continue
            out.append(GateStep(f"{edit}/{variant}/leak_curve", "per-frame leak over the take (report)",
                                f"{edit}/{variant}", functools.partial(self._curve, edit, variant)))
        for edit, variant in self.spec.variant_pairs():
            if self.spec.variants[variant].role == "must-fail":
                out.append(GateStep(f"{edit}/{variant}/detected", "the must-fail variant fails at least one check "
                                    "(the gate sees its artefact)", f"{edit}/{variant}",
                                    functools.partial(self._detection, edit, variant)))
        summary_variant = self.spec.summary_variant()
        for e in self.spec.edits:
            out.append(GateStep(f"{e.name}/summary", "scale-ratio histogram, ratio-coloured head, override audit",
                                f"{e.name}/{summary_variant}", functools.partial(self._summary, e.name)))
        if self.sweep is not None:
            s = self.sweep
            for c in s.corrections:
                need = f", must hold to {s.min_safe[c]:g}" if c in s.min_safe else ""
                out.append(GateStep(f"sweep/{s.name}/{c}", f"largest safe strength of {c} over "
                                    f"{', '.join(f'{x:g}' for x in s.strengths)}{need}", f"sweep/{c}",
                                    functools.partial(self._sweep, c)))
        return out[:1] + [dataclasses.replace(s, run=functools.partial(self._guarded, s.run)) for s in out[1:]]

    def run_all(self, progress: Callable[[str], None] | None = None) -> GateResult:
        """Evaluate every step (the CLI's path); ``progress(item_id)`` before each."""
        for step in self.steps():
            if progress is not None:
                progress(step.item_id)
            step.run()
        return self.result()

    def result(self) -> GateResult:
        moments = {}
        for name, m in self.inputs.moments.items():
            if isinstance(m, MissingMoment):
                moments[name] = {"frame": None, "reason": m.reason, "missing": True, "best_frame": m.best_frame,
                                 "values": dict(m.values)}
            else:
                moments[name] = {"frame": int(m.frame), "reason": m.reason, "values": dict(m.values)}
        if self.spec.closed_eye is not None:
            c, n = self.spec.closed_eye, int(len(self.evaluation.closed_frames()))
            moments[WORST_CLOSED] = {"frame": None, "values": {}, "closed_frames": n,
                                     "reason": f"per variant: the worst {c.rank_by} (worse eye) among the {n} frames "
                                               f"with eyeBlink of both eyes >= {c.blink_min:g}; checked like {c.like}"}
        notes = [f"Leak heatmaps: E from 0 (black) to {HEATMAP_VMAX} or more (pale yellow), inside the eye regions.",
                 "Numbers are defined on gsplat 1.5.3's rasteriser semantics (EWA, eps2d 0.3, 16 px tiles); "
                 "the CPU backend reproduces them."]
        if self.inputs.source.edited and self.spec.edits:
            notes.append(already_edited_note(self.inputs.source.edited))
        if not self.inputs.source.calibrated:
            notes.append("No verdict is calibrated for this splat cloud: the thresholds were set on the embedded "
                         "stand-in and on trained LAM avatars.")
        by_name = {c.name: c for c in self.spec.checks}
        relative = sorted({c.check for c in self.checks.values()
                           if c.unedited is not None and not by_name[c.check].passes_threshold(c.unedited)})
        if relative:
            notes.append("The unedited avatar is itself beyond the threshold of " + ", ".join(relative)
                         + " (a trained avatar's thin lids): there the bar is its own value plus the check's "
                         "unedited_margin, so the checks ask what an edit adds.")
        if not self.spec.apply_eye_rotation:
            notes.append("Eye joints at rest (LAM's ARKit path); gaze is in the eyeLook blendshapes.")
        if self.goldens:
            notes.append(self._golden_note())
        clipped = getattr(self.inputs.take, "clipped", None)
        if clipped:
            notes.append("Take weights clipped to [0, 1] (real trackers overshoot): "
                         + ", ".join(f"{k} {v} cells" for k, v in sorted(clipped.items())))
        return GateResult(
            gate=self.spec.name, avatar=self.inputs.avatar_name, take=self.inputs.take.source,
            backend=self.backend.name, device=self.backend.device_name(), image_size=self.spec.image_size,
            moments=moments, checks=list(self.checks.values()), orderings=list(self.orderings.values()),
            goldens=list(self.goldens.values()), images=[x for v in self.images.values() for x in v],
            curves=list(self.curves.values()), edits=list(self.edits.values()),
            skipped=list(self.skipped.values()), sweep=list(self.sweeps.values()), faces=list(self.faces.values()),
            heads=list(self.heads.values()), detections=list(self.detections.values()),
            take_key=self.inputs.take_key,
            variants=dict(spec_summary(self.spec)["variants"]), versions=versions(),
            timings=dict(self.timings.seconds),
            created=datetime.datetime.now().astimezone().isoformat(timespec="seconds"), notes=notes,
            source=self.inputs.source.as_dict(), avatar_check=dict(self.avatar_check), closure=dict(self.closure),
            golden_set=self.golden_set.as_dict() if self.goldens else {})

    def _golden_update_command(self) -> str:
        """What a missing golden tells the user to run: this run's gate, backend, avatar, take and golden root."""
        avatar = None if self.avatar_source is None else str(self.avatar_source)
        return items.golden_update_command(self.spec, self.backend.name, self.take_source, avatar, self.golden_root)

    def _golden_note(self) -> str:
        g = self.golden_set
        if g.source == PACKAGED_SOURCE:
            return (f"Goldens: the packaged set of the embedded avatar, {g.folder} ({g.backend}): "
                    f"{self.golden_root} has none of its own (--golden-update writes them there).")
        return f"Goldens: {g.folder} ({g.backend})."
