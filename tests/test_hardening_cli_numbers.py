"""Audit 2026-12-05 N5 / N8: one parser for numbers typed as text (avatarcheck.numbers), and where it is used."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from avatarcheck.errors import InputError
from avatarcheck.numbers import parse_int, parse_number, parse_numbers

_PLAIN_CHARS = set("0123456789+-.eE")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_float_round_trips_through_its_repr(x):
    assert parse_number(repr(x), "--x", "x") == x
    assert parse_number(f" {x!r}\t", "--x", "x") == x  # surrounding whitespace is not part of the number


@given(st.text(max_size=12))
def test_whatever_is_accepted_is_plain_ascii_and_agrees_with_float(text):
    try:
        value = parse_number(text, "--x", "x")
    except InputError as err:
        assert err.source == "--x" and err.field == "x" and repr(text) in str(err)
        return
    assert set(text.strip()) <= _PLAIN_CHARS and math.isfinite(value) and value == float(text)


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40))
def test_a_comma_separated_list_round_trips(values):
    assert parse_numbers(",".join(map(repr, values)), "--strengths", "strengths") == values


@pytest.mark.parametrize("text", ["1_0", "1_5", "\uff12", "\u0662", "nan", "NaN", "inf", "-inf", "Infinity", "",
                                  "  ", "1e400", "-1e400", "0x10", "1,5", "1.5.2", "e3", "1e", "+", ".", "1\n2",
                                  "１.5", "٣"])
def test_forms_float_would_take_or_that_are_no_number_are_refused(text):
    with pytest.raises(InputError) as err:
        parse_number(text, "--strength", "strength")
    assert err.value.source == "--strength" and err.value.field == "strength" and repr(text) in str(err.value)


@pytest.mark.parametrize("text, want", [("1", 1.0), ("-0.5", -0.5), ("+2", 2.0), (".5", 0.5), ("2.", 2.0),
                                        ("1e-3", 1e-3), ("1E+2", 100.0), (" 3 ", 3.0), ("1e308", 1e308)])
def test_plain_decimals_are_read(text, want):
    assert parse_number(text, "s", "f") == want


@pytest.mark.parametrize("text", ["", "1,,2", "1,", ",1", "1_0,2", "1;2", "nan,1"])
def test_bad_lists_are_refused_naming_the_option(text):
    with pytest.raises(InputError, match="--strengths: strengths: expected"):
        parse_numbers(text, "--strengths", "strengths")


@given(st.integers(-10 ** 30, 10 ** 30))
def test_integers_round_trip(n):
    assert parse_int(str(n), "--n", "n") == n


@pytest.mark.parametrize("text", ["1_000", "1.0", "\uff11", "", "1e3", "nan"])
def test_integers_refuse_other_forms(text):
    with pytest.raises(InputError, match="--n: n: expected"):
        parse_int(text, "--n", "n")


@pytest.mark.parametrize("raw", ["1_5", "\uff12", "nan", "inf", "1e400", ""])
def test_the_override_layer_uses_the_same_rule(raw):
    from avatarcheck.edit.overrides import OverrideSettings

    if not raw:  # empty means "not set" for an environment variable
        assert OverrideSettings.from_env({"LAM_CHIBI_SCALE_BOOST": raw}).scale_boost is None
        return
    with pytest.raises(InputError, match=r"\$LAM_CHIBI_SCALE_BOOST: scale_boost"):
        OverrideSettings.from_env({"LAM_CHIBI_SCALE_BOOST": raw})
    assert OverrideSettings.from_env({"LAM_CHIBI_SCALE_BOOST": " 1.5 "}).scale_boost == 1.5
