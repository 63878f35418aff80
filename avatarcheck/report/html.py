"""The gate's HTML report: one self-contained folder per run (``index.html``, ``result.json``, PNGs).

The page only references files inside the report folder (images by the report-relative paths
stored in the ``GateResult``); CSS is inline, charts are inline SVG, there is no JavaScript, so
the folder can be moved, zipped or uploaded as a CI artifact and still open offline.
"""

from __future__ import annotations

import datetime
import math
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup
from PIL import Image

from avatarcheck.errors import InputError
from avatarcheck.gate.avatar_check import edited_warning
from avatarcheck.gate.result import (CheckResult, EditSummary, FaceImages, GateResult, GoldenResult, HeadImages,
                                     LeakCurve, MomentImages)
from avatarcheck.io.atomic import write_text_atomic
from avatarcheck.report.plots import Series, histogram_svg, line_chart_svg, sweep_chart_svg, variant_color

__all__ = ["write_report", "render_html", "update_latest", "create_report_dir", "report_timestamp"]

UNEDITED = "unedited"
LATEST = "latest"
LATEST_HTML = "latest.html"
# Runs started in the same second get "-2", "-3", ... up to this many, then an error.
MAX_SAME_SECOND = 1000
# Eye crops are small (tens of pixels): show them at 2x, nearest-neighbour, up to this width.
_MAX_CELL_PX = 320


# --- public API -----------------------------------------------------------------------------------

def report_timestamp() -> str:
    """The run's time in report folder names (local time, one-second resolution)."""
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def create_report_dir(root: str | os.PathLike, gate: str) -> Path:
    """Create this run's report folder ``root/<timestamp>-<gate>`` and return it (absolute).

    The one place report folders are named (CLI and pytest plugin). ``gate`` is the gate spec's
    checked name, never a path (a ``--gate teams/lids.toml`` argument would nest folders and miss
    ``latest``). Created exclusively: a second run in the same second gets ``-2`` (``-3``, ...), so
    two runs never write into one folder.
    """
    from avatarcheck.gate.spec import checked_name

    checked_name(gate, "report folder", "gate name")
    root = Path(root).absolute()
    root.mkdir(parents=True, exist_ok=True)
    base = f"{report_timestamp()}-{gate}"
    for n in range(1, MAX_SAME_SECOND + 1):
        folder = root / (base if n == 1 else f"{base}-{n}")
        try:
            folder.mkdir()  # exclusive: FileExistsError when another run has it
        except FileExistsError:
            continue
        return folder
    raise InputError(root, "report folder", f"fewer than {MAX_SAME_SECOND} runs of {gate} in one second",
                     f"{base} to {base}-{MAX_SAME_SECOND} all taken")


def write_report(result: GateResult, report_dir: Path, *, link_latest: bool = True) -> Path:
    """Write ``report_dir/index.html`` and ``report_dir/result.json``; return the index path.

    Images must already be in ``report_dir`` at the relative paths the result names (the gate
    writes them); a missing one is shown as a placeholder, never as a broken link. Runners create
    ``report_dir`` with ``create_report_dir`` (unique per run) before the gate writes images. With
    ``link_latest``, ``report_dir.parent/latest`` then points at this report.
    """
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    result.save(report_dir / "result.json")
    index = report_dir / "index.html"
    write_text_atomic(index, render_html(result, report_dir))
    if link_latest:
        update_latest(report_dir)
    return index


def render_html(result: GateResult, report_dir: Path) -> str:
    """The page as a string; ``report_dir`` is where image paths are resolved (sizes, existence)."""
    return _environment().get_template("index.html.j2").render(**_context(result, Path(report_dir)))


