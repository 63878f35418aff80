"""Command line: ``avatarcheck --help``. One module per command group; this file assembles them."""

from __future__ import annotations

import typer

from avatarcheck.cli.avatar import avatar_app
from avatarcheck.cli.catalogue import catalogue_cmd
from avatarcheck.cli.gate import gate_cmd
from avatarcheck.cli.head import head_app
from avatarcheck.cli.render import bake_cmd, render_cmd
from avatarcheck.cli.sweep import sweep_cmd
from avatarcheck.cli.take import take_app

# Help texts are plain text: with rich markup on, "[sweep]" or '[tool.avatarcheck."<gate>"]' in an option's
# help vanished (a style tag to rich). None of them uses markup, so none is parsed (every command's help).
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Verification harness for mesh-anchored Gaussian-splat head avatars.")


@app.callback()
def _startup() -> None:
    """One thread policy for every command (avatarcheck.threads: no oversubscription; AVATARCHECK_THREADS)."""
    from avatarcheck.threads import apply_thread_policy

    apply_thread_policy()


app.add_typer(avatar_app, name="avatar")
app.add_typer(head_app, name="head")
app.add_typer(take_app, name="take")
app.command("render")(render_cmd)
app.command("bake")(bake_cmd)
app.command("gate")(gate_cmd)
app.command("sweep")(sweep_cmd)
app.command("catalogue")(catalogue_cmd)


def main() -> None:  # pragma: no cover
    app()
