"""``avatarcheck sweep``: the largest edit strength each correction still closes the lids at."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from avatarcheck.cli.common import (AVATAR_HELP, DEFAULT_PRESET, PLY_LAYOUT_HELP, checked_ply_layout, console,
                                    print_unapplied_overrides)
from avatarcheck.cli.common import fail as _fail
from avatarcheck.errors import InputError
from avatarcheck.numbers import parse_numbers
from avatarcheck.render.backend import backend_names

# The gate file's [sweep] keys the command's options stand for (errors name the option instead).
_OPTION_OF_KEY = {"sweep.kind": "--edit", "sweep.edit": "--edit", "sweep.preset": "--preset",
                  "sweep.strengths": "--strengths", "sweep.corrections": "--corrections"}


def safe_strength_table(title: str, strengths: Sequence[float],
                        rows: Sequence[tuple[str, Sequence[bool], Sequence[str], float | None, float | None]]) -> Table:
    """Rows of (correction, passed per strength, why per strength, largest safe, min_safe or None)."""
    table = Table(title=title)
    table.add_column("correction")
    for s in strengths:
        table.add_column(f"s={s:g}", justify="center")
    table.add_column("largest safe", justify="right")
    for c, passed, worst, safe, need in rows:
        cells = ["[green]pass[/green]" if ok else f"[red]{escape(why)}[/red]" for ok, why in zip(passed, worst)]
        text = "-" if safe is None else f"{safe:g}"
        if need is not None:
            ok = safe is not None and safe >= need
            text += f" [{'green' if ok else 'red'}](min {need:g})[/{'green' if ok else 'red'}]"
        table.add_row(escape(c), *cells, text)
    return table


def sweep_cmd(
    edit: str = typer.Option("chibi", help="edit kind (avatarcheck.edit.registry)"),
    preset: Optional[str] = typer.Option(None, help="chibi: pear (the default) | hourglass"),
    strengths: str = typer.Option("0.5,1,1.5,2,2.5,3", help="comma-separated strengths, ascending, each once, "
                                  "in (0, 10], at most 32"),
    corrections: str = typer.Option("none,boost,ratio,jacobian,ratio+lash_ring",
                                    help="comma-separated corrections, each once"),
    gate: str = typer.Option("three-moment", help="the gate whose checks and moments decide"),
    take: Optional[str] = typer.Option(None, help="take (default: the gate's)"),
    avatar: Optional[str] = typer.Option(None, help=AVATAR_HELP),
    ply_layout: str = typer.Option("auto", help=PLY_LAYOUT_HELP),
    backend: str = typer.Option("auto", help="a render backend: " + " | ".join(backend_names())),
    out: Path = typer.Option(Path("out/sweep"), help="folder for sweep.json and sweep.svg"),
) -> None:
    """Sweep an edit's strength per correction; print and save the largest strength that passes every check."""
    from avatarcheck.gate.inputs import load_inputs
    from avatarcheck.sources.base import LoadOptions
    from avatarcheck.gate.spec import load_gate
    from avatarcheck.gate.sweep import leak_threshold, sweep, unchecked_text
    from avatarcheck.io.atomic import check_output_dir, write_text_atomic
    from avatarcheck.render.backend import resolve_backend
    from avatarcheck.report.plots import sweep_chart_svg

    # the sweep renders its own variants: ambient LAM_* variables would not reach them (as in `gate`)
    print_unapplied_overrides("the sweep renders the corrections it sweeps")
    try:
        check_output_dir(out)
        params, values, chosen = checked_sweep_options(edit, preset, strengths, corrections)
        spec = load_gate(gate, Path("pyproject.toml"))
        inputs = load_inputs(avatar or spec.avatar, take or spec.take, spec.moments, spec.moment_params,
                             LoadOptions(ply_layout=checked_ply_layout(ply_layout)))
        with console.status(f"sweeping {len(values)} strengths x {len(chosen)} corrections"):
            result = sweep(spec, inputs, edit, params, values, chosen, resolve_backend(backend).name)
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "sweep.json", json.dumps(dataclasses.asdict(result), indent=1) + "\n")
        # The same chart as the gate report's sweep section (standalone: the file needs its namespace).
        svg = sweep_chart_svg(result.strengths, result.leak_max, result.passed, result.safe,
                              threshold=leak_threshold(spec), title=f"leak max vs strength, {edit} {params}",
                              chart_id="sweep")
        write_text_atomic(out / "sweep.svg", svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
    except (InputError, OSError) as err:
        _fail(err)
    title = escape(f"safe strength: {edit} {params}, gate {gate}, take {inputs.take.source}")
    rows = [(c, result.passed[c], result.worst[c], result.safe[c], None) for c in chosen]
    console.print(safe_strength_table(title, result.strengths, rows))
    if result.unchecked:
        console.print(f"[yellow]{escape(unchecked_text(result.unchecked))}, so a strength that passes here passed "
                      f"only the checks at the other moments[/]", soft_wrap=True)
    console.print(f"wrote {escape(str(out / 'sweep.json'))} and {escape(str(out / 'sweep.svg'))}", soft_wrap=True)


def checked_sweep_options(edit: str, preset: str | None, strengths: str,
                          corrections: str) -> tuple[dict[str, object], list[float], list[str]]:
    """(the edit's parameters, the strengths, the corrections) after the checks a gate file's ``[sweep]``
    table gets (``gate.sweep_spec.parse_sweep``: a registered kind with a strength, its own parameter
    checks, 1 to 32 strengths in (0, 10] ascending and each once, known corrections each once), so the
    command and the gate file follow one rule. Errors name the option."""
    from avatarcheck.edit.base import REQUIRED
    from avatarcheck.edit.registry import edit_kind
    from avatarcheck.gate.sweep_spec import parse_sweep

    values = parse_numbers(strengths, "--strengths", "strengths")
    chosen = [c.strip() for c in corrections.split(",")] if corrections.strip() else []
    kind = edit_kind(edit, "--edit", "edit")
    params: dict[str, object] = {}
    if "preset" in kind.params:
        if preset is not None or kind.params["preset"][1] is REQUIRED:
            params["preset"] = DEFAULT_PRESET if preset is None else preset
    elif preset is not None:
        raise InputError("--preset", "preset", f"an option of an edit kind with a preset (edit kind {edit!r} "
                         f"has {', '.join(sorted(kind.params))})", repr(preset))
    table = {"edit": edit, "kind": edit, "strengths": values, "corrections": chosen, **params}
    try:
        parse_sweep(table, "avatarcheck sweep", (), max_image_size=1)  # image_size is not set here
    except InputError as err:
        option = _OPTION_OF_KEY.get(err.field)
        if option is None:
            raise
        raise InputError(option, err.field.removeprefix("sweep."), err.expected, err.got) from None
    return params, values, chosen
