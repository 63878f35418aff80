"""The safe-strength sweep: the rule, and the command on the embedded avatar."""

import json

from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from avatarcheck.cli import app
from avatarcheck.gate.sweep import largest_safe


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
