"""The safe-strength sweep: the rule, the command, the gate's [sweep] table and steps, the report's section."""

import dataclasses
import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from avatarcheck.cli import app
from avatarcheck.errors import InputError
from avatarcheck.gate.spec import load_gate
from avatarcheck.gate.sweep import CORRECTIONS, largest_safe


@given(st.lists(st.booleans(), min_size=1, max_size=12))
def test_largest_safe_is_the_end_of_the_leading_run_of_passes(passed):
    strengths = [0.5 * (i + 1) for i in range(len(passed))]
    safe = largest_safe(strengths, passed)
    run = next((i for i, ok in enumerate(passed) if not ok), len(passed))
    assert safe == (None if run == 0 else strengths[run - 1])


def test_sweep_command_finds_where_each_correction_holds(tmp_path):
    out = tmp_path / "sweep"
    r = CliRunner().invoke(app, ["sweep", "--strengths", "2", "--corrections", "none,ratio", "--backend", "cpu",
                                 "--out", str(out)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    result = json.loads((out / "sweep.json").read_text())
    # the gate's own verdicts at strength 2: the pre-fix leaks, the ratio closes the lids
    assert result["passed"] == {"none": [False], "ratio": [True]}
    assert result["safe"] == {"none": None, "ratio": 2.0}
    assert (out / "sweep.svg").read_text().startswith("<svg")


def test_sweep_rejects_bad_strengths(tmp_path):
    r = CliRunner().invoke(app, ["sweep", "--strengths", "a,b", "--out", str(tmp_path / "s")])
    assert r.exit_code == 2 and "strengths" in r.output


# -- the [sweep] table of a gate file ---------------------------------------------------------------------

def _packaged() -> dict:
    import tomllib
    from importlib import resources

    return tomllib.loads(resources.files("avatarcheck.gate").joinpath("gates", "three-moment.toml").read_text())


def _parse(sweep_table):
    from avatarcheck.gate.spec import parse_gate

    return parse_gate("three-moment", {**_packaged(), "sweep": sweep_table}, "lids.toml")


@pytest.mark.parametrize("table, field", [
    ([1, 2], "sweep"),
    ({"strengths": [1.0]}, "sweep.edit"),                                              # no edit
    ({"edit": "kiwi", "strengths": [1.0]}, "sweep.edit"),                               # not a gate edit
    ({"edit": "../x", "kind": "chibi", "preset": "pear", "strengths": [1.0]}, "sweep.edit"),
    ({"edit": "pear", "strengths": [1.0], "preset": "hourglass"}, "sweep.preset"),     # params need a kind
    ({"edit": "pear", "strengths": [1.0], "stregths": [2.0]}, "sweep.stregths"),
    ({"edit": "m", "kind": "mesh", "path": "m.obj", "strengths": [1.0]}, "sweep.kind"),  # nothing to sweep
    ({"edit": "x", "kind": "chibi", "strengths": [1.0]}, "sweep.preset"),              # the kind's own checks
    ({"edit": "x", "kind": "chibi", "preset": "kiwi", "strengths": [1.0]}, "sweep.preset"),
    ({"edit": "x", "kind": "chibi", "preset": "pear", "strength": 2.0, "strengths": [1.0]}, "sweep.strength"),
    ({"edit": "hourglass", "kind": "chibi", "preset": "pear", "strengths": [1.0]}, "sweep.edit"),  # one name, one edit
    ({"edit": "pear"}, "sweep.strengths"),
    ({"edit": "pear", "strengths": []}, "sweep.strengths"),
    ({"edit": "pear", "strengths": [2.0, 1.0]}, "sweep.strengths"),
    ({"edit": "pear", "strengths": [1.0, 1.0]}, "sweep.strengths"),
    ({"edit": "pear", "strengths": [0.0, 1.0]}, "sweep.strengths"),
    ({"edit": "pear", "strengths": [1.0, 11.0]}, "sweep.strengths"),
    ({"edit": "pear", "strengths": ["1"]}, "sweep.strengths"),
    ({"edit": "pear", "strengths": [True]}, "sweep.strengths"),
    ({"edit": "pear", "strengths": "1,2"}, "sweep.strengths"),
    ({"edit": "pear", "strengths": {"start": 2.0, "stop": 1.0, "step": 0.5}}, "sweep.strengths"),
    ({"edit": "pear", "strengths": {"start": 1.0, "stop": 2.0}}, "sweep.strengths.step"),
    ({"edit": "pear", "strengths": {"start": 1.0, "stop": 2.0, "step": 0}}, "sweep.strengths.step"),
    ({"edit": "pear", "strengths": {"start": 0.1, "stop": 10, "step": 0.1}}, "sweep.strengths"),  # 100 of them
    ({"edit": "pear", "strengths": {"start": 1, "stop": 2, "step": 1, "by": 1}}, "sweep.strengths.by"),
    ({"edit": "pear", "strengths": [1.0], "corrections": ["magic"]}, "sweep.corrections"),
    ({"edit": "pear", "strengths": [1.0], "corrections": []}, "sweep.corrections"),
    ({"edit": "pear", "strengths": [1.0], "corrections": ["none", "none"]}, "sweep.corrections"),
    ({"edit": "pear", "strengths": [1.0, 2.0], "corrections": ["none"], "min_safe": {"ratio": 1.0}},
     "sweep.min_safe.ratio"),                                                          # not swept
    ({"edit": "pear", "strengths": [1.0, 2.0], "min_safe": {"ratio": 2.5}}, "sweep.min_safe.ratio"),  # unreachable
    ({"edit": "pear", "strengths": [1.0, 2.0], "min_safe": {"ratio": "2"}}, "sweep.min_safe.ratio"),
    ({"edit": "pear", "strengths": [1.0, 2.0], "min_safe": 2.0}, "sweep.min_safe"),
    ({"edit": "pear", "strengths": [1.0], "image_size": 8}, "sweep.image_size"),
])
def test_bad_sweep_tables_are_errors_naming_the_key(table, field):
    with pytest.raises(InputError) as err:
        _parse(table)
    assert err.value.field == field and err.value.source == "lids.toml", str(err.value)


def test_a_sweep_names_a_gate_edit_or_declares_one():
    s = _parse({"edit": "pear", "strengths": [1.0, 2.0], "min_safe": {"ratio": 1.5}}).sweep
    pear = next(e for e in load_gate("three-moment").edits if e.name == "pear")
    assert (s.name, s.kind) == ("pear", "chibi")
    assert s.params == {k: v for k, v in pear.params.items() if k != "strength"}
    assert s.corrections == tuple(CORRECTIONS) and s.min_safe == {"ratio": 1.5} and s.image_size is None
    d = _parse({"edit": "hg", "kind": "chibi", "preset": "hourglass", "strengths": [2.0], "corrections": ["ratio"],
                "image_size": 96}).sweep
    assert (d.name, d.params["preset"], d.strengths, d.corrections, d.image_size) == (
        "hg", "hourglass", (2.0,), ("ratio",), 96)
    assert load_gate("three-moment").sweep is not None  # the packaged gate declares one (run only when asked)


@given(st.floats(0.05, 2.0), st.floats(0.05, 1.0), st.integers(1, 20))
def test_a_strength_range_includes_both_ends(start, step, n):
    stop = start + (n - 1) * step
    assume(stop <= 10)  # past the largest strength: a rejected draw, not a pass
    s = _parse({"edit": "pear", "strengths": {"start": start, "stop": stop, "step": step}}).sweep
    assert len(s.strengths) == n and s.strengths[0] == pytest.approx(start) and s.strengths[-1] == pytest.approx(stop)
    assert all(b > a for a, b in zip(s.strengths, s.strengths[1:]))


def test_a_pyproject_sweep_table_merges_over_the_gate_and_errors_name_it(tmp_path):
    py = tmp_path / "pyproject.toml"
    table = '[tool.avatarcheck."three-moment".sweep]\nedit = "hourglass"\nstrengths = [1.0, 2.0]\n'
    py.write_text(table)  # the edit alone names one of the gate's edits: the packaged pear is not inherited
    s = load_gate("three-moment", py).sweep
    assert s.name == "hourglass" and s.params["preset"] == "hourglass"
    py.write_text(table.replace('"hourglass"', '"hourglas"'))  # a typo is an error, not a pear (audit N9)
    with pytest.raises(InputError, match="sweep.edit"):
        load_gate("three-moment", py)
    py.write_text(table + 'preset = "hourglass"\n')
    s = load_gate("three-moment", py).sweep
    assert s.name == "hourglass" and s.params["preset"] == "hourglass" and s.min_safe == {"ratio": 2.0}
    py.write_text('[tool.avatarcheck."three-moment"]\nedits = []\norderings = []\n')  # the sweep needs no [[edits]]
    assert load_gate("three-moment", py).sweep.name == "pear"
    py.write_text('[tool.avatarcheck."three-moment".sweep]\ncorrections = ["ratio", "wishful"]\n')
    with pytest.raises(InputError, match="sweep.corrections") as err:
        load_gate("three-moment", py)
    assert str(py) in str(err.value)


# -- the sweep as gate steps --------------------------------------------------------------------------------

def test_sweep_steps_only_when_asked():
    from avatarcheck.gate.session import GateSession

    spec = load_gate("three-moment")
    plain = [s.item_id for s in GateSession(spec, "unused", backend="cpu").steps()]
    assert not any(i.startswith("sweep/") for i in plain)
    steps = GateSession(spec, "unused", backend="cpu", sweep=True).steps()
    assert [s.item_id for s in steps[:len(plain)]] == plain  # the gate's own items first, unchanged
    extra = steps[len(plain):]
    assert [s.item_id for s in extra] == [f"sweep/{spec.sweep.name}/{c}" for c in spec.sweep.corrections]
    assert len({s.group for s in extra}) == len(extra)  # xdist may split the corrections over workers
    bare = dataclasses.replace(spec, sweep=None)
    with pytest.raises(InputError) as err:
        GateSession(bare, "unused", backend="cpu", sweep=True)
    assert err.value.field == "sweep" and "[sweep]" in err.value.expected


# -- the plot and the report's section ----------------------------------------------------------------------

def _svg_tree(svg: str):
    import xml.etree.ElementTree as ET

    return ET.fromstring(svg)


def _safe_marks(svg: str) -> dict[str, float]:
    return {g.get("data-correction"): float(g.get("data-strength"))
            for g in _svg_tree(svg).iter("g") if g.get("class") == "safe"}


def test_the_sweep_chart_marks_each_safe_strength_on_its_curve():
    from avatarcheck.report.plots import sweep_chart_svg

    strengths = [1.0, 2.0, 3.0]
    leak = {"none": [0.05, 0.3, 0.5], "ratio": [0.02, 0.03, None], "boost": [0.2, 0.1, 0.1]}
    passed = {"none": [True, False, False], "ratio": [True, True, False], "boost": [False, True, True]}
    safe = {c: largest_safe(strengths, p) for c, p in passed.items()}
    svg = sweep_chart_svg(strengths, leak, passed, safe, threshold=0.12, title="t <&>", chart_id="s")
    root = _svg_tree(svg)
    assert _safe_marks(svg) == {"none": 1.0, "ratio": 2.0}  # boost fails at its first strength: no ring
    lines = {p.get("data-label"): [tuple(map(float, xy.split(","))) for xy in p.get("points").split()]
             for p in root.iter("polyline")}
    assert [len(lines[c]) for c in leak] == [3, 2, 3]  # the refused point is not on the line ...
    assert sum(1 for p in root.iter("path") if p.get("class") == "refused") == 1  # ... but marked
    for g in (g for g in root.iter("g") if g.get("class") == "safe"):  # each ring sits on its curve's point
        ring = g.find("circle")
        k = strengths.index(float(g.get("data-strength")))
        assert (float(ring.get("cx")), float(ring.get("cy"))) == lines[g.get("data-correction")][k]
    dots = [c for c in root.iter("circle") if (c.get("class") or "").startswith("point")]
    assert sum(c.get("class") == "point fail" for c in dots) == 3 and len(dots) == 8
    (thr,) = [ln for ln in root.iter("line") if ln.get("class") == "threshold"]
    ys = {c: [y for _, y in lines[c]] for c in lines}
    # screen y grows downwards: 0.12 sits between none's 0.05 and 0.3
    assert ys["none"][1] < float(thr.get("y1")) < ys["none"][0]


def _sweep_record(correction: str, passed: list[bool], min_safe: float | None = None):
    from avatarcheck.gate.result import SweepCorrection

    strengths = [1.0, 2.0]
    safe = largest_safe(strengths, passed)
    ok = min_safe is None or (safe is not None and safe >= min_safe)
    return SweepCorrection(f"sweep/pear/{correction}", "pear", "chibi", {"preset": "pear"}, correction, strengths,
                           passed, ["" if p else "full_blink/leak_max" for p in passed], [0.05, 0.2], 0.12, 256,
                           safe, min_safe, ok, f"{correction} <msg>")


def test_sweep_records_round_trip_merge_and_decide_ok(tmp_path):
    from avatarcheck.gate.result import GateResult

    a = GateResult("g", "synthetic", "t", "cpu", "cpu", 256, {}, sweep=[_sweep_record("none", [True, False])])
    b = GateResult("g", "synthetic", "t", "cpu", "cpu", 256, {}, sweep=[_sweep_record("ratio", [True, True], 2.0)])
    merged = a.merge(b)
    assert [x.correction for x in merged.sweep] == ["none", "ratio"] and merged.ok
    merged.save(tmp_path / "r.json")
    assert GateResult.load(tmp_path / "r.json").sweep == merged.sweep
    assert not GateResult("g", "s", "t", "cpu", "cpu", 256, {}, sweep=[_sweep_record("none", [True, False], 2.0)]).ok


def _report_sweep(index) -> tuple[str, dict[str, float], dict[str, str]]:
    import re

    text = index.read_text(encoding="utf-8")
    section = text[text.index('<section id="sweep">'):text.index("</section>", text.index('<section id="sweep">'))]
    (svg,) = re.findall(r"<svg .*?</svg>", section, flags=re.S)
    cells = dict(re.findall(r'<td class="num safe" data-correction="([^"]+)">([^<]*)</td>', section))
    return section, _safe_marks(svg), cells


def _assert_report_matches_result(report_dir):
    """The page's rings and table cells show result.json's largest safe strengths."""
    from avatarcheck.gate.result import GateResult

    result = GateResult.load(report_dir / "result.json")
    _, marks, cells = _report_sweep(report_dir / "index.html")
    assert result.sweep
    assert marks == {x.correction: x.safe for x in result.sweep if x.safe is not None}
    assert cells == {x.correction: "—" if x.safe is None else f"{x.safe:g}" for x in result.sweep}
    return result


def test_the_report_has_a_sweep_section_only_when_swept(tmp_path):
    from avatarcheck.gate.result import GateResult
    from avatarcheck.report.html import write_report

    plain = write_report(GateResult("g", "s", "t", "cpu", "cpu", 256, {}), tmp_path / "a", link_latest=False)
    assert 'id="sweep"' not in plain.read_text(encoding="utf-8")
    swept = GateResult("g", "s", "t", "cpu", "cpu", 256, {}, sweep=[
        _sweep_record("none", [False, False]), _sweep_record("ratio", [True, True], 2.0),
        _sweep_record("boost", [True, False], 2.0)])
    index = write_report(swept, tmp_path / "b", link_latest=False)
    result = _assert_report_matches_result(tmp_path / "b")
    assert [x.ok for x in result.sweep] == [True, True, False]
    text = index.read_text(encoding="utf-8")
    assert "boost &lt;msg&gt;" in text.split('<section id="failures">')[1].split("</section>")[0]  # failures list it
    assert 'href="#sweep"' in text


# -- end to end: the gate's runners with --sweep / --gate-sweep -------------------------------------------

# A small sweep: two strengths, the pre-fix and the recipe's fix, at 160 px (below about 150 px the
# eye crops are too coarse for the lid checks to see the pre-fix artefact at all; with rigid eyeballs
# the uncorrected pear still holds at 2 there and fails at 3 on full-blink coverage).
SMALL_SWEEP = """
[tool.avatarcheck."three-moment".sweep]
strengths = [2.0, 3.0]
corrections = ["none", "ratio"]
image_size = 160
"""


def test_pytest_gate_sweep_under_xdist_merges_one_report_and_min_safe_fails_above_what_holds(pytester):
    from pathlib import Path

    # The recipe's artefact: without a pull-back the pear at strength 2 leaks (the gate's must-fail
    # variant), so "none must hold to 2" fails; the ratio is its fix and holds.
    pytester.makefile(".toml", pyproject=SMALL_SWEEP + "min_safe = { none = 3.0, ratio = 3.0 }\n"
                      "[tool.pytest.ini_options]\ngate_sweep = true\n")  # the ini key mirrors --gate-sweep
    report = pytester.path / "reports"
    result = pytester.runpytest_subprocess("--gate", "three-moment", "--gate-backend", "cpu", "-p", "no:cacheprovider",
                                          "--gate-report-dir", str(report), "-k", "sweep", "-n", "2")
    result.assert_outcomes(passed=1, failed=1)  # one item per correction, split over two workers, one report
    result.stdout.fnmatch_lines(["*sweep/pear/none: largest safe strength * below min_safe 3*"])
    gate = _assert_report_matches_result(Path(report) / "latest")
    by = {x.correction: x for x in gate.sweep}
    assert not by["none"].ok and by["none"].safe != 3.0 and by["ratio"].ok and by["ratio"].safe == 3.0
    assert not gate.ok and by["none"].image_size == 160
    # without the switch the default gate has no sweep items
    plain = pytester.runpytest_subprocess("--gate", "three-moment", "-p", "no:cacheprovider", "--collect-only", "-q",
                                         "-o", "gate_sweep=false")
    assert "sweep/" not in plain.stdout.str() and "pear/post-fix" in plain.stdout.str()


def test_cli_gate_sweep_writes_the_section_and_the_plot(tmp_path, monkeypatch):
    from pathlib import Path

    golden = Path(__file__).resolve().parents[1] / "golden"
    # Only the unedited reference besides the sweep, to stay fast; the sweep declares its own edit.
    (tmp_path / "pyproject.toml").write_text(
        '[tool.avatarcheck."three-moment"]\nedits = []\norderings = []\n'
        '[tool.avatarcheck."three-moment".gate]\ncurve_stride = 120\n'
        + SMALL_SWEEP + 'edit = "round"\nkind = "chibi"\npreset = "pear"\n')
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["gate", "--backend", "cpu", "--golden-dir", str(golden), "--sweep",
                                 "--report-dir", str(tmp_path / "reports")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "safe strength: round" in r.output and "(min 2)" in r.output  # the packaged min_safe ratio = 2 holds
    gate = _assert_report_matches_result(tmp_path / "reports" / "latest")
    assert [x.item_id for x in gate.sweep] == ["sweep/round/none", "sweep/round/ratio"] and gate.ok
    assert gate.checks and all(c.edit == "unedited" for c in gate.checks)


def test_gate_sweep_on_a_gate_without_a_sweep_is_a_usage_error(tmp_path):
    from pathlib import Path

    from avatarcheck.pytest_plugin import GateOptions, GateRun

    options = GateOptions("anime-eyes", "cpu", None, None, Path("golden"), False, tmp_path / "none.toml", False,
                          sweep=True)
    assert load_gate("anime-eyes").sweep is None
    with pytest.raises(InputError, match=r"sweep: expected a \[sweep\] table"):
        GateRun(options, tmp_path)
    GateRun(dataclasses.replace(options, sweep=False), tmp_path)  # without the switch the gate is fine


@pytest.mark.parametrize("policy", ["skip", "fail"])
def test_a_sweep_says_which_moments_went_unchecked_and_fails_for_them_when_the_gate_says_so(policy):
    """A take without one of the checked moments: the sweep cannot run that moment's checks. It says so
    in the item (and its record); with ``missing_moment = "fail"`` the item fails however safe the
    strengths look at the other moments. The renders are stubbed: every present moment passes."""
    from types import SimpleNamespace

    from avatarcheck.gate.sweep import sweep_gate, sweep_item

    spec = dataclasses.replace(load_gate("three-moment"), missing_moment=policy)
    s = spec.sweep
    sg = sweep_gate(spec, s.kind, s.params, s.strengths, s.corrections, s.image_size)
    checked = [m for m in sg.moments if any(m in c.moments for c in sg.checks)]
    lacking = checked[-1]
    good = {"leak_mean": 0.0, "leak_p99": 0.0, "leak_max": 0.0, "leak_area": 0.0, "coverage_min": 1.0,
            "coverage_p1": 1.0, "open_e_mean": 1.0}
    present = {m: object() for m in sg.moments if m != lacking}
    evals = {m: SimpleNamespace(metrics={"left": good, "right": good}) for m in present}
    ev = SimpleNamespace(spec=sg, inputs=SimpleNamespace(present=present), moment_evals=lambda e, c: evals,
                         frame_eval=lambda e, c, m: evals[m])
    item = sweep_item(ev, s, s.corrections[0])
    assert all(item.passed) and item.unchecked == [lacking]
    assert f"not checked at {lacking}" in item.message
    assert item.ok == (policy == "skip")
    # with every moment present nothing is unchecked and the item passes
    present[lacking] = object()
    full = sweep_item(ev, s, s.corrections[0])
    assert full.unchecked == [] and full.ok and "not checked" not in full.message
