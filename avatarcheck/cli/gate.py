"""``avatarcheck gate``: run a gate and write its HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from avatarcheck.cli.common import AVATAR_HELP, PLY_LAYOUT_HELP, checked_ply_layout, console, print_unapplied_overrides
from avatarcheck.cli.common import fail as _fail
from avatarcheck.errors import InputError
from avatarcheck.render.backend import backend_names

if TYPE_CHECKING:
    from avatarcheck.gate.result import GateResult
    from avatarcheck.gate.session import GateSession
    from avatarcheck.gate.spec import GateSpec


def gate_cmd(
    gate: str = typer.Option("three-moment", help="gate name (packaged TOML, overridable from pyproject)"),
    backend: str = typer.Option("auto", help="a render backend: " + " | ".join(backend_names())),
    avatar: Optional[str] = typer.Option(None, help=AVATAR_HELP),
    ply_layout: str = typer.Option("auto", help=PLY_LAYOUT_HELP),
    take: Optional[str] = typer.Option(None, help="Live Link Face .csv/.npz, or synthetic:SEED (default: the gate's)"),
    golden_update: bool = typer.Option(False, "--golden-update", help="write new golden images"),
    golden_dir: Path = typer.Option(Path("golden"), help="golden image root (the embedded avatar's goldens ship with "
                                    "the package: used when this root has none)"),
    report_dir: Path = typer.Option(Path("reports"), help="reports go to DIR/<timestamp>-<gate>/ and DIR/latest"),
    # Help texts are plain text (the app's rich_markup_mode=None, cli/__init__.py): "[sweep]" stays as written.
    pyproject: Optional[Path] = typer.Option(None, help="read [tool.avatarcheck.\"<gate>\"] overrides here "
                                             "(default: ./pyproject.toml when present)"),
    allow_implausible: bool = typer.Option(False, "--allow-implausible", help="gate an avatar whose splat "
                                           "statistics are far outside a trained LAM avatar's (verdicts are "
                                           "withheld otherwise)"),
    sweep: bool = typer.Option(False, "--sweep", help="also run the gate's [sweep]: the largest edit strength each "
                               "correction still passes at (slow; off by default)"),
) -> None:
    """Run a gate on an avatar and a take, write the HTML report; exit 1 when it fails."""
    from avatarcheck.gate.golden import GoldenSet, finish_update
    from avatarcheck.report.html import write_report

    _note_ambient_overrides()
    try:
        spec = _load_gate_for_run(gate, pyproject, report_dir, golden_dir)
        layout = checked_ply_layout(ply_layout)
        session = _open_session(spec, report_dir, avatar=avatar, take=take, backend=backend, golden_root=golden_dir,
                                golden_update=golden_update, sweep=sweep, ply_layout=layout,
                                allow_implausible=allow_implausible)
        result = _run_with_progress(session)
        if golden_update and result.golden_set:  # last: the set's manifest says the update finished
            finish_update(GoldenSet.from_dict(result.golden_set))
        index = write_report(result, session.report_dir)
    except (InputError, OSError) as err:
        _fail(err)
    _print_outcome(spec.name, result, index)
    raise typer.Exit(code=0 if result.ok else 1)


def _note_ambient_overrides() -> None:
    """Say which ``LAM_*`` override variables are set (the gate's variants declare their overrides; an
    ambient edit would be applied twice), whether a value would be refused, and mistyped names."""
    print_unapplied_overrides("the gate renders the variants its gate file declares")


def _load_gate_for_run(gate: str, pyproject: Path | None, report_dir: Path, golden_dir: Path) -> GateSpec:
    """The gate with its pyproject overrides (``./pyproject.toml`` when present, unless one is named), once
    the report and golden roots are known to be folders (or paths to create them)."""
    from avatarcheck.gate.spec import load_gate

    spec = load_gate(gate, pyproject if pyproject is not None else Path("pyproject.toml"),
                     pyproject_required=pyproject is not None)
    for folder, what in ((report_dir, "--report-dir"), (golden_dir, "--golden-dir")):
        if folder.exists() and not folder.is_dir():
            raise InputError(folder, what, "a folder (or a path to create one)", "an existing file")
    return spec


def _open_session(spec: GateSpec, report_dir: Path, **session_options: Any) -> GateSession:
    """A ``GateSession`` (``session_options``: its keyword arguments) writing to a new report folder."""
    from avatarcheck.gate.session import GateSession
    from avatarcheck.report.html import create_report_dir

    # spec.name: the checked name (a --gate path's stem), never the raw argument (N4).
    folder = create_report_dir(report_dir, spec.name)
    try:
        return GateSession(spec, folder, **session_options)
    except BaseException:
        folder.rmdir()  # a usage error (backend, sweep): nothing was written, leave no empty report
        raise


def _run_with_progress(session: GateSession) -> GateResult:
    """Every step of the session, with a transient progress bar naming the current item."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    name = session.spec.name
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"gate {name}", total=len(session.steps()))

        def step(description: str) -> None:
            progress.update(task, advance=1, description=escape(f"{name}: {description}"))

        return session.run_all(step)


