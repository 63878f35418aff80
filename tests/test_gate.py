"""The three-moment gate end to end: ``pytest --gate three-moment`` in a folder with no tests of its own.

Inner runs are subprocesses (numba and numpy extension modules cannot be re-imported in one
process). They use the committed CPU goldens and sample the leak curve sparsely (a pyproject
override), so each takes seconds.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from avatarcheck.gate.result import GateResult
from avatarcheck.io.images import write_png

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "golden"
TAKE_KEY = "synthetic-1-30133b7f"  # gate.inputs.take_key of the default take (a test pins it)
FAST = '[tool.avatarcheck."three-moment".gate]\ncurve_stride = 120\n'


def run_gate(pytester, *args, pyproject=FAST, golden=GOLDEN):
    pytester.makefile(".toml", pyproject=pyproject)
    report = pytester.path / "reports"
    result = pytester.runpytest_subprocess("--gate", "three-moment", "--gate-backend", "cpu", "-p", "no:cacheprovider",
                                          "--gate-golden-dir", str(golden), "--gate-report-dir", str(report), *args)
    return result, report


def latest_result(report: Path) -> GateResult:
    return GateResult.load(report / "latest" / "result.json")


def test_the_gate_passes_on_the_synthetic_head_with_the_recipes_outcomes(pytester):
    result, report = run_gate(pytester)
    # the avatar's plausibility and blink closure, the take's moments + 7 (edit, variant) pairs: 56 moment
    # checks (7 of them head holes) + 21 worst-closed-frame checks + 1 ordering + 21 goldens + 5 curves (none
    # for the boost) + 4 must-fail detections + 2 summaries
    result.assert_outcomes(passed=113)
    gate = latest_result(report)
    assert gate.ok and gate.backend == "cpu" and gate.avatar == "synthetic"
    by_id = {c.item_id: c for c in gate.checks}
    # Baseline and post-fix pass the closed-eye checks; pre-fix fails them, for both edits.
    for edit in ("pear", "hourglass"):
        for check in ("leak_max", "leak_area", "coverage"):
            assert by_id[f"{edit}/post-fix/full_blink/{check}"].passed
            pre = by_id[f"{edit}/pre-fix/full_blink/{check}"]
            assert not pre.passed and pre.expected == "any" and pre.ok  # the stand-in's verdicts, unchanged
            # the worst closed-eye frame is gated like the full blink, with the same outcomes
            assert by_id[f"{edit}/post-fix/worst_closed/{check}"].passed
            assert not by_id[f"{edit}/pre-fix/worst_closed/{check}"].passed
        assert by_id[f"{edit}/post-fix/eye_wide/eye_visible"].passed
        # The recipe's boost closes the blink but blurs the face; the ratio passes both.
        blurred = by_id[f"{edit}/boost/eye_wide/sharpness"]
        assert not blurred.passed and blurred.expected == "any" and blurred.ok and blurred.eye == "face"
        detected = {d.variant: d for d in gate.detections if d.edit == edit}
        assert detected["pre-fix"].ok and f"{edit}/pre-fix/full_blink/leak_area" in detected["pre-fix"].failing
        assert detected["boost"].failing == [f"{edit}/boost/eye_wide/sharpness"]
        # the embedded avatar's splats tile its head: no edit opens holes there (trained avatars:
        # tests/test_verdicts_trained.py)
        assert by_id[f"{edit}/pre-fix/eye_wide/head_holes"].value < 0.01
        assert by_id[f"{edit}/post-fix/eye_wide/sharpness"].passed and by_id[f"{edit}/pre-fix/eye_wide/sharpness"].passed
        assert by_id[f"{edit}/post-fix/eye_wide/sharpness"].value > blurred.value
        assert all(c.passed for c in gate.checks if (c.edit, c.variant) == (edit, "boost") and c.stat != "sharpness")
    # the embedded avatar is within every threshold: its relative checks compare with the plain thresholds
    plain = {"leak_max": 0.12, "leak_area": 0.005, "coverage": 0.93, "eye_visible": 0.5}
    relative = [c for c in gate.checks if c.unedited is not None]
    assert relative and all(c.threshold == plain[c.check] for c in relative)
    assert all(c.passed for c in gate.checks if c.variant == "baseline")
    assert by_id["unedited/baseline/eye_wide/sharpness"].value == 1.0   # the reference against itself
    (order,) = gate.orderings
    assert order.ok and order.greater_value > order.lesser_value
    assert {g.status for g in gate.goldens} == {"pass"}
    worst = [im for im in gate.images if im.moment == "worst_closed"]
    assert len(worst) == 7 and all(im.frame >= 0 for im in worst)
    # The report folder is complete: every image the page names exists inside it.
    html = (report / "latest" / "index.html").read_text()
    assert "pear/pre-fix/full_blink/leak_area" in html and 'id="sharpness"' in html
    assert len(gate.faces) == 7 and all((report / "latest" / f.image).is_file() for f in gate.faces)
    for im in gate.images:
        assert (report / "latest" / im.magenta).is_file() and (report / "latest" / im.heatmap).is_file()
        assert (report / "latest" / im.rgb).is_file()  # every gated frame also in the avatar's own colours
    assert len(gate.heads) == 7 and 'id="head-coverage"' in html
    assert all((report / "latest" / v["holes"]).is_file() for h in gate.heads for v in h.views.values())
    assert json.loads((report / "latest" / "result.json").read_text())["gate"] == "three-moment"
    assert not (report / "latest" / "parts").exists()  # no xdist here: no partial results


def test_a_prefix_that_passes_means_the_gate_is_broken(pytester):
    # Give the "pre-fix" variant the ratio: it no longer shows the artefact, and the gate must say so.
    broken = FAST + '[tool.avatarcheck."three-moment".variants.pre-fix]\noverrides = ["xyz", "arkit_bs", "scale_ratio"]\n'
    result, _ = run_gate(pytester, "-k", "pear and pre-fix and detected", pyproject=broken)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pear/pre-fix/detected*every one of the*checks passes*no longer detects*"])


def test_a_missing_golden_fails_with_the_command_that_creates_it(pytester, tmp_path):
    # another take than the gate's: the package ships no goldens for it (for the default take an empty
    # golden root falls back to the packaged goldens: tests/test_hardening_gate*.py)
    result, _ = run_gate(pytester, "-k", "unedited and full_blink and golden", "--gate-take", "synthetic:2",
                         golden=tmp_path / "none")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*missing*--golden-update*"])
    assert not (tmp_path / "none").exists()  # nothing but --golden-update writes goldens


def test_a_changed_render_fails_its_golden_with_a_triplet(pytester, tmp_path):
    golden = tmp_path / "golden"
    path = golden / f"three-moment/synthetic/{TAKE_KEY}/unedited/baseline/eye_wide.cpu.png"
    path.parent.mkdir(parents=True)
    original = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(
        GOLDEN / f"three-moment/synthetic/{TAKE_KEY}/unedited/baseline/eye_wide.cpu.png").convert("RGB")) / 255.0
    tampered = original.copy()
    tampered[100:140, 60:200] = [0.0, 1.0, 0.0]  # a green bar the render does not have
    write_png(path, tampered)
    result, report = run_gate(pytester, "-k", "unedited and eye_wide and golden", golden=golden)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SSIM*FLIP*max |diff|*"])
    (g,) = latest_result(report).goldens
    assert g.status == "fail" and g.max_abs > 0.5
    for image in (g.golden_image, g.result_image, g.diff_image):
        assert (report / "latest" / image).is_file()
    # Nothing overwrote the golden.
    np.testing.assert_array_equal(np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(path)), (tampered * 255 + 0.5).astype(np.uint8))


def test_bad_gate_options_are_usage_errors(pytester):
    pytester.makefile(".toml", pyproject='[tool.avatarcheck."three-moment".gate]\nimage_size = "big"\n')
    result = pytester.runpytest_subprocess("--gate", "three-moment", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*pyproject.toml*gate.image_size*"])
    result = pytester.runpytest_subprocess("--gate", "nine-moment", "-p", "no:cacheprovider")
    result.stderr.fnmatch_lines(["*--gate*three-moment*"])


def test_without_gate_the_plugin_stays_out_of_the_way(pytester):
    pytester.makepyfile("def test_one():\n    assert True\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_your_own_tests_run_beside_the_gate_unless_gate_only(pytester):
    pytester.makepyfile(test_mine="def test_mine():\n    assert True\n")
    ini = FAST + '[tool.pytest.ini_options]\ngate_backend = "cpu"\n'  # ini keys mirror the options
    select = ["-k", "test_mine or (unedited and full_blink and leak_max)"]
    result, _ = run_gate(pytester, *select, pyproject=ini)
    result.assert_outcomes(passed=2)
    result, _ = run_gate(pytester, "--gate-only", *select, pyproject=ini)
    result.assert_outcomes(passed=1)


def test_a_take_without_a_moment_skips_its_items_with_the_reason(pytester):
    take = REPO / "recordings" / "synthetic_take_05_no_eye_wide.csv"
    result, report = run_gate(pytester, "--gate-take", str(take), "-rs", "-k", "unedited and eye_wide and not golden")
    result.assert_outcomes(skipped=3)      # eye_visible, sharpness and head_holes
    result.stdout.fnmatch_lines(["*SKIPPED*no eye_wide moment*closest is frame 90*"])
    gate = latest_result(report)
    assert {s.item_id.split("/")[-1] for s in gate.skipped} == {"eye_visible", "sharpness", "head_holes"}
    assert all(not s.failed and "eyeWide" in s.reason for s in gate.skipped) and not gate.faces
    strict = FAST + 'missing_moment = "fail"\n'
    result, _ = run_gate(pytester, "--gate-take", str(take), "-k", "unedited and eye_wide and not golden",
                         pyproject=strict)
    result.assert_outcomes(failed=3)


def test_the_avatar_gate_fixture_gates_an_avatar_from_a_users_test_module(pytester):
    pytester.makefile(".toml", pyproject=FAST)
    pytester.makepyfile(test_my_avatar=f"""
