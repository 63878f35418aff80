"""Run a gate: one lazy session shared by the pytest plugin and ``avatarcheck gate``.

Everything expensive is computed once per process and on demand (an item asks for the variant it
needs), so pytest-xdist workers each do only their share; each worker's partial ``GateResult`` is
merged into one report at the end.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from avatarcheck.avatar import Avatar, load_avatar
from avatarcheck.errors import InputError
from avatarcheck.gate.evaluate import EYES, FrameEval, evaluate_frames
from avatarcheck.gate.golden import compare_images, golden_relpath, read_image, write_golden
from avatarcheck.gate.metrics import STATS, worst_eye
from avatarcheck.gate.result import (CheckResult, EditSummary, GateResult, GoldenResult, LeakCurve, MomentImages,
                                     OrderingResult)
from avatarcheck.gate.spec import BASELINE_EDIT, CheckItem, GateSpec, GoldenItem, OrderingSpec
from avatarcheck.io.images import write_png
from avatarcheck.takes.take import Take

# Heatmaps map E in [0, HEATMAP_VMAX] to the colour scale: the seed's leak is a faint 0.1-0.3.
HEATMAP_VMAX = 0.25



def load_take(source: str) -> Take:
    """``synthetic:SEED`` (generated, deterministic) or a Live Link Face .csv / .npz path."""
    if source.startswith("synthetic:"):
        from avatarcheck.takes.synthetic import synthetic_take

        try:
            seed = int(source.split(":", 1)[1])
        except ValueError:
            raise InputError("--gate-take", "take", "synthetic:SEED with an integer seed", repr(source)) from None
        return synthetic_take(seed=seed)
    from avatarcheck.takes.files import load_take as load_take_file

    return load_take_file(Path(source))


def load_gate_avatar(source: Path | None) -> tuple[str, Avatar]:
    """(name, avatar): a user's FLAME/LAM folder or head .npz, else the embedded synthetic avatar."""
    name = "synthetic" if source is None else source.stem if source.suffix else source.name
    return name, load_avatar(source)


def eye_axis_angles(take: Take, frames: np.ndarray) -> np.ndarray:
    """(B, 6) left then right eye axis-angle from the take's yaw/pitch/roll (Live Link Face convention:
    pitch > 0 looks down, yaw > 0 towards the subject's right). Head frame: y up, face +z, left +x."""
    out = []
    for angles in (take.eye_left[frames], take.eye_right[frames]):
        yaw, pitch, roll = angles[:, 0], angles[:, 1], angles[:, 2]
        # Looking right turns the gaze towards -x: a negative rotation about +y. Looking down turns
        # +z towards -y: a positive rotation about +x.
        rot = Rotation.from_euler("YXZ", np.stack([-yaw, pitch, roll], axis=1))
        out.append(rot.as_rotvec())
    return np.concatenate(out, axis=1).astype(np.float32)


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("avatarcheck", "torch", "gsplat", "numpy", "numba", "scikit-image", "flip-evaluator"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def device_name(backend: str) -> str:
    if backend == "cuda":
        import torch

        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()})"


@dataclasses.dataclass(frozen=True)
class GateStep:
    """One unit of a gate run: ``run()`` evaluates it and returns a failure message, or None."""

    item_id: str
    description: str
    group: str            # the (edit, variant) whose renders it needs: xdist's loadgroup key
    run: Callable[[], str | None]


