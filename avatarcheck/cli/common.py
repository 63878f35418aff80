"""What every command-line module shares: one rich console and the exit-2 path for bad input."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console()


def fail(err: Exception) -> None:
    """Print ``err`` (unwrapped, so paths stay whole) and exit with status 2."""
    console.print(f"[red]error:[/red] {err}", soft_wrap=True)
    raise typer.Exit(code=2)
