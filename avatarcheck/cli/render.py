"""``avatarcheck render`` and ``avatarcheck bake``: images of the avatar and the edit assets."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.markup import escape

from avatarcheck.cli.common import (AVATAR_HELP, DEFAULT_PRESET, PLY_LAYOUT_HELP, avatar_with_env_overrides,
                                    checked_ply_layout, console)
from avatarcheck.cli.common import fail as _fail
from avatarcheck.cli.head import parse_arkit
from avatarcheck.errors import InputError
from avatarcheck.numbers import parse_int, parse_number


def render_cmd(
    out: Path = typer.Option(Path("out/render"), help="output folder for frame_NNNN.png"),
    avatar: Optional[str] = typer.Option(None, help=AVATAR_HELP),
    ply_layout: str = typer.Option("auto", help=PLY_LAYOUT_HELP),
    arkit: list[str] = typer.Option([], "--arkit", help="NAME=WEIGHT, repeatable (eyeBlinkLeft=1)"),
    sweep: Optional[str] = typer.Option(None, help="ARKit channel swept from 0 to 1 over --frames"),
    frames: int = typer.Option(1, min=1, max=10_000, help="number of frames (with --sweep)"),
    yaw: float = typer.Option(0.0, help="camera yaw in degrees (+ towards the subject's left)"),
    pitch: float = typer.Option(0.0, help="camera pitch in degrees"),
    head_yaw: float = typer.Option(0.0, help="head rotation about y in degrees (global pose)"),
    size: int = typer.Option(512, min=16, max=4096, help="image size in pixels"),
    shader: str = typer.Option("rgb", help="rgb | magenta (eyeballs painted magenta)"),
    backend: str = typer.Option("auto", help="auto | cpu | cuda"),
    binding: str = typer.Option("lam", help="lam (centres only, as released) | rigid"),
    no_eyeballs: bool = typer.Option(False, help="drop eyeball splats (occluder coverage render)"),
    batch: int = typer.Option(16, min=1, help="frames posed per batch"),
) -> None:
    """Render the splat avatar to PNGs (RGB composited on white)."""
    from rich.progress import Progress

    from avatarcheck.arkit import arkit_index
    from avatarcheck.io.images import write_png
    from avatarcheck.render.api import render

    try:
        from avatarcheck.io.atomic import check_output_dir

        check_output_dir(out)
        for name, deg in (("--yaw", yaw), ("--pitch", pitch), ("--head-yaw", head_yaw)):
            if not np.isfinite(deg) or abs(deg) > 360:
                raise InputError(name, "angle", "degrees in [-360, 360]", repr(deg))
        if frames > 1 and not sweep:
            raise InputError("--frames", "frames", "--sweep CHANNEL with more than one frame", f"{frames} frames")
        weights = parse_arkit(arkit)
        av = avatar_with_env_overrides(avatar, ply_layout)
        n = frames if sweep else 1
        w = np.repeat(weights, n, axis=0)
        if sweep:
            try:
                w[:, arkit_index(sweep)] = np.linspace(0.0, 1.0, n)
            except KeyError:
                raise InputError("--sweep", sweep, "an ARKit-52 channel name", repr(sweep)) from None
        rot = np.tile([[0.0, np.radians(head_yaw), 0.0]], (n, 1)).astype(np.float32)
        cam = av.camera(size=size, yaw_deg=yaw, pitch_deg=pitch)
        out.mkdir(parents=True, exist_ok=True)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"rendering {n} frame(s)", total=n)
            for start in range(0, n, batch):
                sl = slice(start, min(n, start + batch))
                state = av.state(shader, arkit52=w[sl], global_rot=rot[sl], binding=binding, drop_eyeballs=no_eyeballs)
                result = render(state, cam, backend)
                for i, rgb in enumerate(result.rgb, start=start):
                    write_png(out / f"frame_{i:04d}.png", rgb)
                progress.advance(task, sl.stop - sl.start)
    except (InputError, OSError) as err:
        _fail(err)
    console.print(f"wrote {n} frame(s) to {escape(str(out))} ({result.backend} backend)", soft_wrap=True)


def bake_cmd(
    edit: Optional[str] = typer.Option(None, help="edit kind (registered in avatarcheck.edit.registry; default "
                                       "chibi)"),
    preset: Optional[str] = typer.Option(None, help="chibi: pear (anchor 0.20; the default) | hourglass (anchor "
                                         "0.50)"),
    strength: Optional[str] = typer.Option(None, metavar="FLOAT", help="the edit's strength (default: the edit "
                                           "kind's own: chibi 2, anime_eyes 1); chibi: radial peak 1 + 0.3 s"),
    param: list[str] = typer.Option([], "--param", help="KEY=VALUE, any other parameter of the edit kind"),
    out: Optional[Path] = typer.Option(None, help="output folder (default out/<edit>_<preset>)"),
    avatar: Optional[str] = typer.Option(None, help=AVATAR_HELP),
    ply_layout: str = typer.Option("auto", help=PLY_LAYOUT_HELP),
    jacobians: bool = typer.Option(False, help="also write per-vertex Jacobians (LAM_J_PER_VERT_NPY)"),
    mesh: Optional[Path] = typer.Option(None, "--mesh", help="an edited .obj of the avatar's coarse or subdivided "
                                        "topology (a sculpt): bake its assets instead of a registered edit"),
    rigid_eyes: bool = typer.Option(True, "--rigid-eyes/--no-rigid-eyes",
                                    help="keep each eyeball a uniformly scaled copy of the rest one, so an eye "
                                         "rotation turns a sphere (edit/rigid_eyes.py)"),
) -> None:
    """Bake an edit's assets: mesh .obj, re-evaluated ARKit basis, scale ratio, manifest."""
    from avatarcheck.sources import load_avatar as avatar_from_path
    from avatarcheck.edit.base import save_assets
    from avatarcheck.edit.override_assets import BY_GATE_NAME
    from avatarcheck.edit.registry import bake_edit, edit_kind

    try:
        if mesh is not None:
            # a sculpt: per-face deformation gradients -> per-vertex Jacobians, ratio, basis (edit/mesh_edit.py)
            from avatarcheck.edit.mesh_edit import bake_mesh_file
            from avatarcheck.io.atomic import check_output_dir

            given = [name for name, v in (("--preset", preset), ("--strength", strength), ("--param", param)) if v]
            if given:  # the sculpt is the edit: its parameters would be silently ignored
                raise InputError(", ".join(given), "edit parameters", "none beside --mesh (the sculpt is the edit)",
                                 ", ".join(given))
            folder = out or Path("out") / "mesh"
            check_output_dir(folder)
            av = avatar_from_path(avatar, checked_ply_layout(ply_layout))
            assets = bake_mesh_file(av, mesh, name=mesh.stem or "mesh", rigid_eyes=rigid_eyes, edit=edit)
            manifest = save_assets(assets, folder, av.head_sub.faces, jacobians=jacobians)
        else:
            edit = edit or "chibi"
            params = bake_params(edit_kind(edit, "--edit", "edit"), preset, strength, param)
            label = f"{edit}_{params['preset']}" if "preset" in params else edit
            folder = out or Path("out") / label
            from avatarcheck.io.atomic import check_output_dir

            check_output_dir(folder)
            av = avatar_from_path(avatar, checked_ply_layout(ply_layout))
            assets = bake_edit(av, edit, params, name=str(params.get("preset", edit)), source="bake",
                               rigid_eyes=rigid_eyes)
            manifest = save_assets(assets, folder, av.head_sub.faces, jacobians=jacobians)
    except (InputError, OSError) as err:
        _fail(err)
    r = manifest["scale_ratio"]
    console.print(f"wrote {escape(str(folder))}: scale ratio min {r['min']:.3f} median {r['median']:.3f} "
                  f"max {r['max']:.3f}", soft_wrap=True)
    for side, e in (manifest["rigid_eyes"] or {}).items():
        console.print(f"rigid {side} eyeball: anisotropy {e['anisotropy_before']:.3f} -> 1, uniform scale "
                      f"{e['scale']:.3f}, eye joint {e['joint_offset_mm']:.3g} mm from its centre")
    env = " ".join(f"{BY_GATE_NAME[g].env_var}={folder / f}" for g, f in manifest["files"].items())
    console.print(f"use: {escape(env)}", soft_wrap=True)