def _print_outcome(name: str, result: GateResult, index: Path) -> None:
    """The console summary: the avatar, the verdict table, the sweep, what failed, where things went."""
    print_avatar_check(result)
    console.print(_verdict_table(name, result))
    if result.sweep:
        _print_sweep(result)
    _print_problems(result)
    if result.golden_set:
        g = result.golden_set
        console.print(escape(f"goldens: {g['source']} ({Path(g['root']) / g['folder']}, {g['backend']})"),
                      soft_wrap=True)
    console.print(escape(f"report: {index}"), soft_wrap=True)
    console.print(escape(f"gate {name}: ") + ("[green]PASS[/green]" if result.ok else "[red]FAIL[/red]"))


def _verdict_table(name: str, result: GateResult) -> Table:
    """One row per check, ordering, golden and skipped item, with its value and whether it is ok."""
    table = Table(title=escape(f"gate {name} on {result.avatar} ({result.backend}, take {result.take})"))
    for col in ("item", "value", "expected", "ok"):
        table.add_column(col)
    for c in result.checks:
        table.add_row(escape(c.item_id), f"{c.value:.4f} {c.op} {c.threshold:g}", c.expected,
                      "[green]ok[/green]" if c.ok else "[red]FAIL[/red]")
    for o in result.orderings:
        table.add_row(escape(o.item_id), f"{o.greater_value:.4f} > {o.lesser_value:.4f}", "pass",
                      "[green]ok[/green]" if o.ok else "[red]FAIL[/red]")
    for g in result.goldens:
        table.add_row(escape(g.item_id), g.status, "pass", "[green]ok[/green]" if g.status in ("pass", "updated") else
                      "[red]FAIL[/red]")
    for k in result.skipped:
        table.add_row(escape(k.item_id), "-", "pass",
                      "[red]FAIL (missing moment)[/red]" if k.failed else "[dim]skipped[/dim]")
    return table


def _print_sweep(result: GateResult) -> None:
    """The sweep's safe strength per correction."""
    from avatarcheck.cli.sweep import safe_strength_table

    s = result.sweep[0]
    console.print(safe_strength_table(
        escape(f"safe strength: {s.sweep} ({s.kind} {s.params}, {s.image_size} px)"), s.strengths,
        [(x.correction, x.passed, x.worst, x.safe, x.min_safe) for x in result.sweep]))


def _print_problems(result: GateResult) -> None:
    """What was skipped (once, with the first reason) and the message of every failed item."""
    from avatarcheck.gate.session import MOMENTS_ITEM

    skipped = [k for k in result.skipped if not k.failed]
    for k in skipped[:1]:
        console.print(f"[yellow]{len(skipped)} item(s) skipped: {escape(k.reason)}[/yellow]", soft_wrap=True)
    for c in [c for c in result.checks if not c.ok] + [o for o in result.orderings if not o.ok]:
        console.print(f"[red]{escape(c.message)}[/red]")
    missing = [g for g in result.goldens if g.status == "missing"]
    if missing:  # one command writes them all (a new avatar or take has none): say it once, not once per image
        more = f"{len(missing)} golden images are missing; the first: " if len(missing) > 1 else ""
        console.print(f"[red]{escape(more + missing[0].message)}[/red]")
    for g in [g for g in result.goldens if g.status not in ("pass", "updated", "missing")]:
        console.print(f"[red]{escape(g.message)}[/red]")
    for x in [x for x in result.sweep if not x.ok]:
        console.print(f"[red]{escape(x.message)}[/red]")
    for k in [k for k in result.skipped if k.failed and k.item_id == MOMENTS_ITEM]:
        console.print(f"[red]{escape(k.reason)}[/red]", soft_wrap=True)
    if result.checked_nothing and not any(k.item_id == MOMENTS_ITEM for k in result.skipped):
        console.print("[red]no check, ordering or golden was evaluated: the gate checked nothing[/red]")


def print_avatar_check(result) -> None:
    """Where the avatar came from, and its plausibility findings, before the verdicts."""
    from rich.markup import escape

    from avatarcheck.gate.avatar_check import edited_warning

    src = result.source
    if src:
        console.print(f"avatar: {escape(src.get('spec', ''))} ({src.get('kind')})", soft_wrap=True)
        for note in src.get("notes", []):
            console.print(f"  {escape(note)}", soft_wrap=True)
        warning = edited_warning(src, result.notes)
        if warning:
            console.print(f"[yellow]{escape(warning)}[/yellow]", soft_wrap=True)
    check = result.avatar_check
    if check.get("implausible"):
        how = "gated anyway (--allow-implausible)" if check.get("allowed") else "verdicts withheld"
        console.print(f"[red]implausible avatar ({how}):[/red]", soft_wrap=True)
        for f in check["findings"]:
            console.print(f"  [red]{escape(f['message'])}[/red]", soft_wrap=True)
    closure = result.closure
    if closure:
        colour = "red" if closure["failed"] else "dim"
        rows = "; ".join(f"{name}: left {_share(r['left'])}, right {_share(r['right'])}"
                         for name, r in closure["shares"].items())
        console.print(f"[{colour}]blink closure at mesh level ({escape(closure['rig'])}), share of each eyeball "
                      f"still visible: {escape(rows)}[/{colour}]", soft_wrap=True)


def _share(x) -> str:
    return "-" if x is None else f"{x:.3f}"
