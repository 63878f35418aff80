"""Audit 2026-12-05 (shared/audits/reliability-2026-12-05.md): N3 rich markup in user text, N5 `sweep`'s
options checked as a gate file's [sweep] table is, N8 `bake`'s edit options."""

from __future__ import annotations

import json
import re

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from avatarcheck.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "400"}  # long paths stay on one line

# Text rich would read as markup: a closing tag nothing opened (MarkupError) and a style (eaten).
MARKUP_NAMES = ["x[/red]y", "x[bold]y", "x[/]y", "x[link=a]y"]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


# -- N3: user text printed through rich ---------------------------------------------------------------

def test_the_error_printer_prints_the_error_text_as_it_is(capsys):
    from avatarcheck.cli.common import fail
    from avatarcheck.errors import InputError

    with pytest.raises(typer.Exit) as e:
        fail(InputError("a[/red]b[bold]c.csv", "gate.image_size", "[tool.avatarcheck.\"g\"] value", "[x]"))
    assert e.value.exit_code == 2
    assert 'a[/red]b[bold]c.csv: gate.image_size: expected [tool.avatarcheck."g"] value, got [x]' in \
        _flat(capsys.readouterr().out)


@pytest.mark.parametrize("name", MARKUP_NAMES)
@pytest.mark.parametrize("command", [
    lambda p: ["take", "inspect", f"{p}.csv"],
    lambda p: ["take", "convert", f"{p}.csv", "out.npz"],
    lambda p: ["take", "send", f"{p}.csv", "--port", "9"],
    lambda p: ["render", "--avatar", f"{p}.npz", "--size", "16", "--backend", "cpu"],
    lambda p: ["bake", "--mesh", f"{p}.obj"],
    lambda p: ["head", "info", "--avatar", f"{p}.npz"],
    lambda p: ["head", "export", "--avatar", f"{p}.npz", "--no-preview"],
    lambda p: ["avatar", "info", "--avatar", f"{p}.npz"],
])
def test_a_missing_file_with_markup_in_its_name_is_named_whole(tmp_path, monkeypatch, name, command):
    monkeypatch.chdir(tmp_path)
    args = command(name)
    r = runner.invoke(app, args, env=WIDE)
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)  # no MarkupError
    assert name in r.output, r.output


def test_a_missing_override_file_with_markup_in_its_name_is_named_whole(tmp_path):
    missing = str(tmp_path / "r[/x]a[bold]tio.npy")
    r = runner.invoke(app, ["render", "--size", "16", "--backend", "cpu", "--out", str(tmp_path / "o")],
                      env={**WIDE, "LAM_CHIBI_SCALE_RATIO": missing})
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), r.output
    assert missing in r.output


def test_written_paths_with_markup_are_printed_whole(tmp_path):
    src = tmp_path / "take.csv"
    r = runner.invoke(app, ["take", "synth", "--seed", "1", "--out", str(src)], env=WIDE)
    assert r.exit_code == 0, r.output
    for name in ("c[bold]x.npz", "d[/red]y.csv"):
        out = tmp_path / name
        r = runner.invoke(app, ["take", "convert", str(src), str(out)], env=WIDE)
        assert r.exit_code == 0 and out.exists(), r.output
        assert f"wrote {out}" in r.output
        r = runner.invoke(app, ["take", "inspect", str(out)], env=WIDE)
        assert r.exit_code == 0 and str(out) in r.output, r.output
    folder = tmp_path / "h[bold]ead"
    r = runner.invoke(app, ["head", "export", "--no-preview", "--out", str(folder)], env=WIDE)
    assert r.exit_code == 0 and str(folder / "head.obj") in r.output, r.output


def _options_with_brackets(command, path: tuple[str, ...] = ()):
    """(command path, option help) for every option whose help holds '[' (markup-looking text)."""
    if getattr(command, "commands", None):  # a group (typer's own, not click.Group)
        for name, sub in command.commands.items():
            yield from _options_with_brackets(sub, path + (name,))
        return
    for param in command.params:
        help_text = getattr(param, "help", None) or ""
        if re.search(r"\[[a-z#/@]", help_text):
            yield path, help_text


