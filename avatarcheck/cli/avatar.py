"""``avatarcheck avatar``: what an avatar input is (source, files, splat statistics) and writing it in LAM's formats."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from avatarcheck.cli.common import AVATAR_HELP, PLY_LAYOUT_HELP, checked_ply_layout, console
from avatarcheck.cli.common import fail as _fail
from avatarcheck.errors import InputError

avatar_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                        help="Avatar inputs: inspect one, write one in LAM's formats.")

FORMATS = ("oac", "lam-infer")


def _load(avatar: Optional[str], ply_layout: str):
    from avatarcheck.sources import LoadOptions, load_avatar_source

    return load_avatar_source(avatar, LoadOptions(ply_layout=checked_ply_layout(ply_layout)))


@avatar_app.command("info")
def avatar_info(avatar: Optional[str] = typer.Option(None, help=AVATAR_HELP),
                ply_layout: str = typer.Option("auto", help=PLY_LAYOUT_HELP)) -> None:
    """Which source reads the avatar, the files it read, its splat statistics and whether they are plausible
    for a trained LAM avatar (exit 1 when implausible)."""
    from avatarcheck.splats.plausibility import PLAUSIBLE_RANGES, cloud_statistics, implausible

    try:
        loaded = _load(avatar, ply_layout)
    except (InputError, OSError) as err:
        _fail(err)
    a, info = loaded.avatar, loaded.info
    console.print(f"[bold]{escape(loaded.name)}[/bold]: {info.kind} source, {a.head_sub.num_vertices} splats on "
                  f"{a.head.num_vertices} coarse vertices", soft_wrap=True)
    for f in info.files:
        console.print(f"  file: {escape(f)}", soft_wrap=True)
    for note in info.notes:
        console.print(f"  {escape(note)}", soft_wrap=True)
    stats = cloud_statistics(a.cloud, a.head_sub, a.topology.edges_sub)
    table = Table(title="splat statistics (trained LAM range)")
    for col in ("statistic", "value", "plausible range"):
        table.add_column(col)
    for key, value in stats.as_dict().items():
        lo_hi = PLAUSIBLE_RANGES.get(key)
        table.add_row(key, f"{value:.4g}", "-" if lo_hi is None else f"[{lo_hi[0]:g}, {lo_hi[1]:g}]")
    console.print(table)
    findings = implausible(stats)
    for f in findings:
        console.print(f"[red]implausible:[/red] {escape(f.message)}", soft_wrap=True)
    console.print("[red]implausible for a trained LAM avatar[/red]" if findings else "[green]plausible[/green]")
    raise typer.Exit(code=1 if findings else 0)


@avatar_app.command("export")
def avatar_export(out: Path = typer.Option(..., help="output: a .zip or a folder (oac), a folder (lam-infer)"),
                  avatar: Optional[str] = typer.Option(None, help=AVATAR_HELP),
                  format: str = typer.Option("oac", "--format", help="oac (LAM's OpenAvatarChat zip) | lam-infer "
                                             "(mesh .obj + _gs_offset.ply + FLAME head .npz)"),
                  name: Optional[str] = typer.Option(None, help="the avatar's name in the files (default: the "
                                                     "name of --out)"),
                  ply_layout: str = typer.Option("auto", help=PLY_LAYOUT_HELP)) -> None:
    """Write the avatar in one of LAM's formats (readable again with --avatar OUT)."""
    from avatarcheck.export.lam_infer import write_lam_infer
    from avatarcheck.export.oac import write_oac
    from avatarcheck.sources.base import avatar_name, safe_stem
    from avatarcheck.io.atomic import check_output_dir, check_output_file

    try:
        if format not in FORMATS:
            raise InputError("--format", "format", " | ".join(FORMATS), repr(format))
        if format == "oac" and out.suffix.lower() == ".zip":
            check_output_file(out)
        else:
            check_output_dir(out)
        loaded = _load(avatar, ply_layout)
        stem = safe_stem(name, "avatar") if name else avatar_name(out)
        written = (write_oac if format == "oac" else write_lam_infer)(loaded.avatar, out, stem)
    except (InputError, OSError) as err:
        _fail(err)
    console.print(escape(f"wrote {written} ({format}); gate it with: avatarcheck gate --avatar {written}"),
                  soft_wrap=True)
