"""The GPU kit's rehearsal (issue 27): ``bench/gpu/run.sh --dry-run`` runs every step on CPU at tiny
sizes and writes the summary a GPU run would write, so the one-shot GPU command cannot rot."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "bench" / "gpu" / "run.sh"
STEPS = ["install", "env", "compile", "pytest_cuda", "parity", "gate_vs_ref", "gate_update",
         "bench_render", "bench_replay", "bench_big", "bench_gate"]

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                                reason="needs bash and coreutils' timeout")


def _run(tmp_path: Path, *args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "out"
    env = dict(os.environ, OUT=str(out), GPUKIT_DIR=str(tmp_path / "kit"))
    proc = subprocess.run(["bash", str(RUN), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    return proc, out


@pytest.mark.slow
def test_dry_run_writes_the_summary(tmp_path):
    proc, out = _run(tmp_path, "--dry-run")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    doc = json.loads((out / "summary.json").read_text())

    # Every step is there, in order, with a status; in a dry run the GPU-only ones are skipped
    # and every other one must succeed.
    steps = {s["name"]: s for s in doc["steps"]}
    assert [s["name"] for s in doc["steps"]] == STEPS
    assert steps["install"]["status"] == steps["compile"]["status"] == "skipped"
    bad = {n: (s["status"], s["reason"]) for n, s in steps.items() if n not in ("install", "compile")
           and s["status"] != "ok"}
    assert not bad, (bad, proc.stdout[-4000:])
    assert doc["meta"]["mode"] == "dry-run" and doc["meta"]["backend"] == "cpu"

    # Parity: CPU against CPU, all three moments at both sizes, every difference exactly 0.
    par = doc["parity"]
    assert par["finite"] is True
    assert {(r["size"], r["moment"]) for r in par["table"]} == {
        (s, m) for s in (32, 64) for m in ("eye_wide", "full_blink", "half_blink_down")}
    for row in par["table"]:
        diffs = {k: v for k, v in row.items() if k.endswith(("_max", "_mean")) and k.split("_")[0] in
                 ("R", "G", "B", "E", "occluder")}
        assert len(diffs) == 10, row
        assert all(v == 0.0 for v in diffs.values()), row
        metrics = [v for k, v in row.items() if k.startswith(("reference_", "backend_"))]
        assert metrics and all(isinstance(v, float) and math.isfinite(v) for v in metrics), row
        for k, v in row.items():
            if k.startswith("reference_"):
                assert row["backend_" + k[len("reference_"):]] == v
    assert par["worst"]["max_abs"] == 0.0

    # The gate against the CPU goldens passes them all; --golden-update writes them all.
    vs, upd = doc["gate"]["vs_reference_goldens"], doc["gate"]["golden_update"]
    assert vs["goldens"] and set(vs["goldens"]) == {"pass"} and not vs["checks_failed"]
    assert upd["goldens"] and set(upd["goldens"]) == {"updated"}
    assert {"render", "replay_b4", "big", "gate"} <= set(doc["bench"])
    assert doc["bench"]["render"]["meta"]["backend"] == "cpu"

    # What comes back from the device tool: at most 8 plain files, no folders.
    files = sorted(p.name for p in out.iterdir())
    assert all((out / f).is_file() for f in files) and len(files) <= 8, files
    assert {"summary.json", "summary.md", "run.log", "gpu-out.tar.gz", "golden-cpu.tar.gz"} <= set(files)
    assert "| parity |" in (out / "summary.md").read_text()
    with tarfile.open(out / "golden-cpu.tar.gz") as tar:
        names = [n for n in tar.getnames() if n.endswith(".png")]
    assert len(names) == sum(upd["goldens"].values())
    # Unpacked into golden/ they land where the gate looks: <gate>/<avatar>/<take>/<edit>/<variant>/.
    assert all(n.startswith("./three-moment/synthetic/") and n.endswith(".cpu.png") for n in names), names[:3]
    assert all((ROOT / "golden" / n).is_file() for n in names)  # the same paths as the committed goldens
    with tarfile.open(out / "gpu-out.tar.gz") as tar:
        packed = set(tar.getnames())
    assert {"./logs/parity.log", "./parity.json", "./steps.tsv", "./summary.json"} <= packed


def test_budget_skips_steps_and_still_summarises(tmp_path):
    proc, out = _run(tmp_path, "--dry-run", "--budget-s", "1", timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    doc = json.loads((out / "summary.json").read_text())
    assert [s["name"] for s in doc["steps"]] == STEPS
    for s in doc["steps"]:
        assert s["status"] == "skipped" and s["rc"] is None, s
        assert s["reason"].startswith(("budget:", "dry run:")), s
    assert doc["parity"] is None and doc["meta"]["budget_s"] == 1


def test_rejects_unknown_arguments(tmp_path):
    proc, _ = _run(tmp_path, "--bogus", timeout=60)
    assert proc.returncode == 2 and "unknown argument" in proc.stderr + proc.stdout
