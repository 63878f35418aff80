"""What every command-line module shares: one rich console and the exit-2 path for bad input.

The console reads markup (``[red]...[/red]``), so text the user controls (paths, names, error messages
quoting them) goes through ``rich.markup.escape`` before it is printed: ``x[/red]y.csv`` is a file name,
not a closing tag.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import typer
from rich.console import Console
from rich.markup import escape

console = Console()

AVATAR_HELP = ("the avatar: LAM's OpenAvatarChat zip or folder, LAM's infer output folder, a FLAME asset folder or "
               "head .npz, or synthetic[:lam-trained|lam-broken] (default: the embedded stand-in)")
# The chibi preset `bake` and `sweep` use when --preset is not given (the README's first bake).
DEFAULT_PRESET = "pear"
PLY_LAYOUT_HELP = ("how to read a splat PLY: auto (detected: LAM's offset + RGB or the standard 3DGS absolute + SH) "
                   "| lam | 3dgs")


def checked_ply_layout(value: str) -> str:
    from avatarcheck.errors import InputError
    from avatarcheck.sources.base import PLY_LAYOUT_CHOICES

    if value not in PLY_LAYOUT_CHOICES:
        raise InputError("--ply-layout", "layout", " | ".join(PLY_LAYOUT_CHOICES), repr(value))
    return value


def fail(err: Exception) -> None:
    """Print ``err`` (unwrapped, so paths stay whole; escaped, so its text is not read as markup) and exit 2."""
    console.print(f"[red]error:[/red] {escape(str(err))}", soft_wrap=True)
    raise typer.Exit(code=2)


def avatar_with_env_overrides(source, ply_layout: str = "auto"):
    """The avatar a rendering command draws: ``source`` (or the embedded one) with the LAM chibi recipe's
    ``LAM_*`` variables applied, as LAM's hook point would; says which ones it applied and what the
    override audit finds. Bad values raise ``InputError`` (the caller exits 2)."""
    from avatarcheck.sources import load_avatar
    from avatarcheck.edit.override_assets import BY_GATE_NAME
    from avatarcheck.edit.overrides import OverrideSettings, apply_overrides, audit
    from avatarcheck.edit.rigid_eyes import eyeball_anisotropy

    print_unknown_env_vars()
    settings = OverrideSettings.from_env()  # before loading: a typo fails fast
    avatar = load_avatar(source, checked_ply_layout(ply_layout))
    if not settings.applied:
        return avatar
    edited = apply_overrides(avatar, settings)
    names = ", ".join(f"{BY_GATE_NAME[g].env_var}" for g in sorted(settings.applied))
    console.print(f"overrides applied: {names}", soft_wrap=True)
    for f in audit(settings, eyeball_anisotropy(avatar.head_sub, edited.head_sub)):
        colour = "red" if f.severity == "error" else "yellow"
        console.print(f"[{colour}]audit ({f.severity}, {f.channel}):[/{colour}] {escape(f.message)}", soft_wrap=True)
    return edited


def print_unknown_env_vars(environ: Mapping[str, str] | None = None) -> None:
    """A hint for each set ``LAM_*`` variable the override layer does not read (a typo is silently ignored
    otherwise), naming the closest known one."""
    from avatarcheck.edit.overrides import unknown_env_vars

    for var, closest in unknown_env_vars(os.environ if environ is None else environ):
        hint = f"did you mean {closest}?" if closest else "it is none of the LAM chibi recipe's variables"
        console.print(f"[yellow]note:[/yellow] {escape(var)} is set but not read: {hint}", soft_wrap=True)


def unapplied_overrides_note(what: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The note for a command that does not apply the ``LAM_*`` variables (``what``: what it renders or
    writes instead), in the gate's words; says too when a value would be refused. None when none is set."""
    from avatarcheck.edit.overrides import ENV_VARS, OverrideSettings
    from avatarcheck.errors import InputError

    env = os.environ if environ is None else environ
    set_vars = sorted(v for v in ENV_VARS.values() if env.get(v, "").strip())
    if not set_vars:
        return None
    note = (f"[yellow]note:[/yellow] {', '.join(set_vars)} set but not applied: {what} (use `avatarcheck render` "
            "to see an env-configured avatar)")
    try:
        OverrideSettings.from_env(env)
    except InputError as err:
        note += f"; and `avatarcheck render` would refuse it: {escape(str(err))}"
    return note


def print_unapplied_overrides(what: str) -> None:
    """``unapplied_overrides_note`` and the hints for mistyped names, printed."""
    note = unapplied_overrides_note(what)
    if note:
        console.print(note, soft_wrap=True)
    print_unknown_env_vars()
