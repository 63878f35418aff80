"""Gate a whole catalogue end to end (issue 30): generated OAC avatars with varied statistics and three broken
ones, gated in this process through the CLI, on a local Dask cluster in another order, and after a real
kill mid-item; every run gives the same summary."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from avatarcheck.catalogue import Engine, Settings, discover, run_catalogue
from avatarcheck.catalogue.discover import Discovered
from avatarcheck.catalogue.rows import COVERAGE_STAT, LEAK_STAT, stable
from avatarcheck.catalogue.store import ITEM_JSON, ITEMS
from avatarcheck.cli import app
from avatarcheck.gate.result import GateResult
from avatarcheck.gate.spec import load_gate

# The three-moment gate cut to what a catalogue test can afford: one moment, one edit, the reference and the
# fix, two checks, 64 px, no leak curves.
FAST_GATE = """
[gate]
description = "catalogue test gate"
moments = ["full_blink"]
take = "synthetic:1"
image_size = 64
visible = 0.1
dilate_px = 2
curve_stride = 100000
apply_eye_rotation = true
missing_moment = "skip"
[[edits]]
name = "pear"
kind = "chibi"
preset = "pear"
strength = 2.0
[variants.baseline]
role = "reference"
overrides = []
curve = false
[variants.post-fix]
role = "must-pass"
overrides = ["xyz", "arkit_bs", "scale_ratio"]
curve = false
[[checks]]
name = "leak_max"
stat = "leak_max"
op = "<="
threshold = 0.12
unedited_margin = 0.05
moments = ["full_blink"]
[[checks]]
name = "coverage"
stat = "coverage_p1"
op = ">="
threshold = 0.5
moments = ["full_blink"]
[golden.cpu]
ssim_min = 0.995
flip_max = 0.01
max_abs = 0.05
"""
GOOD = ("alice.zip", "bob.zip")


def _write_catalogue(folder: Path) -> None:
    """Two plausible avatars of different statistics, one implausible, one truncated, one without offset.ply."""
    from avatarcheck.export.oac import oac_members, write_oac
    from avatarcheck.io.zipped import write_zip_atomic
    from avatarcheck.sources.embedded import lam_trained_avatar
    from avatarcheck.splats.lam_trained import broken_cloud

    trained = lam_trained_avatar()
    c = trained.cloud
    bob = dataclasses.replace(c, opacities=np.clip(c.opacities * 0.7, 0, 1), scales=np.minimum(c.scales * 1.15, 0.01))
    members = oac_members(trained)
    write_zip_atomic(folder / "alice.zip", members, folder="alice")
    write_oac(trained.with_cloud(bob), folder / "bob.zip", name="bob")
    write_oac(trained.with_cloud(broken_cloud(c)), folder / "noise.zip", name="noise")
    data = (folder / "alice.zip").read_bytes()
    (folder / "truncated.zip").write_bytes(data[: len(data) // 2])
    write_zip_atomic(folder / "no_ply.zip", {k: v for k, v in members.items() if k != "offset.ply"}, folder="np")


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalogue")
    (root / "avatars").mkdir()
    _write_catalogue(root / "avatars")
    (root / "fast.toml").write_text(FAST_GATE)
    return root


@pytest.fixture(scope="module")
def sequential(catalogue):
    """The catalogue gated by the command, in this process."""
    out = catalogue / "seq"
    r = CliRunner().invoke(app, ["catalogue", str(catalogue / "avatars"), "--gate", str(catalogue / "fast.toml"),
                                 "--out", str(out), "--backend", "cpu"])
    assert r.exit_code == 1, r.output  # broken avatars fail the catalogue
    return json.loads((out / "summary.json").read_text()), r.output


def _by_file(summary: dict) -> dict[str, dict]:
    return {Path(r["avatar_spec"]).name: r for r in summary["items"]}


def _settings(catalogue: Path, out: Path) -> Settings:
    return Settings(load_gate(str(catalogue / "fast.toml")), str(out), "cpu")


def test_every_avatar_is_one_row_with_its_report_and_the_broken_ones_are_red(sequential, catalogue):
    summary, output = sequential
    rows = _by_file(summary)
    assert sorted(rows) == sorted(["alice.zip", "bob.zip", "noise.zip", "truncated.zip", "no_ply.zip"])
    assert summary["counts"]["items"] == 5 and summary["counts"]["resumed"] == 0
    out = catalogue / "seq"
    for name in GOOD:
        row = rows[name]
        assert row["verdict"] in ("pass", "fail") and row["error"] is None
        result = GateResult.load(out / Path(row["report"]).parent / "result.json")
        assert (out / row["report"]).is_file() and result.ok == (row["verdict"] == "pass")
        shipping = [c for c in result.checks if c.variant in ("baseline", "post-fix")]
        assert row["worst_leak"] == max(c.value for c in shipping if c.stat == LEAK_STAT)
        assert row["worst_coverage"] == min(c.value for c in shipping if c.stat == COVERAGE_STAT)
        assert any("not compared in a catalogue run" in s.reason for s in result.skipped)
    # varied statistics give varied numbers
    assert rows["alice.zip"]["worst_coverage"] != rows["bob.zip"]["worst_coverage"]
    noise = rows["noise.zip"]
    assert noise["verdict"] == "fail" and {"offset_median_mm", "clip_fraction"} <= set(noise["flags"])
    assert noise["worst_leak"] is None and (out / noise["report"]).is_file()
    assert rows["no_ply.zip"]["verdict"] == "error" and "offset.ply" in rows["no_ply.zip"]["error"]
    assert rows["truncated.zip"]["verdict"] == "error" and "truncated.zip" in rows["truncated.zip"]["error"]
    html = (out / "index.html").read_text()
    assert html.count('href="items/') == 3 and "leak-histogram" in html and "no_ply.zip" in html
    assert "2 error" in output and "summary:" in output


def test_a_local_dask_cluster_in_another_order_gives_the_same_summary(sequential, catalogue):
    from distributed import LocalCluster

    found = discover([str(catalogue / "avatars")])
    shuffled = Discovered(tuple(reversed(found.avatars)))
    out = catalogue / "dask"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        outcome = run_catalogue(shuffled, _settings(catalogue, out), engine=Engine(cluster=cluster.scheduler_address))
    assert not outcome.ok
    assert [stable(r) for r in outcome.rows] == [stable(r) for r in sequential[0]["items"]]
    assert json.loads(outcome.summary.read_text())["engine"].startswith("Dask cluster at")


def test_a_local_process_pool_gives_the_same_summary(sequential, catalogue):
    """``--workers 2``: spawned processes (numba and torch are not fork-safe) give the rows one process gives."""
    out = catalogue / "pool"
    outcome = run_catalogue(discover([str(catalogue / "avatars")]), _settings(catalogue, out), engine=Engine(workers=2))
    assert not outcome.ok
    assert [stable(r) for r in outcome.rows] == [stable(r) for r in sequential[0]["items"]]
    assert "local process(es)" in json.loads(outcome.summary.read_text())["engine"]


def _kill_mid_item(cmd: list[str], items: Path, key: str) -> None:
    """Start ``cmd`` and SIGKILL it once it is building ``key``'s folder."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "AVATARCHECK_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.startswith(f".{key}.") for p in items.iterdir()):
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended before the item started"
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_a_run_killed_mid_item_leaves_nothing_finished_and_resumes_to_the_same_summary(sequential, catalogue):
    out = catalogue / "killed"
    shutil.copytree(catalogue / "seq", out)
    alice = _by_file(sequential[0])["alice.zip"]
    shutil.rmtree(out / ITEMS / alice["key"])  # the one item left to do
    cmd = [sys.executable, "-m", "avatarcheck", "catalogue", str(catalogue / "avatars"), "--gate",
           str(catalogue / "fast.toml"), "--out", str(out), "--backend", "cpu"]
    _kill_mid_item(cmd, out / ITEMS, alice["key"])
    leftovers = [p for p in (out / ITEMS).iterdir() if p.name.startswith(".")]
    assert leftovers and not (out / ITEMS / alice["key"]).exists()  # nothing looks finished
    outcome = run_catalogue(discover([str(catalogue / "avatars")]), _settings(catalogue, out))
    assert not any(p.name.startswith(".") for p in (out / ITEMS).iterdir())  # the killed builder's folder is gone
    assert [r["resumed"] for r in outcome.rows] == [r["key"] != alice["key"] for r in outcome.rows]
    assert (out / ITEMS / alice["key"] / ITEM_JSON).is_file()
    assert [stable(r) for r in outcome.rows] == [stable(r) for r in sequential[0]["items"]]