def update_latest(report_dir: Path) -> Path:
    """Point ``report_dir.parent/latest`` at ``report_dir`` (relative symlink, swapped atomically).

    A reader following ``latest`` sees the old report or the new one, never a missing link. Where
    symlinks cannot be made (Windows without the privilege, some mounted filesystems) writes
    ``latest.html``, a redirect page, instead. Returns the path written.
    """
    target = Path(report_dir).resolve()
    parent = target.parent
    link = parent / LATEST
    try:
        tmp = parent / f".{LATEST}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
        os.symlink(target.name, tmp, target_is_directory=True)
        try:
            os.replace(tmp, link)  # fails if ``latest`` is a real folder: then the redirect file
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except (OSError, NotImplementedError):
        return _write_redirect(parent / LATEST_HTML, target.name)
    if (parent / LATEST_HTML).exists():  # an older fallback page would point at a stale report
        _write_redirect(parent / LATEST_HTML, target.name)
    return link


def _write_redirect(path: Path, folder: str) -> Path:
    url = quote(f"{folder}/index.html")
    write_text_atomic(path, _environment().get_template("redirect.html.j2").render(url=url, folder=folder))
    return path


# --- jinja ----------------------------------------------------------------------------------------

def _fmt_num(v: Any, digits: int = 4) -> str:
    """Numbers for tables: 4 significant digits, "—" for missing, ints as ints."""
    if v is None:
        return "—"
    if isinstance(v, bool) or isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.{digits}g}"
    return str(v)


fmt_num = _fmt_num  # the catalogue summary (avatarcheck.catalogue.summary) formats its numbers the same way

_ENV: jinja2.Environment | None = None


