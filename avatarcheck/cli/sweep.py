"""``avatarcheck sweep``: the largest edit strength each correction still closes the lids at."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from avatarcheck.cli.common import AVATAR_HELP, PLY_LAYOUT_HELP, checked_ply_layout, console
from avatarcheck.cli.common import fail as _fail
from avatarcheck.errors import InputError
from avatarcheck.render.backend import backend_names


def safe_strength_table(title: str, strengths: Sequence[float],
                        rows: Sequence[tuple[str, Sequence[bool], Sequence[str], float | None, float | None]]) -> Table:
    """Rows of (correction, passed per strength, why per strength, largest safe, min_safe or None)."""
    table = Table(title=title)
    table.add_column("correction")
    for s in strengths:
        table.add_column(f"s={s:g}", justify="center")
    table.add_column("largest safe", justify="right")
    for c, passed, worst, safe, need in rows:
        cells = ["[green]pass[/green]" if ok else f"[red]{why}[/red]" for ok, why in zip(passed, worst)]
        text = "-" if safe is None else f"{safe:g}"
        if need is not None:
            ok = safe is not None and safe >= need
            text += f" [{'green' if ok else 'red'}](min {need:g})[/{'green' if ok else 'red'}]"
        table.add_row(c, *cells, text)
    return table


def sweep_cmd(
    edit: str = typer.Option("chibi", help="edit kind (avatarcheck.edit.registry)"),
    preset: Optional[str] = typer.Option("pear", help="chibi: pear | hourglass"),
    strengths: str = typer.Option("0.5,1,1.5,2,2.5,3", help="comma-separated strengths, ascending"),
    corrections: str = typer.Option("none,boost,ratio,jacobian,ratio+lash_ring", help="comma-separated corrections"),
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
    from avatarcheck.gate.sweep import CORRECTIONS, leak_threshold, sweep, unchecked_text
    from avatarcheck.io.atomic import check_output_dir, write_text_atomic
    from avatarcheck.render.backend import resolve_backend
    from avatarcheck.report.plots import sweep_chart_svg

    try:
        check_output_dir(out)
        try:
            values = [float(s) for s in strengths.split(",") if s.strip()]
        except ValueError:
            raise InputError("--strengths", "strengths", "comma-separated numbers", repr(strengths)) from None
        if not values or any(not 0 < v <= 10 for v in values):
            raise InputError("--strengths", "strengths", "numbers in (0, 10]", repr(strengths))
        chosen = [c.strip() for c in corrections.split(",") if c.strip()]
        for c in chosen:
            if c not in CORRECTIONS:
                raise InputError("--corrections", c, f"one of {list(CORRECTIONS)}", repr(c))
        spec = load_gate(gate, Path("pyproject.toml"))
        inputs = load_inputs(avatar or spec.avatar, take or spec.take, spec.moments, spec.moment_params,
                             LoadOptions(ply_layout=checked_ply_layout(ply_layout)))
        params = {"preset": preset} if edit == "chibi" and preset else {}
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
    console.print(safe_strength_table(f"safe strength: {edit} {params}, gate {gate}, take {inputs.take.source}",
                                      result.strengths, [(c, result.passed[c], result.worst[c], result.safe[c], None)
                                                         for c in chosen]))
    if result.unchecked:
        console.print(f"[yellow]{unchecked_text(result.unchecked)}, so a strength that passes here passed "
                      f"only the checks at the other moments[/]")
    console.print(f"wrote {out / 'sweep.json'} and {out / 'sweep.svg'}")