class GateSession:
    """Lazy evaluation of one gate run; ``result()`` is what has been computed so far."""

    def __init__(self, spec: GateSpec, report_dir: Path, *, avatar: Path | None = None, take: str | None = None,
                 backend: str = "auto", golden_root: Path = Path("golden"), golden_update: bool = False) -> None:
        from avatarcheck.render.api import resolve_backend

        self.spec = spec
        self.report_dir = Path(report_dir)
        self.avatar_source = avatar
        self.take_source = take or spec.take
        self.backend = resolve_backend(backend)
        self.golden_root = Path(golden_root)
        self.golden_update = golden_update
        self.timings: dict[str, float] = {}
        self._checks: dict[str, CheckResult] = {}
        self._orderings: dict[str, OrderingResult] = {}
        self._goldens: dict[str, GoldenResult] = {}
        self._images: dict[tuple[str, str], list[MomentImages]] = {}
        self._curves: dict[tuple[str, str], LeakCurve] = {}
        self._edits: dict[str, EditSummary] = {}
        self.notes: list[str] = []

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - t0

    # -- inputs ---------------------------------------------------------------------------------
    @functools.cached_property
    def avatar_and_name(self) -> tuple[str, Avatar]:
        with self.timed("load avatar"):
            return load_gate_avatar(self.avatar_source)

    @property
    def avatar(self) -> Avatar:
        return self.avatar_and_name[1]

    @property
    def avatar_name(self) -> str:
        return self.avatar_and_name[0]

    @functools.cached_property
    def take(self) -> Take:
        with self.timed("load take"):
            return load_take(self.take_source)

    @functools.cached_property
    def moments(self) -> dict:
        from avatarcheck.takes.moments import select_moments

        chosen = select_moments(self.take, gate=self.spec.name)
        return {m: chosen[m] for m in self.spec.moments}

    def inputs(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(arkit52 (B, 52), eyes (B, 6)) for take frames."""
        frames = np.asarray(frames)
        eyes = (eye_axis_angles(self.take, frames) if self.spec.apply_eye_rotation
                else np.zeros((len(frames), 6), np.float32))
        return self.take.weights[frames], eyes

    # -- variants ---------------------------------------------------------------------------------
    def assets_dir(self, edit: str) -> Path:
        return self.report_dir / "assets" / edit

    @functools.lru_cache(maxsize=None)
    def baked(self, edit: str) -> dict:
        from avatarcheck.edit.assets import bake_chibi
        from avatarcheck.edit.chibi import chibi_params

        e = self.spec.edit(edit)
        with self.timed("bake edits"):
            manifest = bake_chibi(self.avatar, chibi_params(e.preset, e.strength), self.assets_dir(edit),
                                  jacobians="jacobians" in {o for v in self.spec.variants.values() for o in v},
                                  name=edit)
        return manifest

    def settings(self, edit: str, variant: str):
        from avatarcheck.edit.assets import BASIS_FILE, JACOBIAN_FILE, MESH_FILE, RATIO_FILE
        from avatarcheck.edit.overrides import OverrideSettings

        if edit == BASELINE_EDIT:
            return OverrideSettings()
        self.baked(edit)
        # Override names in the gate file -> (OverrideSettings field, the baked file it reads).
        assets = {"xyz": ("edit_xyz_obj", MESH_FILE), "arkit_bs": ("arkit_bs", BASIS_FILE),
                  "scale_ratio": ("scale_ratio", RATIO_FILE), "jacobians": ("jacobians", JACOBIAN_FILE)}
        d = self.assets_dir(edit)
        return OverrideSettings(**{assets[o][0]: d / assets[o][1] for o in self.spec.variants[variant] if o in assets})

    @functools.lru_cache(maxsize=None)
    def variant(self, edit: str, variant: str) -> Avatar:
        from avatarcheck.edit.overrides import apply_overrides

        with self.timed("apply overrides"):
            return apply_overrides(self.avatar, self.settings(edit, variant))

    def camera(self, edit: str, variant: str):
        # Each variant frames its own eye regions: edited eyes are larger, and a shared camera would
        # measure the edit's magnification rather than its lids.
        return self.variant(edit, variant).eye_camera(self.spec.image_size)

    # -- moments ----------------------------------------------------------------------------------
    @functools.lru_cache(maxsize=None)
    def moment_evals(self, edit: str, variant: str) -> dict[str, FrameEval]:
        frames = np.array([self.moments[m].frame for m in self.spec.moments])
        av = self.variant(edit, variant)
        with self.timed("render moments"):
            evals = evaluate_frames(av, *self.inputs(frames), self.camera(edit, variant), self.backend,
                                    self.spec.visible, self.spec.dilate_px)
        out = dict(zip(self.spec.moments, evals))
        self._write_moment_images(edit, variant, out)
        return out

    def _write_moment_images(self, edit: str, variant: str, evals: dict[str, FrameEval]) -> None:
        from avatarcheck.report.html import heatmap_image

        rows = []
        for moment, ev in evals.items():
            rel = Path("images") / edit / variant
            write_png(self.report_dir / rel / f"{moment}.png", ev.rgb)
            region = np.logical_or.reduce([ev.regions[e] for e in EYES])
            write_png(self.report_dir / rel / f"{moment}.heat.png", heatmap_image(ev.E, region, vmax=HEATMAP_VMAX))
            rows.append(MomentImages(edit, variant, moment, int(self.moments[moment].frame),
                                     str(rel / f"{moment}.png"), str(rel / f"{moment}.heat.png"), ev.metrics))
        self._images[(edit, variant)] = rows

    # -- items ------------------------------------------------------------------------------------
    def check(self, item: CheckItem) -> CheckResult:
        ev = self.moment_evals(item.edit, item.variant)[item.moment]
        eye, value = worst_eye(ev.metrics, item.check.stat)
        passed = item.check.passes(value)
        ok = True if item.expected == "any" else passed == (item.expected == "pass")
        c = item.check
        verdict = "passes" if passed else "fails"
        msg = (f"{item.item_id}: {c.stat} = {value:.4f} ({eye} eye) {c.op} {c.threshold:g} {verdict}; "
               f"expected to {item.expected}")
        if not ok and item.expected == "fail":
            msg += (" -- the gate no longer detects the seed's artefact (pre-fix should leak): the gate itself is "
                    "broken, or the edit no longer stretches the lids")
        result = CheckResult(item.item_id, item.edit, item.variant, item.moment, c.name, c.stat, eye, value, c.op,
                             c.threshold, passed, item.expected, ok, msg)
        self._checks[item.item_id] = result
        return result

    def ordering(self, spec: OrderingSpec) -> OrderingResult:
        vals = []
        for pair in (spec.greater, spec.lesser):
            edit, variant = pair.split("/")
            _, v = worst_eye(self.moment_evals(edit, variant)[spec.moment].metrics, spec.stat)
            vals.append(v)
        ok = vals[0] > vals[1]
        word = "worse" if STATS[spec.stat] == "high" else "better"
        msg = (f"{spec.stat} at {spec.moment}: {spec.greater} = {vals[0]:.4f}, {spec.lesser} = {vals[1]:.4f}; "
               f"expected {spec.greater} > {spec.lesser} ({'as declared' if ok else 'NOT satisfied'}: "
               f"the seed finds {spec.greater.split('/')[0]} {word})")
        r = OrderingResult(spec.item_id, spec.stat, spec.moment, spec.greater, spec.lesser, vals[0], vals[1], ok, msg)
        self._orderings[spec.item_id] = r
        return r

    def golden(self, item: GoldenItem) -> GoldenResult:
        ev = self.moment_evals(item.edit, item.variant)[item.moment]
        rel = golden_relpath(self.spec.name, self.avatar_name, item.edit, item.variant, item.moment, self.backend)
        path = self.golden_root / rel
        tol = self.spec.golden.get(self.backend, {"ssim_min": 0.99, "flip_max": 0.02, "max_abs": 0.1})
        out = Path("images") / item.edit / item.variant
        common = dict(item_id=item.item_id, edit=item.edit, variant=item.variant, moment=item.moment,
                      backend=self.backend, golden_path=str(rel), tolerances=tol)
        if self.golden_update:
            write_golden(path, ev.rgb)
            r = GoldenResult(status="updated", ssim=None, flip=None, max_abs=None,
                             message=f"wrote {path}", result_image=str(out / f"{item.moment}.png"), **common)
        elif not path.is_file():
            cmd = (f"pytest --gate {self.spec.name} --gate-backend {self.backend} --golden-update"
                   f" (or: avatarcheck gate --backend {self.backend} --golden-update)")
            r = GoldenResult(status="missing", ssim=None, flip=None, max_abs=None,
                             message=f"no golden at {path}; create it with: {cmd}",
                             result_image=str(out / f"{item.moment}.png"), **common)
        else:
            golden = read_image(path)
            cmp = compare_images(golden, ev.rgb)
            ok = cmp.passes(tol)
            golden_copy, diff = out / f"{item.moment}.golden.png", out / f"{item.moment}.diff.png"
            write_png(self.report_dir / golden_copy, golden)
            write_png(self.report_dir / diff, cmp.diff)
            r = GoldenResult(status="pass" if ok else "fail", ssim=cmp.ssim, flip=cmp.flip, max_abs=cmp.max_abs,
                             message=(f"SSIM {cmp.ssim:.4f} (>= {tol['ssim_min']}), FLIP {cmp.flip:.4f} "
                                      f"(<= {tol['flip_max']}), max |diff| {cmp.max_abs:.3f} (<= {tol['max_abs']}) "
                                      f"against {path}"),
                             golden_image=str(golden_copy), result_image=str(out / f"{item.moment}.png"),
                             diff_image=str(diff), **common)
        self._goldens[item.item_id] = r
        return r

    def curve(self, edit: str, variant: str, batch: int = 16) -> LeakCurve:
        frames = np.arange(0, self.take.num_frames, self.spec.curve_stride)
        av, cam = self.variant(edit, variant), self.camera(edit, variant)
        mean = {e: [] for e in EYES}
        peak = {e: [] for e in EYES}
        with self.timed("leak curves"):
            for i in range(0, len(frames), batch):
                for ev in evaluate_frames(av, *self.inputs(frames[i:i + batch]), cam, self.backend,
                                          self.spec.visible, self.spec.dilate_px):
                    for e in EYES:
                        mean[e].append(ev.metrics[e]["leak_mean"])
                        peak[e].append(ev.metrics[e]["leak_max"])
        c = LeakCurve(edit, variant, frames.tolist(), mean, peak)
        self._curves[(edit, variant)] = c
        return c

    def edit_summary(self, edit: str) -> EditSummary:
        from avatarcheck.edit.assets import RATIO_FILE
        from avatarcheck.edit.overrides import audit
        from avatarcheck.render.mesh_preview import render_mesh_preview
        from avatarcheck.report.html import ratio_colors

        e = self.spec.edit(edit)
        manifest = self.baked(edit)
        ratio = np.load(self.assets_dir(edit) / RATIO_FILE)
        counts, edges = np.histogram(ratio, bins=40)
        sub = self.variant(edit, "postfix" if "postfix" in self.spec.variants else next(iter(self.spec.variants)))
        img = render_mesh_preview(sub.head_sub.v_template, sub.head_sub.faces, size=320,
                                  vertex_colors=ratio_colors(ratio), yaw=np.radians(25.0))
        rel = Path("images") / edit / "ratio.png"
        write_png(self.report_dir / rel, img)
        audits = {v: [dict(channel=f.channel, severity=f.severity, message=f.message)
                      for f in audit(self.settings(edit, v))] for v in self.spec.variants if v != "baseline"}
        stats = {k: float(v) for k, v in manifest["scale_ratio"].items() if isinstance(v, (int, float))}
        s = EditSummary(edit, e.preset, e.strength, stats, counts.tolist(), edges.tolist(), str(rel), audits)
        self._edits[edit] = s
        return s

    # -- everything -------------------------------------------------------------------------------
    def steps(self) -> list[GateStep]:
        """Every item of the gate, in report order: the one list the CLI runs and pytest collects.

        Nothing is evaluated here; each step's ``run`` does its work lazily.
        """
        out = []
        for item in self.spec.plan():
            c = item.check
            out.append(GateStep(item.item_id, f"{c.stat} {c.op} {c.threshold:g}, expected {item.expected}",
                                f"{item.edit}/{item.variant}", functools.partial(self._check_step, item)))
        for o in self.spec.orderings:
            out.append(GateStep(o.item_id, f"{o.greater} > {o.lesser} on {o.stat}", "orderings",
                                functools.partial(self._ordering_step, o)))
        for g in self.spec.golden_items():
            out.append(GateStep(g.item_id, "magenta render vs golden image", f"{g.edit}/{g.variant}",
                                functools.partial(self._golden_step, g)))
        for edit, variant in self.spec.variant_pairs():
            out.append(GateStep(f"{edit}/{variant}/leak_curve", "per-frame leak over the take (report)",
                                f"{edit}/{variant}", functools.partial(self._curve_step, edit, variant)))
        for e in self.spec.edits:
            out.append(GateStep(f"{e.name}/summary", "scale-ratio histogram, ratio-coloured head, override audit",
                                f"{e.name}/postfix", functools.partial(self._summary_step, e.name)))
        return out

    def _check_step(self, item: CheckItem) -> str | None:
        r = self.check(item)
        return None if r.ok else r.message

    def _ordering_step(self, spec: OrderingSpec) -> str | None:
        r = self.ordering(spec)
        return None if r.ok else r.message

    def _golden_step(self, item: GoldenItem) -> str | None:
        r = self.golden(item)
        return None if r.status in ("pass", "updated") else f"{item.item_id}: {r.status}: {r.message}"

    def _curve_step(self, edit: str, variant: str) -> str | None:
        c = self.curve(edit, variant)
        bad = [f for f, *v in zip(c.frames, *c.leak_max.values()) if not np.isfinite(v).all()]
        return f"{edit}/{variant}: non-finite leak at frames {bad[:5]}" if bad else None

    def _summary_step(self, edit: str) -> None:
        self.edit_summary(edit)

    def run_all(self, progress: Callable[[str], None] | None = None) -> GateResult:
        """Evaluate every step (the CLI's path); ``progress(item_id)`` before each."""
        for step in self.steps():
            if progress is not None:
                progress(step.item_id)
            step.run()
        return self.result()

    def result(self) -> GateResult:
        moments = {m: {"frame": int(v.frame), "reason": v.reason, "values": {k: float(x) for k, x in v.values.items()}}
                   for m, v in self.moments.items()}
        notes = list(self.notes)
        notes.append(f"Leak heatmaps: E from 0 (black) to {HEATMAP_VMAX} or more (pale yellow), inside the eye regions.")
        notes.append("Numbers are defined on gsplat 1.5.3's rasteriser semantics (EWA, eps2d 0.3, 16 px tiles); "
                     "the CPU backend reproduces them.")
        if not self.spec.apply_eye_rotation:
            notes.append("Eye joints at rest (LAM's ARKit path); gaze is in the eyeLook blendshapes.")
        return GateResult(
            gate=self.spec.name, avatar=self.avatar_name, take=self.take.source, backend=self.backend,
            device=device_name(self.backend), image_size=self.spec.image_size, moments=moments,
            checks=list(self._checks.values()), orderings=list(self._orderings.values()),
            goldens=list(self._goldens.values()), images=[x for v in self._images.values() for x in v],
            curves=list(self._curves.values()), edits=list(self._edits.values()), versions=versions(),
            timings=dict(self.timings), created=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            notes=notes)