def _environment() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(loader=jinja2.PackageLoader("avatarcheck.report", "templates"),
                                  autoescape=True, undefined=jinja2.StrictUndefined,
                                  trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        _ENV.filters["num"] = _fmt_num
    return _ENV


# --- images ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Img:
    src: str          # URL-quoted, relative to the report folder
    width: int        # display size (integer upscale of small crops)
    height: int
    pixelated: bool


class _Images:
    """Resolves report-relative image paths: only existing files inside the report folder get an <img>."""

    def __init__(self, report_dir: Path) -> None:
        self.root = report_dir.resolve()
        self.cache: dict[str, _Img | None] = {}

    def __call__(self, rel: str | None) -> _Img | None:
        if not rel:
            return None
        if rel not in self.cache:
            self.cache[rel] = self._resolve(rel)
        return self.cache[rel]

    def _resolve(self, rel: str) -> _Img | None:
        path = (self.root / rel).resolve()
        # An absolute or ../ path would make the folder depend on something outside it.
        if Path(rel).is_absolute() or not path.is_relative_to(self.root) or not path.is_file():
            return None
        try:
            with Image.open(path) as im:  # reads the header only
                w, h = im.size
        except OSError:
            return None
        scale = max(1, min(2, _MAX_CELL_PX // max(w, 1)))
        return _Img(quote(path.relative_to(self.root).as_posix()), w * scale, h * scale, scale > 1)


# --- view model -----------------------------------------------------------------------------------

def _variant_key(result: GateResult):
    """Sort key: the gate file's variant order, unknown names last."""
    order = list(result.variants)
    return lambda variant: (order.index(variant) if variant in order else len(order), variant)


def _role(result: GateResult, variant: str) -> str:
    return result.variants.get(variant, {}).get("role", "")


def _reference_variants(result: GateResult) -> list[str]:
    return [v for v, d in result.variants.items() if d.get("role") == "reference"]


def _skipped_by_cell(result: GateResult) -> dict[tuple[str, str, str], list[str]]:
    """Skipped item ids are edit/variant/moment/... : group their reasons by cell."""
    out: dict[tuple[str, str, str], list[str]] = {}
    for k in result.skipped:
        parts = k.item_id.split("/")
        if len(parts) >= 4:
            out.setdefault((parts[0], parts[1], parts[2]), []).append(k.reason)
    return out


def _edit_order(result: GateResult) -> list[str]:
    """ "unedited" first, then the edit summaries' order, then any other edit seen in the result."""
    seen: dict[str, None] = {}
    if any(x.edit == UNEDITED for x in (*result.images, *result.curves, *result.checks)):
        seen[UNEDITED] = None
    for x in (*result.edits, *result.images, *result.curves, *result.checks, *result.goldens):
        seen.setdefault(x.edit, None)
    return list(seen)


def _moment_order(result: GateResult) -> list[str]:
    names = dict.fromkeys(result.moments)
    for im in result.images:
        names.setdefault(im.moment, None)
    return list(names)


def _moment_frame(result: GateResult, moment: str) -> int | None:
    frame = result.moments.get(moment, {}).get("frame")
    return int(frame) if isinstance(frame, (int, float)) and math.isfinite(frame) else None


def _golden_ok(g: GoldenResult) -> bool:
    return g.status in ("pass", "updated")


def _counts(result: GateResult) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for g in result.goldens:
        statuses[g.status] = statuses.get(g.status, 0) + 1
    return {
        "checks_ok": sum(c.ok for c in result.checks), "checks_failed": sum(not c.ok for c in result.checks),
        "orderings_ok": sum(o.ok for o in result.orderings),
        "orderings_failed": sum(not o.ok for o in result.orderings),
        "goldens": dict(sorted(statuses.items())),
        "expected_fail": sum(c.expected == "fail" for c in result.checks),
        "skipped": sum(not k.failed for k in result.skipped),
        "skipped_failed": sum(k.failed for k in result.skipped),
    }


def _check_detail(c: CheckResult) -> str:
    outcome = "passed" if c.passed else "failed"
    return (f"{c.stat} ({c.eye}) = {_fmt_num(c.value)} {c.op} {_fmt_num(c.threshold)}: {outcome}, "
            f"expected to {c.expected}")


def _failures(result: GateResult) -> list[dict[str, str]]:
    rows = [{"kind": "check", "id": c.item_id, "detail": _check_detail(c), "message": c.message}
            for c in result.checks if not c.ok]
    rows += [{"kind": "ordering", "id": o.item_id,
              "detail": f"{o.stat} @ {o.moment}: {o.greater} = {_fmt_num(o.greater_value)} should exceed "
                        f"{o.lesser} = {_fmt_num(o.lesser_value)}", "message": o.message}
             for o in result.orderings if not o.ok]
    rows += [{"kind": "missing moment", "id": k.item_id, "detail": k.reason, "message": k.reason}
             for k in result.skipped if k.failed]
    rows += [{"kind": f"golden {g.status}", "id": g.item_id, "detail": f"{g.golden_path} ({g.backend})",
              "message": g.message} for g in result.goldens if not _golden_ok(g)]
    rows += [{"kind": "sweep", "id": x.item_id, "detail": f"largest safe strength {_fmt_num(x.safe)}, "
              f"min_safe {_fmt_num(x.min_safe)}", "message": x.message} for x in result.sweep if not x.ok]
    return rows


def _metric_line(metrics: dict[str, dict[str, float]]) -> list[dict[str, str]]:
    """Per eye: leak max and area (the two numbers the closed-lid checks threshold)."""
    eyes = sorted(metrics, key=lambda e: ({"left": 0, "right": 1}.get(e, 2), e))
    return [{"eye": eye, "max": _fmt_num(metrics[eye].get("leak_max"), 3),
             "area": _fmt_num(metrics[eye].get("leak_area"), 3),
             "all": ", ".join(f"{k} {_fmt_num(v)}" for k, v in metrics[eye].items())} for eye in eyes]


def _cell(im: MomentImages | None, checks: list[CheckResult], goldens: list[GoldenResult],
          images: _Images, skipped: list[str] | None = None) -> dict[str, Any] | None:
    if im is None and not checks:
        if skipped:
            return {"state": "skipped", "frame": None, "magenta": None, "magenta_rel": None, "heatmap": None,
                    "heatmap_rel": None, "rgb": None, "rgb_rel": None, "metrics": [], "failed": [], "detected": [], "goldens": [],
                    "skipped": skipped[0]}
        return None
    state = "none" if not checks else ("ok" if all(c.ok for c in checks) else "bad")
    return {
        "state": state, "frame": im.frame if im else None,
        "magenta": images(im.magenta) if im else None, "magenta_rel": im.magenta if im else None,
        "heatmap": images(im.heatmap) if im else None, "heatmap_rel": im.heatmap if im else None,
        "rgb": images(im.rgb) if im and im.rgb else None, "rgb_rel": im.rgb if im else None,
        "metrics": _metric_line(im.metrics) if im else [],
        "failed": [c for c in checks if not c.ok],
        # The pre-fix leak checks are declared to fail: say so, the cell is green because the gate saw it.
        "detected": [c for c in checks if c.ok and c.expected == "fail"],
        "goldens": goldens,
        "skipped": None,
    }


def _grid_rows(result: GateResult, edit: str, moments: list[str], images: _Images) -> list[dict[str, Any]]:
    by_key = {(m.edit, m.variant, m.moment): m for m in result.images}
    checks: dict[tuple[str, str, str], list[CheckResult]] = {}
    for c in result.checks:
        checks.setdefault((c.edit, c.variant, c.moment), []).append(c)
    goldens: dict[tuple[str, str, str], list[GoldenResult]] = {}
    for g in result.goldens:
        goldens.setdefault((g.edit, g.variant, g.moment), []).append(g)
    skipped = _skipped_by_cell(result)
    variants = sorted({k[1] for k in (*by_key, *checks, *skipped) if k[0] == edit}, key=_variant_key(result))
    rows = []
    # Edited grids repeat the unedited reference as a row: the leak is read against it.
    refs = [(UNEDITED, r, True) for r in _reference_variants(result)
            if edit != UNEDITED and any(k[:2] == (UNEDITED, r) for k in by_key)]
    for e, v, ref in refs + [(edit, v, False) for v in variants]:
        cells = [_cell(by_key.get((e, v, m)), checks.get((e, v, m), []), goldens.get((e, v, m), []), images,
                       skipped.get((e, v, m)))
                 for m in moments]
        rows.append({"edit": e, "variant": v, "reference": ref, "cells": cells})
    return rows


def _grids(result: GateResult, images: _Images) -> list[dict[str, Any]]:
    moments = _moment_order(result)
    grids = []
    for edit in _edit_order(result):
        rows = _grid_rows(result, edit, moments, images)
        if any(not r["reference"] for r in rows):
            grids.append({"edit": edit, "moments": [(m, _moment_frame(result, m)) for m in moments], "rows": rows})
    return grids


def _tolerance(tolerances: dict[str, float], metric: str) -> float | None:
    """The tolerance for ``metric``: key ``metric`` or ``metric_<suffix>`` ("ssim_min", "max_abs")."""
    if metric in tolerances:
        return tolerances[metric]
    return next((v for k, v in tolerances.items() if k.startswith(metric + "_")), None)


def _golden_metrics(g: GoldenResult) -> list[dict[str, Any]]:
    # SSIM is a similarity (higher is better); FLIP and max-abs are errors (lower is better).
    rows = []
    for name, label, higher_better in (("ssim", "SSIM", True), ("flip", "FLIP", False), ("max_abs", "max-abs", False)):
        value, tol = getattr(g, name), _tolerance(g.tolerances, name)
        within = None if value is None or tol is None else (value >= tol if higher_better else value <= tol)
        rows.append({"label": label, "value": value, "tol": tol, "op": ">=" if higher_better else "<=",
                     "within": within})
    return rows


def _goldens(result: GateResult, images: _Images) -> dict[str, Any]:
    def view(g: GoldenResult) -> dict[str, Any]:
        return {"g": g, "metrics": _golden_metrics(g), "golden": images(g.golden_image),
                "result": images(g.result_image), "diff": images(g.diff_image)}

    return {"all": [view(g) for g in result.goldens],
            "failed": [view(g) for g in result.goldens if g.status == "fail"],
            "missing": [view(g) for g in result.goldens if g.status == "missing"]}


def _worst_eye(curve: LeakCurve, attr: str = "leak_max") -> list[float]:
    """(F,) the worse eye's value per frame (NaN where no eye has a finite value)."""
    per_eye = list(getattr(curve, attr).values())
    out = []
    for k in range(len(curve.frames)):
        vals = [float(v[k]) for v in per_eye if k < len(v) and math.isfinite(float(v[k]))]
        out.append(max(vals) if vals else math.nan)
    return out


def _chart_groups(result: GateResult) -> list[tuple[str, list[LeakCurve]]]:
    """One chart per edit: the unedited baseline curves plus that edit's variants."""
    base = [c for c in result.curves if c.edit == UNEDITED]
    edits = [e for e in _edit_order(result) if e != UNEDITED and any(c.edit == e for c in result.curves)]
    if not edits:
        return [(UNEDITED, base)] if base else []
    key = _variant_key(result)
    return [(e, base + sorted((c for c in result.curves if c.edit == e), key=lambda c: key(c.variant)))
            for e in edits]


def _curves(result: GateResult) -> list[dict[str, Any]]:
    markers = [(f, m) for m in result.moments if (f := _moment_frame(result, m)) is not None]
    charts = []
    for i, (edit, curves) in enumerate(_chart_groups(result)):
        # Frames chosen per variant (the worst closed-eye frame) are marked on their own edit's chart.
        own = [(im.frame, f"{im.moment} ({im.variant})") for im in result.images
               if im.edit == edit and result.moments.get(im.moment, {}).get("frame", 0) is None]
        series = [Series(f"{c.variant}" if c.edit == edit else f"{c.variant} ({c.edit})", c.frames, _worst_eye(c),
                         variant_color(_role(result, c.variant), j), "5 3" if c.edit == UNEDITED and edit != UNEDITED else None)
                  for j, c in enumerate(curves)]
        svg = line_chart_svg(series, markers=markers + own, title=f"Leak max per frame, {edit}", chart_id=f"curve-{i}",
                             x_label="frame", y_label="leak max (worse eye)")
        charts.append({"edit": edit, "svg": Markup(svg), "n": len(series)})
    return charts


def _beside_unedited(result: GateResult, rows: list, view: Callable[[Any], dict[str, Any]],
                     name: str) -> list[dict[str, Any]]:
    """Per edit (report order): the unedited avatar's rows, then the edit's own by variant and moment, each
    through ``view``, under the key ``name``; one group of the unedited rows alone when no edit has any."""
    order = _variant_key(result)
    refs = [view(r) for r in rows if r.edit == UNEDITED]
    edits = [e for e in _edit_order(result) if e != UNEDITED and any(r.edit == e for r in rows)]
    groups = [{"edit": e, name: refs + [view(r) for r in sorted((r for r in rows if r.edit == e),
                                                              key=lambda r: (order(r.variant), r.moment))]}
              for e in edits]
    return groups or ([{"edit": UNEDITED, name: refs}] if refs else [])


def _faces(result: GateResult, images: _Images) -> list[dict[str, Any]]:
    """Sharpness: per edit, the reference's face region beside each variant's, with the check's number."""
    checks = {(c.edit, c.variant, c.moment): c for c in result.checks if c.eye == "face"}

    def view(f: FaceImages) -> dict[str, Any]:
        return {"f": f, "img": images(f.image), "check": checks.get((f.edit, f.variant, f.moment))}

    return _beside_unedited(result, result.faces, view, "faces")


def _heads(result: GateResult, images: _Images) -> list[dict[str, Any]]:
    """Head coverage: per edit, the unedited head beside each variant's, per view the render and its
    holes, with the head_holes check."""
    checks = {(c.edit, c.variant, c.moment): c for c in result.checks if c.stat == "head_holes"}

    def view(h: HeadImages) -> dict[str, Any]:
        return {"h": h, "check": checks.get((h.edit, h.variant, h.moment)),
                "views": [{"name": name, "img": images(v["image"]), "rel": v["image"], "holes": images(v["holes"]),
                           "holes_rel": v["holes"], "shares": v["shares"]} for name, v in h.views.items()]}

    return _beside_unedited(result, result.heads, view, "heads")


def _audit(result: GateResult, summary: EditSummary) -> list[dict[str, Any]]:
    variants = sorted(summary.audit, key=_variant_key(result))
    return [{"variant": v, "findings": summary.audit[v]} for v in variants]


def _edit_views(result: GateResult, images: _Images) -> list[dict[str, Any]]:
    out = []
    for i, s in enumerate(result.edits):
        svg = histogram_svg(s.ratio_hist_counts, s.ratio_hist_edges, title=f"Scale ratio histogram, {s.edit}",
                            chart_id=f"hist-{i}") if s.ratio_hist_counts else ""
        out.append({"s": s, "hist": Markup(svg), "ratio_image": images(s.ratio_image), "audit": _audit(result, s)})
    return out


def _sweeps(result: GateResult) -> list[dict[str, Any]]:
    """One chart and table per swept edit (``--sweep``): its corrections in the result's order."""
    by_name: dict[str, list] = {}
    for x in result.sweep:
        by_name.setdefault(x.sweep, []).append(x)
    out = []
    for i, (name, rows) in enumerate(by_name.items()):
        strengths = rows[0].strengths
        svg = sweep_chart_svg(strengths, {x.correction: x.leak_max for x in rows},
                              {x.correction: x.passed for x in rows}, {x.correction: x.safe for x in rows},
                              threshold=rows[0].leak_threshold, title=f"Leak max vs strength, {name}",
                              chart_id=f"sweep-{i}")
        out.append({"name": name, "kind": rows[0].kind, "params": rows[0].params, "image_size": rows[0].image_size,
                    "strengths": strengths, "rows": rows, "svg": Markup(svg)})
    return out


def _moments_table(result: GateResult) -> list[dict[str, Any]]:
    def values(v: Any) -> str:
        if isinstance(v, dict):
            return ", ".join(f"{k} {_fmt_num(x, 3)}" for k, x in v.items())
        return "" if v is None else str(v)

    return [{"name": m, "frame": d.get("frame"), "reason": d.get("reason", ""),
             "values_text": values(d.get("values"))}  # not "values": jinja would find dict.values
            for m, d in result.moments.items()]


def _timings(result: GateResult) -> tuple[list[tuple[str, float]], float]:
    items = list(result.timings.items())
    return items, sum(v for _, v in items)


def _context(result: GateResult, report_dir: Path) -> dict[str, Any]:
    images = _Images(report_dir)
    timings, total = _timings(result)
    return {
        "r": result, "ok": result.ok, "counts": _counts(result), "failures": _failures(result),
        "moments": _moments_table(result), "grids": _grids(result, images), "goldens": _goldens(result, images),
        "curves": _curves(result), "faces": _faces(result, images), "heads": _heads(result, images),
        "detections": result.detections, "edits": _edit_views(result, images),
        "timings": timings, "timings_total": total, "missing_images": _missing(result, images),
        "sweeps": _sweeps(result), "edited_warning": edited_warning(result.source, result.notes),
    }


def _image_refs(result: GateResult) -> Iterable[str | None]:
    for m in result.images:
        yield m.magenta
        yield m.heatmap
        yield m.rgb
    for g in result.goldens:
        yield g.golden_image
        yield g.result_image
        yield g.diff_image
    for h in result.heads:
        for v in h.views.values():
            yield v["image"]
            yield v["holes"]
    for s in result.edits:
        yield s.ratio_image
    for f in result.faces:
        yield f.image


def _missing(result: GateResult, images: _Images) -> list[str]:
    """Image paths the result names that are not files inside the report folder."""
    return sorted({p for p in _image_refs(result) if p and images(p) is None})
