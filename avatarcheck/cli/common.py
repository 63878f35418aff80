"""What every command-line module shares: one rich console and the exit-2 path for bad input."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console()

AVATAR_HELP = ("the avatar: LAM's OpenAvatarChat zip or folder, LAM's infer output folder, a FLAME asset folder or "
               "head .npz, or synthetic[:lam-trained|lam-broken] (default: the embedded stand-in)")
PLY_LAYOUT_HELP = ("how to read a splat PLY: auto (detected: LAM's offset + RGB or the standard 3DGS absolute + SH) "
                   "| lam | 3dgs")


def checked_ply_layout(value: str) -> str:
    from avatarcheck.errors import InputError
    from avatarcheck.sources.base import PLY_LAYOUT_CHOICES

    if value not in PLY_LAYOUT_CHOICES:
        raise InputError("--ply-layout", "layout", " | ".join(PLY_LAYOUT_CHOICES), repr(value))
    return value


def fail(err: Exception) -> None:
    """Print ``err`` (unwrapped, so paths stay whole) and exit with status 2."""
    console.print(f"[red]error:[/red] {err}", soft_wrap=True)
    raise typer.Exit(code=2)


def avatar_with_env_overrides(source, ply_layout: str = "auto"):
    """The avatar a rendering command draws: ``source`` (or the embedded one) with the LAM chibi recipe's
    ``LAM_*`` variables applied, as LAM's hook point would; says which ones it applied and what the
    override audit finds. Bad values raise ``InputError`` (the caller exits 2)."""
    from avatarcheck.sources import load_avatar
    from avatarcheck.edit.override_assets import BY_GATE_NAME
    from avatarcheck.edit.overrides import OverrideSettings, apply_overrides, audit
    from avatarcheck.edit.rigid_eyes import eyeball_anisotropy

    settings = OverrideSettings.from_env()  # before loading: a typo fails fast
    avatar = load_avatar(source, checked_ply_layout(ply_layout))
    if not settings.applied:
        return avatar
    edited = apply_overrides(avatar, settings)
    names = ", ".join(f"{BY_GATE_NAME[g].env_var}" for g in sorted(settings.applied))
    console.print(f"overrides applied: {names}", soft_wrap=True)
    for f in audit(settings, eyeball_anisotropy(avatar.head_sub, edited.head_sub)):
        colour = "red" if f.severity == "error" else "yellow"
        console.print(f"[{colour}]audit ({f.severity}, {f.channel}):[/{colour}] {f.message}", soft_wrap=True)
    return edited
