"""``avatarcheck catalogue``: gate every avatar x edit x take of a catalogue, resumably, locally or on Dask."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from avatarcheck.cli.common import PLY_LAYOUT_HELP, checked_ply_layout, console
from avatarcheck.cli.common import fail as _fail
from avatarcheck.errors import InputError
from avatarcheck.render.backend import backend_names

PATHS_HELP = ("avatars: LAM OAC zips or folders, folders of them, globs ('avatars/*.zip', quoted), synthetic[:flavour], "
              "or a manifest .toml listing avatars, edits and takes")
MAX_LISTED = 12


def catalogue_cmd(
    paths: List[str] = typer.Argument(..., help=PATHS_HELP),
    gate: str = typer.Option("three-moment", help="gate name (packaged TOML, overridable from pyproject) or file"),
    pyproject: Optional[Path] = typer.Option(None, help="read [tool.avatarcheck.\"<gate>\"] overrides here "
                                             "(default: ./pyproject.toml when present)"),
    edit: List[str] = typer.Option([], "--edit", help="a gate edit to gate (repeat; default: the manifest's, "
                                   "else every edit of the gate)"),
    take: List[str] = typer.Option([], "--take", help="a Live Link Face .csv/.npz or synthetic:SEED (repeat; "
                                   "default: the manifest's, else the gate's)"),
    out: Path = typer.Option(Path("reports/catalogue"), help="output folder: items/<key>/ per item, summary.json, "
                             "index.html; a rerun into it skips what is done"),
    workers: int = typer.Option(1, min=1, help="worker processes on this machine (numba/torch threads each: "
                                "cores // workers); with --cluster local, the local Dask cluster's workers"),
    cluster: Optional[str] = typer.Option(None, help="a Dask scheduler address (tcp://HOST:8786), or 'local' for "
                                          "a local Dask cluster (needs the cluster extra)"),
    gpu: bool = typer.Option(False, "--gpu", help="with --cluster: each avatar's task asks for the Dask worker "
                             "resource GPU=1 (start GPU workers with --resources GPU=1); backend auto means cuda"),
    backend: str = typer.Option("auto", help="a render backend: " + " | ".join(backend_names()) + " (auto is "
                                "decided once, here)"),
    ply_layout: str = typer.Option("auto", help=PLY_LAYOUT_HELP),
    allow_implausible: bool = typer.Option(False, "--allow-implausible", help="gate avatars whose splat "
                                           "statistics are far outside a trained LAM avatar's"),
    golden_dir: Optional[Path] = typer.Option(None, help="compare goldens under this root (default: goldens are "
                                              "not compared)"),
    rerun: bool = typer.Option(False, "--rerun", help="gate every item again, even those done"),
) -> None:
    """Gate a catalogue; write each item's report and one summary (OUT/index.html, OUT/summary.json); exit 1
    when an item fails or errs."""
    from avatarcheck.catalogue import Engine, Settings, discover

    try:
        if gpu and not cluster:
            raise InputError("--gpu", "option", "--cluster ADDRESS too (GPU workers are Dask resources)", "no --cluster")
        spec = _load_gate(gate, pyproject, out, golden_dir)
        found = discover(paths)
        settings = Settings(spec, str(out.absolute()), _backend(backend, cluster, gpu),
                            allow_implausible=allow_implausible, ply_layout=checked_ply_layout(ply_layout),
                            golden_dir=str(golden_dir.absolute()) if golden_dir else None, rerun=rerun)
        outcome = _run_with_progress(found, settings, edit, take, Engine(workers, cluster, gpu))
    except (InputError, OSError) as err:
        _fail(err)
    _print_outcome(outcome)
    raise typer.Exit(code=0 if outcome.ok else 1)


def _load_gate(gate: str, pyproject: Path | None, out: Path, golden_dir: Path | None):
    """The gate, once the output and golden folders are known to be folders (``avatarcheck gate``'s checks)."""
    from avatarcheck.cli.gate import _load_gate_for_run

    return _load_gate_for_run(gate, pyproject, out, golden_dir if golden_dir is not None else out)


def _backend(name: str, cluster: str | None, gpu: bool) -> str:
    """The backend every item uses. Locally it is resolved (and checked) here; on a cluster a named one is
    checked on the workers (this machine may have no GPU), and ``auto`` means cuda with ``--gpu``."""
    from avatarcheck.render.backend import AUTO, BACKENDS, resolve_backend

    if cluster and cluster != "local":
        if name == AUTO and gpu:
            return "cuda"
        if name != AUTO:
            if name not in BACKENDS:
                raise InputError("--backend", "backend", f"one of {backend_names()}", repr(name))
            return name
    return resolve_backend(name).name


def _run_with_progress(found, settings, edits, takes, engine):
    """``run_catalogue`` with a transient progress bar over the items."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from avatarcheck.catalogue import Observer, run_catalogue

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"catalogue ({engine.describe()})", total=None)

        class _Bar(Observer):
            def planned(self, total: int, done: int) -> None:
                progress.update(task, total=total, completed=done)

            def rows(self, rows: list[dict[str, Any]]) -> None:
                last = rows[-1] if rows else None
                text = f"{last['avatar']} / {last['edit']}: {last['verdict']}" if last else "catalogue"
                progress.update(task, advance=len(rows), description=escape(text))

        return run_catalogue(found, settings, edits=edits, takes=takes, engine=engine, observer=_Bar())


def _print_outcome(outcome) -> None:
    """Counts, the items that did not pass (the first few), and where the summary is."""
    from avatarcheck.catalogue.summary import counts

    c = counts(outcome.rows)
    bad = [r for r in outcome.rows if r["verdict"] != "pass"]
    if bad:
        table = Table(title=f"{len(bad)} item(s) not passing")
        for col in ("avatar", "edit", "take", "verdict", "why"):
            table.add_column(col)
        for r in bad[:MAX_LISTED]:
            why = r["error"] or "; ".join(r["problems"][:3])
            table.add_row(escape(r["avatar"]), escape(r["edit"]), escape(r["take"]), f"[red]{r['verdict']}[/red]",
                          escape(why))
        console.print(table)
    console.print(f"{c['items']} item(s): [green]{c['pass']} pass[/green], {c['fail']} fail, {c['error']} error"
                  + (f" ({c['resumed']} done by an earlier run)" if c["resumed"] else ""))
    console.print(escape(f"summary: {outcome.index} ({outcome.summary.name} beside it)"), soft_wrap=True)
    console.print("catalogue: " + ("[green]PASS[/green]" if outcome.ok else "[red]FAIL[/red]"))