def bake_params(kind, preset: str | None, strength: str | None, pairs: list[str]) -> dict[str, object]:
    """The parameters ``bake`` passes to edit ``kind`` (an ``EditKind``): ``--preset`` / ``--strength``
    are ``--param preset=`` / ``--param strength=`` spelled as options, so giving one twice is a conflict;
    what is left out takes the kind's own default. Numbers are plain decimals (``avatarcheck.numbers``)."""
    from avatarcheck.edit.base import REQUIRED
    from avatarcheck.gate.sweep_spec import MAX_STRENGTH

    given: dict[str, tuple[str, str]] = {}  # key -> (the option that set it, its text)
    for key, option, text in (("preset", "--preset", preset), ("strength", "--strength", strength)):
        if text is None:
            continue
        if key not in kind.params:
            raise InputError(option, key, f"an option of an edit kind with a {key} (edit kind {kind.name!r} has "
                             f"{', '.join(sorted(kind.params))})", repr(text))
        given[key] = (option, text)
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise InputError("--param", pair, "KEY=VALUE", repr(pair))
        if key in given:
            option = given[key][0]
            raise InputError("--param", key, f"each parameter once (it is set by {option} already)",
                             f"{option} {given[key][1]} and --param {pair}" if option != "--param"
                             else f"--param {key}={given[key][1]} and --param {pair}")
        given[key] = ("--param", text)
    params: dict[str, object] = {}
    for key, (option, text) in given.items():
        typ = kind.params.get(key, (str, None))[0]  # an unknown key is refused by the bake, naming the kind
        if typ is float:
            value: object = parse_number(text, option, key)
        elif typ is int:
            value = parse_int(text, option, key)
        else:
            value = text
        if key == "strength" and not 0.0 <= float(value) <= MAX_STRENGTH:  # 1e308 overflows the bake
            raise InputError(option, key, f"a strength in [0, {MAX_STRENGTH:g}]", repr(text))
        params[key] = value
    if "preset" in kind.params and "preset" not in params and kind.params["preset"][1] is REQUIRED:
        params["preset"] = DEFAULT_PRESET
    return params
