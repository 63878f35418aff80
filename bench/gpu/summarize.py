"""Collect a bench/gpu/run.sh work folder into ``summary.json`` and ``summary.md`` (for bench/RESULTS.md).

    python3 bench/gpu/summarize.py --work OUT/work --out OUT

Reads ``steps.tsv`` (one line per step: name, status, rc, seconds, estimate, timeout, reason) and
whatever the steps left (env.json, compile.json, logs/pytest_cuda.log, parity.json, reports/*/…/
result.json, bench/*.json). Standard library only, and tolerant of anything missing: run.sh calls it
after every step, so a run cut short still leaves a summary of what it did.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import re
from pathlib import Path


def _load(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _steps(work: Path) -> list[dict]:
    out = []
    try:
        lines = (work / "steps.tsv").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        f = line.split("\t")
        if len(f) < 7:
            continue
        out.append({"name": f[0], "status": f[1], "rc": None if f[2] == "" else int(f[2]),
                    "seconds": float(f[3]), "estimate_s": float(f[4]), "timeout_s": float(f[5]),
                    "reason": f[6], "log": f"logs/{f[0]}.log"})
    return out


def _pytest(log: Path) -> dict | None:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|deselected|errors?|xfailed|xpassed)",
                                                 text.splitlines()[-1] if text.strip() else "")}
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", text, re.M)
    return {"counts": counts, "failed": failed[:50], "last_line": text.strip().splitlines()[-1] if text.strip() else ""}


def _gate(report_root: Path) -> dict | None:
    found = sorted(glob.glob(str(report_root / "*" / "result.json")))
    if not found:
        return None
    r = _load(Path(found[-1]))
    if not r:
        return None
    goldens = r.get("goldens", [])
    by_status: dict[str, int] = {}
    for g in goldens:
        by_status[g["status"]] = by_status.get(g["status"], 0) + 1
    worst = {}
    for key, bad_high in (("ssim", False), ("flip", True), ("max_abs", True)):
        vals = [g[key] for g in goldens if isinstance(g.get(key), (int, float))]
        if vals:
            worst[key] = max(vals) if bad_high else min(vals)
    checks = r.get("checks", []) + r.get("orderings", [])
    return {"backend": r.get("backend"), "device": r.get("device"), "take": r.get("take"),
            "image_size": r.get("image_size"), "checks": len(checks),
            "checks_failed": [c.get("item_id") for c in checks if not c.get("ok", True)],
            "goldens": by_status, "golden_worst": worst,
            "goldens_failing": [{k: g.get(k) for k in ("item_id", "ssim", "flip", "max_abs", "message")}
                                for g in goldens if g["status"] not in ("pass", "updated")][:20],
            "timings_s": r.get("timings", {}), "result_json": os.path.relpath(found[-1], report_root.parent.parent)}


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def collect(work: Path) -> dict:
    steps = _steps(work)
    doc: dict = {"meta": _load(work / "meta.json") or {}, "steps": steps,
                 "env": _load(work / "env.json"), "compile": _load(work / "compile.json"),
                 "pytest_cuda": _pytest(work / "logs" / "pytest_cuda.log")}
    parity = _load(work / "parity.json")
    if parity:
        table = []
        for rec in parity.get("results", []):
            row = {"size": rec["size"], "moment": rec["moment"]}
            for ch, s in rec["diff"].items():
                row[f"{ch}_max"], row[f"{ch}_mean"] = s["max_abs"], s["mean_abs"]
            for side in ("reference", "backend"):
                for eye, m in rec["metrics"][side].items():
                    for k in ("leak_max", "leak_area", "coverage_min"):
                        if k in m:
                            row[f"{side}_{eye}_{k}"] = m[k]
            table.append(row)
        doc["parity"] = {"meta": parity.get("meta"), "worst": parity.get("worst"),
                         "finite": parity.get("finite") and all(_finite(v) for r in table for k, v in r.items()
                                                                if k not in ("moment",)),
                         "table": table}
    else:
        doc["parity"] = None
    doc["gate"] = {"vs_reference_goldens": _gate(work / "reports" / "vs_ref"),
                   "golden_update": _gate(work / "reports" / "update")}
    bench = {}
    for p in sorted((work / "bench").glob("*.json")) if (work / "bench").is_dir() else []:
        bench[p.stem] = _load(p)
    doc["bench"] = bench
    doc["status_counts"] = {}
    for s in steps:
        doc["status_counts"][s["status"]] = doc["status_counts"].get(s["status"], 0) + 1
    return doc


def _fmt(x) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return "-" if x is None else str(x)


def markdown(doc: dict) -> str:
    meta, env = doc["meta"], doc.get("env") or {}
    device = env.get("device") or meta.get("backend", "?")
    lines = [f"## GPU kit run ({meta.get('mode', '?')}), {device}, {meta.get('date', '?')}", "",
             f"`bench/gpu/run.sh` {' '.join(meta.get('args', []))}: backend `{meta.get('backend')}`, "
             f"torch {env.get('torch', '?')}, gsplat {env.get('gsplat', '?')}, budget {meta.get('budget_s')} s, "
             f"wall {_fmt(meta.get('elapsed_s'))} s.", "", "| step | status | rc | s | note |", "| --- | --- | --- | --- | --- |"]
    for s in doc["steps"]:
        lines.append(f"| {s['name']} | {s['status']} | {_fmt(s['rc'])} | {s['seconds']:.1f} | {s['reason']} |")
    comp = doc.get("compile")
    if comp:
        lines += ["", f"gsplat CUDA extension: {_fmt(comp.get('seconds'))} s for arch {comp.get('arch')} "
                      f"(MAX_JOBS {comp.get('max_jobs')})."]
    pt = doc.get("pytest_cuda")
    if pt:
        lines += ["", f"`pytest -m cuda`: {pt['last_line']}"]
        lines += [f"- FAILED {f}" for f in pt["failed"]]
    par = doc.get("parity")
    if par:
        pm = par.get("meta") or {}
        lines += ["", f"### Parity: {pm.get('backend')} vs {pm.get('reference')} at the gate's moments "
                      f"(worst max |diff| {_fmt((par.get('worst') or {}).get('max_abs'))})", "",
                  "| size | moment | R max | G max | B max | E max | E mean | occluder alpha max | leak_max L ref / test "
                  "| leak_max R ref / test | coverage_min L ref / test |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in par["table"]:
            lines.append("| " + " | ".join([
                str(r["size"]), r["moment"], _fmt(r.get("R_max")), _fmt(r.get("G_max")), _fmt(r.get("B_max")),
                _fmt(r.get("E_max")), _fmt(r.get("E_mean")), _fmt(r.get("occluder_alpha_max")),
                f"{_fmt(r.get('reference_left_leak_max'))} / {_fmt(r.get('backend_left_leak_max'))}",
                f"{_fmt(r.get('reference_right_leak_max'))} / {_fmt(r.get('backend_right_leak_max'))}",
                f"{_fmt(r.get('reference_left_coverage_min'))} / {_fmt(r.get('backend_left_coverage_min'))}"]) + " |")
    for key, title in (("vs_reference_goldens", "Gate against the reference (CPU) goldens"),
                       ("golden_update", "Gate with --golden-update")):
        g = (doc.get("gate") or {}).get(key)
        if g:
            lines += ["", f"### {title}: {g['backend']} on {g['device']}", "",
                      f"goldens {g['goldens']}, worst SSIM/FLIP/max_abs {g['golden_worst']}; "
                      f"{g['checks']} checks, failed: {g['checks_failed'] or 'none'}; "
                      f"stages (s): {', '.join(f'{k} {v:.1f}' for k, v in g['timings_s'].items())}"]
            lines += [f"- {f['item_id']}: {f['message']}" for f in g["goldens_failing"]]
    bench = doc.get("bench") or {}
    if bench:
        lines += ["", "### Benchmarks", "", "| benchmark | device | date | results |", "| --- | --- | --- | --- |"]
        for name, b in bench.items():
            if not b:
                continue
            m = b.get("meta", {})
            res = b.get("results")
            if isinstance(res, list):
                txt = "; ".join(", ".join(f"{k} {_fmt(v)}" for k, v in r.items()) for r in res)
            else:
                txt = ", ".join(f"{k} {_fmt(v)}" for k, v in (res or {}).items())
            lines.append(f"| {name} | {m.get('device', '?')} | {m.get('date', '?')} | {txt} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    doc = collect(Path(args.work))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json.tmp").write_text(json.dumps(doc, indent=2))
    os.replace(out / "summary.json.tmp", out / "summary.json")
    (out / "summary.md.tmp").write_text(markdown(doc))
    os.replace(out / "summary.md.tmp", out / "summary.md")


if __name__ == "__main__":
    main()
