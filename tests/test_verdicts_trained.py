"""True verdicts on trained splats: checks relative to the unedited avatar, the head_holes check, the
must-fail variant's detection item, orderings with nothing to order; the trained stand-in end to end."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, strategies as st

from avatarcheck.errors import InputError
from avatarcheck.gate.session import GateSession
from avatarcheck.gate.spec import CheckSpec, load_gate

FAST_TRAINED = ('[tool.avatarcheck."three-moment".gate]\nimage_size = 128\ncurve_stride = 100000\n'
                '[tool.avatarcheck."three-moment".head_coverage]\nimage_size = 160\n')

values = st.floats(0.0, 1.0, allow_nan=False)


@given(op=st.sampled_from(["<=", ">="]), threshold=values, margin=st.floats(0.0, 0.5), unedited=values, value=values)
def test_the_bar_is_the_threshold_unless_the_unedited_avatar_is_beyond_it(op, threshold, margin, unedited, value):
    c = CheckSpec("c", "leak_max", op, threshold, ("full_blink",), margin)
    unedited_passes = unedited <= threshold if op == "<=" else unedited >= threshold
    if unedited_passes:
        expected_bar = threshold
    else:
        expected_bar = unedited + margin if op == "<=" else unedited - margin
    assert c.bar(unedited) == pytest.approx(expected_bar)
    assert c.passes(value, unedited) == (value <= expected_bar if op == "<=" else value >= expected_bar)
    # the unedited avatar always passes its own relative check
    assert c.passes(unedited, unedited)
    # without a margin (or without the unedited value) it is the plain threshold
    plain = dataclasses.replace(c, unedited_margin=None)
    assert plain.bar(unedited) == threshold and c.bar(None) == threshold


def _gate_file(tmp_path, extra: str) -> object:
    py = tmp_path / "pyproject.toml"
    py.write_text(extra)
    return load_gate("three-moment", py, pyproject_required=True)


def test_a_margin_on_a_face_statistic_or_a_negative_one_is_refused(tmp_path):
    table = '[[tool.avatarcheck."three-moment".checks]]\nname = "s"\nstat = "sharpness"\nop = ">="\n' \
            'threshold = 0.8\nmoments = ["eye_wide"]\nunedited_margin = 0.1\n'
    with pytest.raises(InputError, match="unedited_margin"):
        _gate_file(tmp_path, table)
    table = '[[tool.avatarcheck."three-moment".checks]]\nname = "l"\nstat = "leak_max"\nop = "<="\n' \
            'threshold = 0.1\nmoments = ["full_blink"]\nunedited_margin = -0.1\n'
    with pytest.raises(InputError, match="unedited_margin"):
        _gate_file(tmp_path, table)


def test_must_fail_checks_default_to_any_and_pinned_ones_stay(tmp_path):
    spec = load_gate("three-moment")
    assert spec.expected("pre-fix", "full_blink", "leak_max") == "any"
    assert spec.expected("post-fix", "full_blink", "leak_max") == "pass"
    assert spec.expected("boost", "eye_wide", "sharpness") == "any"
    pinned = _gate_file(tmp_path, '[tool.avatarcheck."three-moment".expect.boost.eye_wide]\nsharpness = "fail"\n')
    assert pinned.expected("boost", "eye_wide", "sharpness") == "fail"


@pytest.fixture(scope="module")
def trained_result(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trained")
    spec = _gate_file(tmp, FAST_TRAINED)
    session = GateSession(spec, tmp / "report", avatar="synthetic:lam-trained", backend="cpu",
                          golden_root=tmp / "golden")
    for step in session.steps():
        if "/golden" not in step.item_id:  # no goldens for the stand-in: the verdicts are the point
            step.run()
    return session.result()


def test_the_trained_stand_in_unedited_passes_and_its_leak_bars_come_from_itself(trained_result):
    r = trained_result
    baseline = [c for c in r.checks if c.variant == "baseline"]
    assert baseline and all(c.passed for c in baseline)
    # its thin lids leak beyond the absolute threshold: the bar is its own value plus the margin
    leak = next(c for c in baseline if c.item_id == "unedited/baseline/full_blink/leak_max")
    assert leak.unedited == pytest.approx(leak.value) and leak.value > 0.12
    assert leak.threshold == pytest.approx(leak.value + 0.05)
    assert r.closure["shares"] and not r.closure["failed"]  # the rig's blink closure is reported


@pytest.mark.parametrize("edit", ["pear", "hourglass"])
def test_pre_fix_is_detected_by_the_head_holes_and_post_fix_closes_them(trained_result, edit):
    r = trained_result
    by_id = {c.item_id: c for c in r.checks}
    detected = next(d for d in r.detections if d.item_id == f"{edit}/pre-fix/detected")
    assert detected.ok and f"{edit}/pre-fix/eye_wide/head_holes" in detected.failing
    assert by_id[f"{edit}/pre-fix/eye_wide/head_holes"].value > 0.03
    assert by_id[f"{edit}/post-fix/eye_wide/head_holes"].passed
    for c in r.checks:
        if (c.edit, c.variant) == (edit, "post-fix") and c.stat != "open_e_mean":
            assert c.passed, c.message
    head = next(h for h in r.heads if (h.edit, h.variant) == (edit, "pre-fix"))
    assert set(head.views) == {"front", "below"} and head.excess == pytest.approx(
        by_id[f"{edit}/pre-fix/eye_wide/head_holes"].value)


def test_an_ordering_with_nothing_to_order_is_skipped(trained_result):
    (skipped,) = [s for s in trained_result.skipped if s.item_id.startswith("ordering/")]
    assert "no artefact there to order" in skipped.reason and not skipped.failed
