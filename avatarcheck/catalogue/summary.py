"""The catalogue's summary: ``summary.json`` for machines, ``index.html`` for people.

The page uses the gate report's style and number format (``report/``): a sortable table (one row per
avatar x edit x take: verdict, worst leak, worst coverage, implausibility flags, time, a link to the item's
report), and a histogram of the worst leaks (inline SVG, ``report.plots.histogram_svg``). Rows are in
``rows.row_order``, whatever order the items finished in. The folder opens offline; the only script sorts
the table.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup

from avatarcheck.catalogue.rows import LEAK_STAT, VERDICTS, row_order
from avatarcheck.io.atomic import write_text_atomic

SUMMARY_JSON = "summary.json"
INDEX_HTML = "index.html"
SCHEMA = 1
HIST_BINS = 20
HIST_FILL = "#0072B2"


def counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Items per verdict, and how many were resumed (done by an earlier run)."""
    out = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    return {**out, "items": len(rows), "resumed": sum(bool(r.get("resumed")) for r in rows)}


def leak_histogram(rows: Sequence[dict[str, Any]]) -> tuple[list[int], list[float]]:
    """(counts (B,), edges (B + 1,)) of the rows' worst leaks over [0, 1] (E is a share of a pixel's colour)."""
    leaks = [r["worst_leak"] for r in rows if r["worst_leak"] is not None]
    c, e = np.histogram(np.clip(leaks, 0.0, 1.0), bins=HIST_BINS, range=(0.0, 1.0))
    return c.tolist(), e.tolist()


def leak_threshold(spec) -> float | None:
    """The gate's leak-max threshold (the histogram's dashed line), if it has one."""
    return next((c.threshold for c in spec.checks if c.stat == LEAK_STAT), None)


def summary_document(rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """``summary.json``'s content: ``meta`` (gate, backend, settings, engine), counts, histogram, rows."""
    ordered = sorted(rows, key=row_order)
    hist_counts, hist_edges = leak_histogram(ordered)
    return {"schema": SCHEMA, **meta, "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "counts": counts(ordered), "leak_histogram": {"counts": hist_counts, "edges": hist_edges},
            "items": ordered}


def _environment() -> jinja2.Environment:
    """This package's template, with the gate report's templates (style, macros) beside it."""
    from avatarcheck.report.html import fmt_num

    env = jinja2.Environment(loader=jinja2.ChoiceLoader([jinja2.PackageLoader("avatarcheck.catalogue", "templates"),
                                                         jinja2.PackageLoader("avatarcheck.report", "templates")]),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["num"] = fmt_num
    return env


def render_summary(doc: dict[str, Any], threshold: float | None) -> str:
    """The page for ``summary_document``'s ``doc``."""
    from avatarcheck.report.plots import histogram_svg

    h = doc["leak_histogram"]
    svg = histogram_svg(h["counts"], h["edges"], title="Worst leak per item", chart_id="leak-histogram",
                        x_label="worst leak max (variants that ship, worse eye)", ref=threshold, y_label="items",
                        fill=HIST_FILL) if any(h["counts"]) else ""
    return _environment().get_template("summary.html.j2").render(doc=doc, histogram=Markup(svg), threshold=threshold)


def write_summary(out: str | Path, rows: Sequence[dict[str, Any]], meta: dict[str, Any],
                  threshold: float | None) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``index.html`` into ``out`` (atomically); their paths."""
    out = Path(out)
    doc = summary_document(rows, meta)
    write_text_atomic(out / SUMMARY_JSON, json.dumps(doc, indent=1))
    write_text_atomic(out / INDEX_HTML, render_summary(doc, threshold))
    return out / SUMMARY_JSON, out / INDEX_HTML
