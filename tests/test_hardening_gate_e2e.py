"""Reliability re-audit 2026-12-05, the gate's runners end to end (CLI in-process, pytest plugin in a
subprocess): N1 (a take with none of the moments), N2 (two runs in one second), N3 (user text printed as
is), N4 (a gate given by path), N13 (--golden-update finishes its set) and the demo in an empty folder.

The gates here are small (only the unedited reference, 64 px, one curve frame): seconds each."""

import json
import os
from importlib import resources
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from avatarcheck.cli import app
from avatarcheck.gate.result import GateResult

STAMP = "20261205-071508"


def _tiny(gate: str) -> str:
    return (f'[tool.avatarcheck."{gate}"]\nedits = []\norderings = []\n'
            f'[tool.avatarcheck."{gate}".gate]\nimage_size = 64\ncurve_stride = 100000\n')


def _flat_take(path: Path) -> Path:
    from avatarcheck.takes.files import save_take
    from avatarcheck.takes.synthetic import synthetic_take
    from avatarcheck.takes.take import Take

    t = synthetic_take(seed=1, num_frames=360)
    save_take(path, Take(np.zeros_like(t.weights), t.head_rotation, t.eye_left, t.eye_right, t.timestamps, t.fps))
    return path


def _lids_gate(folder: Path) -> Path:
    (folder / "teams").mkdir()
    path = folder / "teams" / "lids.toml"
    path.write_text(resources.files("avatarcheck.gate").joinpath("gates", "three-moment.toml").read_text())
    return path


def _gate(*args: str):
    return CliRunner().invoke(app, ["gate", "--backend", "cpu", *args], env={"COLUMNS": "250"})


# -- N1 + N3: a take with none of the moments, under a name with rich markup --------------------------------