def test_help_texts_keep_their_brackets():
    """N3: `gate --help` showed 'read  overrides here' for 'read [tool.avatarcheck."<gate>"] overrides here'."""
    found = list(_options_with_brackets(typer.main.get_command(app)))
    assert found, "no option help has brackets any more: this test checks nothing"
    for path, help_text in found:
        r = runner.invoke(app, [*path, "--help"], env=WIDE, terminal_width=400)
        assert r.exit_code == 0, r.output
        assert _flat(help_text) in _flat(r.output), (path, help_text, r.output)


# -- N5: `avatarcheck sweep` validates before sweeping -------------------------------------------------

def _sweep(tmp_path, *args, env=None):
    out = tmp_path / "sweep"
    r = runner.invoke(app, ["sweep", "--backend", "cpu", "--out", str(out), *args], env={**WIDE, **(env or {})})
    return r, out


@pytest.mark.parametrize("args, option, words", [
    (["--edit", "bogus"], "--edit", "'bogus'"),
    (["--edit", "mesh"], "--edit", "strength"),
    (["--preset", "bogus"], "--preset", "'bogus'"),
    (["--edit", "anime_eyes", "--preset", "pear"], "--preset", "anime_eyes"),
    (["--strengths", "1_0"], "--strengths", "'1_0'"),
    (["--strengths", "\uff12"], "--strengths", "'\uff12'"),
    (["--strengths", "nan"], "--strengths", "'nan'"),
    (["--strengths", "1,,2"], "--strengths", "strengths"),
    (["--strengths", "3,1"], "--strengths", "ascending"),
    (["--strengths", "1,1"], "--strengths", "each once"),
    (["--strengths", "0,1"], "--strengths", "(0, 10]"),
    (["--strengths", "1,11"], "--strengths", "(0, 10]"),
    (["--strengths", ",".join(f"{0.1 * (i + 1):.1f}" for i in range(33))], "--strengths", "32"),
    (["--corrections", ""], "--corrections", "each once"),
    (["--corrections", "none,none"], "--corrections", "each once"),
    (["--corrections", "none,bogus"], "--corrections", "bogus"),
])
def test_bad_sweep_options_exit_2_before_sweeping(tmp_path, args, option, words):
    r, out = _sweep(tmp_path, *args)
    assert r.exit_code == 2, r.output
    assert f"{option}:" in r.output and words in r.output, r.output
    assert not out.exists()


@given(st.lists(st.floats(-1.0, 12.0, allow_nan=False), max_size=40))
def test_sweep_strengths_follow_the_gate_file_rule(values):
    """The command and a gate file's [sweep] accept the same strengths (one validator)."""
    from avatarcheck.cli.sweep import checked_sweep_options
    from avatarcheck.errors import InputError
    from avatarcheck.gate.sweep_spec import parse_sweep

    try:
        parse_sweep({"edit": "x", "kind": "chibi", "preset": "pear", "strengths": values}, "g.toml", (), 64)
        gate_ok = True
    except InputError:
        gate_ok = False
    try:
        _, got, _ = checked_sweep_options("chibi", None, ",".join(map(repr, values)), "none")
    except InputError as err:
        assert not gate_ok and err.source == "--strengths", str(err)
    else:
        assert gate_ok and got == values


