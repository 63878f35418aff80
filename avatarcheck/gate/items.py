"""One function per kind of gate item: check, ordering, golden, leak curve, edit summary.

Each takes the lazy ``GateEvaluation`` (and, where it writes images, the ``Artefacts`` writer) and
returns a result dataclass from ``gate.result``; the messages people read are written here.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np

from avatarcheck.errors import InputError
from avatarcheck.gate.artefacts import Artefacts, inside
from avatarcheck.gate.evaluation import GateEvaluation, unedited_value
from avatarcheck.gate.golden import (DEFAULT_ROOT as DEFAULT_GOLDEN_ROOT, GoldenSet, begin_update, compare_images,
                                     golden_relpath, read_image, set_problem, write_golden)
from avatarcheck.gate.metrics import FACE_STATS, STATS, worst_eye
from avatarcheck.gate.result import (CheckResult, DetectionResult, EditSummary, GoldenResult, LeakCurve,
                                     OrderingResult)
from avatarcheck.gate.spec import CheckItem, GateSpec, GoldenItem, OrderingSpec


def check(ev: GateEvaluation, item: CheckItem) -> CheckResult:
    """``value <op> bar`` on the worse eye at the item's moment (the moment must be present); the bar is
    the threshold, or with ``unedited_margin`` the unedited avatar's value plus the margin where that is
    beyond it. A face statistic (``FACE_STATS``) is one number against the reference variant."""
    c = item.check
    unedited = None
    if c.stat in FACE_STATS:
        eye, value = ev.face_stat(c.stat, item.edit, item.variant, item.moment)
        where = f"{'face region' if eye == 'face' else eye}, relative to the unedited avatar"
    else:
        eye, value = worst_eye(ev.frame_eval(item.edit, item.variant, item.moment).metrics, c.stat)
        where = f"{eye} eye"
        unedited = unedited_value(ev, c, item.moment)
    bar = c.bar(unedited)
    passed = c.passes(value, unedited)
    ok = True if item.expected == "any" else passed == (item.expected == "pass")
    relative = ""
    if unedited is not None:
        sign = "+" if c.op == "<=" else "-"
        relative = (f" (the unedited avatar reads {unedited:.4f}, within {c.threshold:g}: the bar is the threshold)"
                    if c.passes_threshold(unedited) else
                    f" (the unedited avatar reads {unedited:.4f}, beyond {c.threshold:g}: bar = unedited {sign} "
                    f"{c.unedited_margin:g})")
    msg = (f"{item.item_id}: {c.stat} = {value:.4f} ({where}) {c.op} {bar:.4g}{relative} "
           f"{'passes' if passed else 'fails'}; expected to {item.expected}")
    if not ok and item.expected == "fail" and c.stat in FACE_STATS:
        msg += " -- the gate no longer sees this variant's blur: the avatar's colours may have lost their detail"
    elif not ok and item.expected == "fail":
        msg += (" -- the gate no longer detects the artefact this variant exists to show (it should leak): "
                "the gate itself is broken, or the edit no longer stretches the lids")
    return CheckResult(item.item_id, item.edit, item.variant, item.moment, c.name, c.stat, eye, value, c.op,
                       bar, passed, item.expected, ok, msg, unedited)


def detection(ev: GateEvaluation, edit: str, variant: str) -> DetectionResult:
    """A must-fail variant must fail at least one of its checks: otherwise the gate can no longer see
    the artefact the variant exists to show. Which checks fail depends on the avatar (the embedded one
    leaks at the full blink; a trained LAM avatar's stretched head opens holes first), so the gate file
    pins them only where it wants to (``[expect]``)."""
    results = [check(ev, item) for item in ev.spec.plan() if (item.edit, item.variant) == (edit, variant)]
    failing = [r.item_id for r in results if not r.passed]
    item_id = f"{edit}/{variant}/detected"
    if failing:
        more = " ..." if len(failing) > 4 else ""
        msg = f"{item_id}: the artefact is seen: {len(failing)} check(s) fail ({', '.join(failing[:4])}{more})"
    else:
        msg = (f"{item_id}: every one of the {len(results)} checks passes -- the gate no longer detects the "
               f"artefact this variant exists to show: the gate itself is broken, or the edit no longer "
               f"stretches the avatar")
    return DetectionResult(item_id, edit, variant, failing, bool(failing), msg)


def ordering_moot(ev: GateEvaluation, spec: OrderingSpec) -> str | None:
    """Why an ordering has nothing to compare, or None: where every check on its statistic at its moment
    passes for both variants, neither shows the artefact (a trained avatar's full blink after an edit
    that stretches mostly the head) and their order is noise."""
    checks = [c for c in ev.spec.checks if c.stat == spec.stat and spec.moment in c.moments]
    if not checks:
        return None
    for pair in (spec.greater, spec.lesser):
        edit, variant = pair.split("/")
        value = worst_eye(ev.moment_evals(edit, variant)[spec.moment].metrics, spec.stat)[1]
        if any(not c.passes(value, unedited_value(ev, c, spec.moment)) for c in checks):
            return None
    return (f"neither {spec.greater} nor {spec.lesser} fails a {spec.stat} check at {spec.moment}: "
            "no artefact there to order")


def ordering(ev: GateEvaluation, spec: OrderingSpec) -> OrderingResult:
    vals = []
    for pair in (spec.greater, spec.lesser):
        edit, variant = pair.split("/")
        _, v = worst_eye(ev.moment_evals(edit, variant)[spec.moment].metrics, spec.stat)
        vals.append(v)
    ok = vals[0] > vals[1]
    word = "worse" if STATS[spec.stat] == "high" else "better"
    msg = (f"{spec.stat} at {spec.moment}: {spec.greater} = {vals[0]:.4f}, {spec.lesser} = {vals[1]:.4f}; "
           f"expected {spec.greater} > {spec.lesser} ({'as declared' if ok else 'NOT satisfied'}: "
           f"the recipe finds {spec.greater.split('/')[0]} {word})")
    return OrderingResult(spec.item_id, spec.stat, spec.moment, spec.greater, spec.lesser, vals[0], vals[1], ok, msg)


def golden_update_command(spec: GateSpec, backend: str, take: str, avatar: str | None = None,
                          golden_root: Path = DEFAULT_GOLDEN_ROOT) -> str:
    """The commands (pytest's, then the CLI's) that write the goldens this run compares with: its own gate as
    ``--gate`` named it (a gate file by its path), backend, avatar, take and golden root, shell-quoted.

    ``take``: as the run was given it (``synthetic:1``, a file path), not the take's description of itself."""
    q = shlex.quote
    pairs = [("gate", spec.selector or spec.name, "gate"), ("gate-backend", backend, "backend")]
    if avatar is not None:
        pairs.append(("gate-avatar", str(avatar), "avatar"))
    if Path(golden_root) != DEFAULT_GOLDEN_ROOT:
        pairs.append(("gate-golden-dir", str(golden_root), "golden-dir"))
    pairs.append(("gate-take", take, "take"))
    plugin = " ".join(f"--{opt} {q(value)}" for opt, value, _ in pairs)
    cli = " ".join(f"--{opt} {q(value)}" for _, value, opt in pairs)
    return f"pytest {plugin} --golden-update (or: avatarcheck gate {cli} --golden-update)"


def golden(ev: GateEvaluation, item: GoldenItem, gset: GoldenSet, update: bool, art: Artefacts, *,
           update_command: str | None = None) -> GoldenResult:
    """Compare the item's magenta render with its golden in ``gset`` (or write it, with ``update`` only:
    the set is marked incomplete first, and the runner completes it when the run ends).

    ``update_command``: what a missing golden tells the user to run (``golden_update_command`` of the run;
    default: the gate's own take on this backend)."""
    frame = ev.moment_evals(item.edit, item.variant)[item.moment]
    rel = golden_relpath(ev.spec.name, ev.inputs.avatar_name, ev.inputs.take_key, item.edit, item.variant,
                         item.moment, ev.backend)
    path = inside(gset.root, rel)
    tol = ev.spec.golden_tolerances(ev.backend)
    common = dict(item_id=item.item_id, edit=item.edit, variant=item.variant, moment=item.moment,
                  backend=ev.backend, golden_path=str(rel), tolerances=tol,
                  result_image=art.result_image(item.edit, item.variant, item.moment))
    if update:
        begin_update(gset)
        write_golden(path, frame.rgb)
        return GoldenResult(status="updated", ssim=None, flip=None, max_abs=None, message=f"wrote {path}", **common)
    if not path.is_file():
        cmd = update_command or golden_update_command(ev.spec, ev.backend, ev.spec.take)
        return GoldenResult(status="missing", ssim=None, flip=None, max_abs=None,
                            message=f"no golden at {path} for take {ev.inputs.take_key}; create it with: {cmd}",
                            **common)
    problem = set_problem(gset, path)
    if problem is not None:  # an interrupted update: its goldens are part old, part new
        return GoldenResult(status="fail", ssim=None, flip=None, max_abs=None, message=problem, **common)
    try:
        gold = read_image(path)
        cmp = compare_images(gold, frame.rgb, path)
    except InputError as err:  # a broken golden fails its item; the rest of the gate still runs
        return GoldenResult(status="fail", ssim=None, flip=None, max_abs=None, message=str(err), **common)
    ok = cmp.passes(tol)
    golden_copy, diff = art.golden_pair(item.edit, item.variant, item.moment, gold, cmp.diff)
    return GoldenResult(status="pass" if ok else "fail", ssim=cmp.ssim, flip=cmp.flip, max_abs=cmp.max_abs,
                        message=(f"SSIM {cmp.ssim:.4f} (>= {tol['ssim_min']}), FLIP {cmp.flip:.4f} "
                                 f"(<= {tol['flip_max']}), max |diff| {cmp.max_abs:.3f} (<= {tol['max_abs']}) "
                                 f"against {path}"),
                        golden_image=golden_copy, diff_image=diff, **common)


def curve(ev: GateEvaluation, edit: str, variant: str) -> LeakCurve:
    frames, mean, peak = ev.curve(edit, variant)
    return LeakCurve(edit, variant, frames, mean, peak)


def curve_problem(c: LeakCurve) -> str | None:
    bad = [f for f, *v in zip(c.frames, *c.leak_max.values()) if not np.isfinite(v).all()]
    return f"{c.edit}/{c.variant}: non-finite leak at frames {bad[:5]}" if bad else None


def edit_summary(ev: GateEvaluation, edit: str, art: Artefacts) -> EditSummary:
    """Ratio statistics and histogram, the head coloured by ratio, and the override audit per variant."""
    from avatarcheck.edit.overrides import audit
    from avatarcheck.edit.rigid_eyes import eyeball_anisotropy
    from avatarcheck.render.colormaps import ratio_colors
    from avatarcheck.render.mesh_preview import render_mesh_preview

    assets = ev.assets(edit)
    ratio = assets.ratio
    counts, edges = np.histogram(ratio, bins=40)
    shown = ev.variant(edit, ev.spec.summary_variant())
    img = render_mesh_preview(shown.head_sub.v_template, shown.head_sub.faces, size=320,
                              vertex_colors=ratio_colors(ratio), yaw=np.radians(25.0))
    rest = ev.inputs.avatar.head_sub
    raw = {f.side: f.anisotropy_before for f in assets.eyeballs}
    audits = {}
    for v in ev.spec.variants.values():
        if v.role == "reference":
            continue
        shape = eyeball_anisotropy(rest, ev.variant(edit, v.name).head_sub) if "xyz" in v.overrides else None
        audits[v.name] = [dict(channel=f.channel, severity=f.severity, message=f.message)
                          for f in audit(set(v.overrides), shape, raw)]
    return EditSummary(edit, assets.kind, dict(assets.params), assets.ratio_stats(), counts.tolist(), edges.tolist(),
                       art.ratio_image(edit, img), audits)