def test_cli_a_take_with_none_of_the_moments_fails_and_prints_its_name_as_is(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(_tiny("three-moment"))
    take = _flat_take(tmp_path / "flat[bold]x.csv")
    r = _gate("--take", str(take), "--report-dir", str(tmp_path / "R"))
    out = " ".join(r.output.split())
    assert r.exit_code == 1, r.output
    assert "the take has none of the gate's moments" in out and "checked nothing" in out
    assert "gate three-moment: FAIL" in out and "PASS" not in out
    assert "flat[bold]x.csv" in out   # rich markup in a file name is printed, not interpreted
    result = GateResult.load(tmp_path / "R" / "latest" / "result.json")
    assert not result.ok and result.checked_nothing
    assert any(s.item_id == "take/moments" and s.failed for s in result.skipped)


def test_pytest_a_take_with_none_of_the_moments_fails_a_session_item(pytester, tmp_path):
    pytester.makefile(".toml", pyproject=_tiny("three-moment"))
    take = _flat_take(tmp_path / "flat.csv")
    result = pytester.runpytest_subprocess("--gate", "three-moment", "--gate-backend", "cpu", "-p", "no:cacheprovider",
                                          "--gate-take", str(take), "--gate-only", "--gate-golden-dir",
                                          str(tmp_path / "golden"), "--gate-report-dir", str(tmp_path / "R"))
    assert result.ret == 1
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and outcomes.get("skipped", 0) > 10
    result.stdout.fnmatch_lines(["*take/moments*the take has none of the gate's moments*checked nothing*"])
    result.stdout.fnmatch_lines(["*avatarcheck gate report: FAIL*"])


# -- N2 + N4 + N13: two runs in one second, a gate file given by path, --golden-update -------------------------

def test_cli_two_runs_in_one_second_get_two_folders_named_after_the_gate(tmp_path, monkeypatch):
    from avatarcheck.report import html

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(html, "report_timestamp", lambda: STAMP)
    _lids_gate(tmp_path)
    (tmp_path / "pyproject.toml").write_text(_tiny("lids"))
    # (at 64 px some checks of the reference fail: a verdict, exit 1, still a complete report)
    first = _gate("--gate", "teams/lids.toml", "--take", "synthetic:1", "--golden-update")
    assert first.exit_code in (0, 1) and "report:" in first.output, first.output
    second = _gate("--gate", "teams/lids.toml", "--take", "synthetic:2")
    assert second.exit_code == 1 and "report:" in second.output, second.output   # no goldens for that take
    reports = tmp_path / "reports"
    assert sorted(p.name for p in reports.iterdir()) == [f"{STAMP}-lids", f"{STAMP}-lids-2", "latest"]
    takes = [GateResult.load(reports / f / "result.json").take for f in (f"{STAMP}-lids", f"{STAMP}-lids-2")]
    assert takes[0] != takes[1]
    assert os.readlink(reports / "latest") == f"{STAMP}-lids-2"
    assert GateResult.load(reports / "latest" / "result.json").take == takes[1]
    # the update wrote the user's root and completed its set last
    (manifest,) = (tmp_path / "golden" / "lids" / "synthetic").glob("*/manifest.cpu.json")
    doc = json.loads(manifest.read_text())
    assert doc["complete"] and len(doc["files"]) == 3


def test_the_command_a_missing_golden_prints_writes_the_goldens_that_run_lacks(tmp_path, monkeypatch):
    """A gate file by path, an avatar and a golden root of the user's own: the printed command names all
    three, and running it (the CLI half, as printed) makes the same run pass its goldens."""
    import shlex

    monkeypatch.chdir(tmp_path)
    _lids_gate(tmp_path)
    (tmp_path / "pyproject.toml").write_text(_tiny("lids"))
    run = ["--gate", "teams/lids.toml", "--avatar", "synthetic:lam-trained", "--take", "synthetic:1",
           "--golden-dir", "my goldens"]
    first = _gate(*run)
    result = GateResult.load(tmp_path / "reports" / "latest" / "result.json")
    missing = [g for g in result.goldens if g.status == "missing"]
    assert first.exit_code == 1 and len(missing) == 3, first.output
    out = " ".join(first.output.split())  # the terminal says the command once, not once per golden
    assert out.count("create it with:") == 1 and "3 golden images are missing; the first: no golden at" in out
    printed = missing[0].message.split("create it with: ", 1)[1]
    assert printed.startswith("pytest --gate teams/lids.toml --gate-backend cpu --gate-avatar synthetic:lam-trained "
                              "--gate-golden-dir 'my goldens' --gate-take synthetic:1 --golden-update")
    cli = shlex.split(printed.split("(or: ", 1)[1].rstrip(")"))
    assert cli[:2] == ["avatarcheck", "gate"]
    assert _gate(*cli[2:]).exit_code in (0, 1)
    assert not list((tmp_path / "golden").glob("**/*.png"))  # the user's own root, not the default one
    _gate(*run)
    again = GateResult.load(tmp_path / "reports" / "latest" / "result.json")
    assert len(again.goldens) == 3 and all(g.status == "pass" for g in again.goldens)


CLOCK = f"""
import avatarcheck.report.html as html
html.report_timestamp = lambda: {STAMP!r}
"""


def test_pytest_two_runs_in_one_second_get_two_folders_named_after_the_gate(pytester):
    pytester.makefile(".toml", pyproject=_tiny("lids"))
    pytester.makeconftest(CLOCK)
    _lids_gate(pytester.path)
    select = ["-k", "unedited and full_blink and (leak_max or golden)"]
    args = ["--gate", "teams/lids.toml", "--gate-backend", "cpu", "-p", "no:cacheprovider", *select]
    pytester.runpytest_subprocess(*args, "--golden-update").assert_outcomes(passed=2)
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=2)
    reports = pytester.path / "reports"
    assert sorted(p.name for p in reports.iterdir()) == [f"{STAMP}-lids", f"{STAMP}-lids-2", "latest"]
    assert os.readlink(reports / "latest") == f"{STAMP}-lids-2"
    assert all((reports / f / "index.html").is_file() for f in (f"{STAMP}-lids", f"{STAMP}-lids-2"))
    (manifest,) = (pytester.path / "golden" / "lids" / "synthetic").glob("*/manifest.cpu.json")
    assert json.loads(manifest.read_text())["complete"]


# -- the demo in an empty folder: the packaged goldens ------------------------------------------------------

def test_the_default_gate_passes_in_an_empty_folder_on_the_packaged_goldens(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = _gate()
    assert r.exit_code == 0, r.output
    assert "gate three-moment: PASS" in r.output and "packaged" in r.output
    result = GateResult.load(tmp_path / "reports" / "latest" / "result.json")
    assert result.ok and {g.status for g in result.goldens} == {"pass"} and len(result.goldens) == 21
    assert result.golden_set["source"] == "packaged"
    assert any("packaged" in n for n in result.notes)
    assert "packaged" in (tmp_path / "reports" / "latest" / "index.html").read_text()
    assert not (tmp_path / "golden").exists()   # nothing but --golden-update writes goldens