def test_good_sweep_options_reach_the_sweep_as_given(tmp_path, monkeypatch):
    """The checked options are what is swept (the sweep itself replaced: its rendering is tested elsewhere)."""
    import avatarcheck.gate.sweep as sweep_module

    seen = {}

    def fake_sweep(spec, inputs, kind, params, strengths, corrections, backend):
        seen.update(kind=kind, params=dict(params), strengths=list(strengths), corrections=list(corrections))
        raise typer.Exit(code=7)  # stop here: nothing to chart

    monkeypatch.setattr(sweep_module, "sweep", fake_sweep)
    r, _ = _sweep(tmp_path, "--preset", "hourglass", "--strengths", " 0.5, 1,2.5 ", "--corrections", "none, ratio")
    assert r.exit_code == 7, r.output
    assert seen == {"kind": "chibi", "params": {"preset": "hourglass"}, "strengths": [0.5, 1.0, 2.5],
                    "corrections": ["none", "ratio"]}
    r, _ = _sweep(tmp_path, "--edit", "anime_eyes", "--strengths", "0.5")
    assert r.exit_code == 7, r.output
    assert seen["kind"] == "anime_eyes" and seen["params"] == {}


def test_sweep_notes_override_variables_it_does_not_apply(tmp_path):
    r, _ = _sweep(tmp_path, "--edit", "bogus", env={"LAM_CHIBI_SCALE_BOOST": "1.5",
                                                    "LAM_CHIBI_SCALE_RATIOS": "r.npy"})
    assert r.exit_code == 2
    text = _flat(r.output)
    assert "note: LAM_CHIBI_SCALE_BOOST set but not applied" in text, text
    assert "LAM_CHIBI_SCALE_RATIOS" in text and "LAM_CHIBI_SCALE_RATIO?" in text, text  # the typo's hint


# -- N8: `bake`'s edit options ------------------------------------------------------------------------

def _bake(tmp_path, *args):
    out = tmp_path / "baked"
    r = runner.invoke(app, ["bake", "--out", str(out), *args], env=WIDE)
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else None
    return r, manifest


def test_each_edit_kind_bakes_at_its_own_default_strength(tmp_path):
    """The README's `bake --edit anime_eyes` failed: chibi's 2.0 was applied to every kind."""
    from avatarcheck.edit.registry import edit_kind

    r, manifest = _bake(tmp_path, "--edit", "anime_eyes")
    assert r.exit_code == 0, r.output
    assert manifest["params"]["strength"] == edit_kind("anime_eyes").params["strength"][1] == 1.0


def test_chibi_bakes_the_pear_at_its_default_strength_unless_told(tmp_path):
    r, manifest = _bake(tmp_path)
    assert r.exit_code == 0, r.output
    assert manifest["params"]["preset"] == "pear" and manifest["params"]["strength"] == 2.0


@pytest.mark.parametrize("args, words", [
    (["--param", "strength=1_0"], ["strength", "'1_0'"]),
    (["--edit", "anime_eyes", "--param", "horizontal=1_5"], ["horizontal", "'1_5'"]),
    (["--param", "radial_peak=nan"], ["radial_peak", "'nan'"]),
    (["--strength", "1e308"], ["--strength", "'1e308'"]),
    (["--strength", "11"], ["--strength", "11"]),
    (["--strength", "-1"], ["--strength", "-1"]),
    (["--strength", "1_0"], ["--strength", "'1_0'"]),
    (["--strength", "nan"], ["--strength", "'nan'"]),
    (["--param", "strength=1e308"], ["--param", "strength"]),
    (["--preset", "pear", "--param", "preset=hourglass"], ["--preset", "preset=hourglass"]),
    (["--strength", "2", "--param", "strength=3"], ["--strength", "strength=3"]),
    (["--param", "strength=2", "--param", "strength=3"], ["--param", "strength", "once"]),
    (["--edit", "anime_eyes", "--preset", "pear"], ["--preset", "anime_eyes"]),
    (["--param", "strength"], ["--param", "KEY=VALUE"]),
])
def test_bad_edit_options_exit_2_naming_the_option_and_value(tmp_path, args, words):
    r, manifest = _bake(tmp_path, *args)
    assert r.exit_code == 2, r.output
    assert manifest is None
    for w in words:
        assert w in r.output, (w, r.output)