def test_my_avatar_keeps_its_lids_closed(avatar_gate):
    result = avatar_gate("three-moment", backend="cpu", golden_dir={str(GOLDEN)!r})
    assert result.ok, result.failures
    assert any(c.item_id == "pear/post-fix/full_blink/leak_max" and c.passed for c in result.checks)
""")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_cli_gate_runs_the_same_gate(tmp_path, monkeypatch):
    from avatarcheck.cli import app

    (tmp_path / "pyproject.toml").write_text(FAST)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["gate", "--backend", "cpu", "--golden-dir", str(GOLDEN),
                                 "--report-dir", str(tmp_path / "reports")])
    assert r.exit_code == 0, r.output
    assert "PASS" in r.output and (tmp_path / "reports" / "latest" / "index.html").is_file()
    bad = CliRunner().invoke(app, ["gate", "--take", str(tmp_path / "nope.csv"), "--backend", "cpu"])
    assert bad.exit_code == 2 and "nope.csv" in bad.output


@pytest.mark.cuda
def test_the_gate_on_cuda(pytester):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA (no NVIDIA GPU here)")
    pytester.makefile(".toml", pyproject=FAST)
    result = pytester.runpytest_subprocess("--gate", "three-moment", "--gate-backend", "cuda", "-k", "not golden",
                                          "-p", "no:cacheprovider", "--gate-report-dir", str(pytester.path / "r"))
    result.assert_outcomes(passed=54)


def test_xdist_workers_write_one_merged_report(pytester):
    result, report = run_gate(pytester, "-n", "2", "-k", "full_blink and leak_max and (unedited or pear)")
    result.assert_outcomes(passed=4)
    gate = latest_result(report)
    assert sorted(c.item_id for c in gate.checks) == sorted([
        "unedited/baseline/full_blink/leak_max", "pear/pre-fix/full_blink/leak_max", "pear/post-fix/full_blink/leak_max",
        "pear/boost/full_blink/leak_max"])
    assert len(list((report / "latest" / "parts").glob("*.json"))) == 2  # one part per worker, merged once
    assert (report / "latest" / "index.html").is_file()


def test_gate_avatar_and_take_options(pytester, tmp_path):
    from avatarcheck.head.loaders import save_head_npz
    from avatarcheck.head.synthetic import synthetic_head
    from avatarcheck.takes.files import save_take
    from avatarcheck.takes.synthetic import synthetic_take

    save_head_npz(synthetic_head(), tmp_path / "myhead.npz")
    save_take(tmp_path / "take.csv", synthetic_take(seed=2, num_frames=720))
    result, report = run_gate(pytester, "--gate-avatar", str(tmp_path / "myhead.npz"), "--gate-take",
                              str(tmp_path / "take.csv"), "-k", "unedited and full_blink and leak_max")
    result.assert_outcomes(passed=1)
    gate = latest_result(report)
    assert gate.avatar == "myhead" and gate.take.endswith("take.csv")
    assert gate.moments["full_blink"]["values"]["eyeBlinkLeft"] >= 0.9
