"""Real-avatar inputs through the gate and the CLI: an OAC zip gated end to end, a broken export refused
before any verdict (or gated anyway when asked), bad --avatar and --ply-layout values as usage errors."""


import pytest
from typer.testing import CliRunner

from avatarcheck.cli import app
from avatarcheck.gate.result import GateResult
from avatarcheck.gate.session import AVATAR_ITEM, GateSession
from avatarcheck.gate.spec import load_gate

FAST = '[tool.avatarcheck."three-moment".gate]\ncurve_stride = 120\n'


def _session(tmp_path, avatar, allow=False):
    return GateSession(load_gate("three-moment"), tmp_path / "report", avatar=avatar, backend="cpu",
                       golden_root=tmp_path / "golden", allow_implausible=allow)


def test_a_broken_export_gets_no_verdict(tmp_path):
    s = _session(tmp_path, "synthetic:lam-broken")
    steps = s.steps()
    assert steps[0].item_id == AVATAR_ITEM
    first = steps[0].run()
    assert first.status == "fail" and "offset_median_mm" in first.message and "--allow-implausible" in first.message
    later = steps[1].run()
    assert later.status == "skip" and "implausible" in later.message
    result = s.result()
    assert not result.ok and result.checks == []
    check = result.avatar_check
    assert check["implausible"] and not check["allowed"]
    assert {f["statistic"] for f in check["findings"]} >= {"offset_median_mm", "clip_fraction"}
    assert (tmp_path / "report" / check["image"]).is_file()  # the canonical RGB render


def test_allow_implausible_gates_it_anyway(tmp_path):
    s = _session(tmp_path, "synthetic:lam-broken", allow=True)
    assert s.steps()[0].run().status == "pass"
    assert s.avatar_check["implausible"] and s.avatar_check["allowed"]


def test_a_gate_file_names_the_avatar_and_the_command_line_wins(tmp_path):
    py = tmp_path / "pyproject.toml"
    py.write_text('[tool.avatarcheck."three-moment".gate]\navatar = "synthetic:lam-broken"\n')
    spec = load_gate("three-moment", py, pyproject_required=True)
    assert spec.avatar == "synthetic:lam-broken"
    from_file = GateSession(spec, tmp_path / "a", backend="cpu")
    assert from_file.steps()[0].run().status == "fail"
    given = GateSession(spec, tmp_path / "b", backend="cpu", avatar="synthetic")
    assert given.steps()[0].run().status == "pass"


def test_plausible_trained_avatar_passes_the_avatar_item(tmp_path):
    s = _session(tmp_path, "synthetic:lam-trained")
    assert s.steps()[0].run().status == "pass"
    assert s.result().source["kind"] == "embedded" and s.result().source["calibrated"]


def test_cli_refuses_a_broken_export_with_the_numbers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["gate", "--avatar", "synthetic:lam-broken", "--backend", "cpu"])
    assert r.exit_code == 1
    assert "implausible" in r.output and "offset_median_mm = 54" in r.output
    html = (tmp_path / "reports" / "latest" / "index.html").read_text()
    assert "Implausible for a trained LAM avatar" in html and "canonical_rgb.png" in html
    info = CliRunner().invoke(app, ["avatar", "info", "--avatar", "synthetic:lam-broken"])
    assert info.exit_code == 1 and "clip_fraction" in info.output


@pytest.mark.parametrize("args, words", [
    (["--avatar", "nope.zip"], "no such path"),
    (["--avatar", "synthetic:nope"], "synthetic flavour"),
    (["--ply-layout", "xyz"], "--ply-layout"),
])
def test_bad_avatar_options_exit_2(tmp_path, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["render", "--out", str(tmp_path / "r"), *args])
    assert r.exit_code == 2 and words in r.output


@pytest.mark.slow
def test_gate_an_oac_zip_end_to_end(tmp_path, monkeypatch):
    """README's "Gate your own LAM avatar": export, gate, render; the report names the source."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(FAST)
    runner = CliRunner()
    r = runner.invoke(app, ["avatar", "export", "--avatar", "synthetic:lam-trained", "--out", "alice.zip"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["gate", "--avatar", "alice.zip", "--backend", "cpu", "--golden-update"])
    assert r.exit_code in (0, 1), r.output  # the verdicts themselves: tests/test_verdicts_trained.py
    result = GateResult.load(tmp_path / "reports" / "latest" / "result.json")
    assert result.source["kind"] == "oac" and any(f.endswith("alice.zip:skin.glb") for f in result.source["files"])
    assert result.source["calibrated"] and not result.avatar_check["implausible"]
    # its thin lids leak before any edit: the leak bars come from the unedited avatar, and the report says so
    assert any("unedited_margin" in n for n in result.notes)
    assert len(result.checks) > 50 and result.images  # a full report, every check evaluated
    r = runner.invoke(app, ["render", "--avatar", "alice.zip", "--out", "r", "--size", "64"])
    assert r.exit_code == 0 and (tmp_path / "r" / "frame_0000.png").is_file()


def test_pytest_option_rejects_an_unreadable_avatar(pytester):
    pytester.makefile(".toml", pyproject=FAST)
    result = pytester.runpytest_subprocess("--gate", "three-moment", "--gate-avatar", "nope.zip",
                                          "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*nope.zip*no such path*"])
