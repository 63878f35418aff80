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


FORMAT_HELP = ("overrides (the recipe's three override files + manifest, for a patched LAM) | oac (LAM's "
               "OpenAvatarChat zip of the edited avatar: skin.glb, offset.ply, vertex_order.json, animation.glb) | lam "
               "(LAM's infer output of the edited avatar: mesh .obj + _gs_offset.ply + FLAME head .npz)")
BAKE_FORMATS = ("overrides", "oac", "lam")
DEFAULT_CORRECTION = "ratio"


def bake_cmd(
    edit: Optional[str] = typer.Option(None, help="edit kind (registered in avatarcheck.edit.registry; default "
                                       "chibi)"),
    preset: Optional[str] = typer.Option(None, help="chibi: pear (anchor 0.20; the default) | hourglass (anchor "
                                         "0.50)"),
    strength: Optional[str] = typer.Option(None, metavar="FLOAT", help="the edit's strength (default: the edit "
                                           "kind's own: chibi 2, anime_eyes 1); chibi: radial peak 1 + 0.3 s"),
    param: list[str] = typer.Option([], "--param", help="KEY=VALUE, any other parameter of the edit kind"),
    out: Optional[Path] = typer.Option(None, help="output: a folder (overrides, lam; default out/<edit>_<preset>) "
                                       "or a .zip (oac; default out/<edit>_<preset>.zip)"),
    avatar: Optional[str] = typer.Option(None, help=AVATAR_HELP),
    ply_layout: str = typer.Option("auto", help=PLY_LAYOUT_HELP),
    jacobians: bool = typer.Option(False, help="also write per-vertex Jacobians (LAM_J_PER_VERT_NPY; overrides "
                                   "only)"),
    mesh: Optional[Path] = typer.Option(None, "--mesh", help="an edited .obj of the avatar's coarse or subdivided "
                                        "topology (a sculpt): bake its assets instead of a registered edit"),
    rigid_eyes: bool = typer.Option(True, "--rigid-eyes/--no-rigid-eyes",
                                    help="keep each eyeball a uniformly scaled copy of the rest one, so an eye "
                                         "rotation turns a sphere (edit/rigid_eyes.py)"),
    format: str = typer.Option("overrides", "--format", help=FORMAT_HELP),
    correction: Optional[str] = typer.Option(None, help="oac, lam: the scale correction written into the splats, "
                                             "as the sweep names them: none | boost | ratio (default) | jacobian | "
                                             "ratio+lash_ring | ratio+offsets"),
    force: bool = typer.Option(False, "--force", help="oac, lam: replace an existing output"),
    prove: bool = typer.Option(False, "--prove", help="oac, lam: read the written avatar back and gate it against "
                               "the input with the three-moment gate's must-pass checks (./pyproject.toml applies), "
                               "beside the edit in memory; exit 1 when the written avatar fails a check"),
) -> None:
    """Bake an edit: its override assets (mesh .obj, re-evaluated ARKit basis, scale ratio, manifest), or the
    edited avatar itself in LAM's formats (--format oac | lam)."""
    try:
        fmt = _bake_format(format, correction, {"--force": force, "--prove": prove}, jacobians)
        kind, params = _bake_edit_params(edit, preset, strength, param, mesh)
        label = "mesh" if mesh is not None else f"{kind}_{params['preset']}" if "preset" in params else kind
        target = out or Path("out") / (label + (".zip" if fmt == "oac" else "_lam" if fmt == "lam" else ""))
        _check_bake_output(target, fmt, avatar, force)
        loaded = _load_source(avatar, ply_layout)
        assets = _bake_assets(loaded.avatar, kind, params, mesh, rigid_eyes)
        if fmt == "overrides":
            _write_overrides(assets, loaded.avatar, target, jacobians)
            return
        edited = _write_fixed(loaded, assets, target, fmt, correction or DEFAULT_CORRECTION, rigid_eyes)
        proven = _prove_fixed(loaded, edited, target) if prove else True
    except (InputError, OSError) as err:
        _fail(err)
    if not proven:
        raise typer.Exit(code=1)


def _bake_format(fmt: str, correction: str | None, flags: dict[str, bool], jacobians: bool) -> str:
    """The checked ``--format``; options that belong to the other formats are refused, not ignored
    (``flags``: the oac / lam switches given, by option name)."""
    from avatarcheck.gate.sweep_spec import CORRECTIONS

    if fmt not in BAKE_FORMATS:
        raise InputError("--format", "format", " | ".join(BAKE_FORMATS), repr(fmt))
    if fmt == "overrides":
        given = [o for o, v in (("--correction", correction), *flags.items()) if v]
        if given:
            raise InputError(", ".join(given), "bake options", "--format oac or lam (the override files carry no "
                             "correction: the renderer applies them; their folder is reused)", ", ".join(given))
        return fmt
    if jacobians:
        raise InputError("--jacobians", "bake options", "--format overrides (with oac / lam the correction is "
                         "written into the splats: --correction jacobian)", "--jacobians")
    if correction is not None and correction not in CORRECTIONS:
        raise InputError("--correction", "correction", " | ".join(CORRECTIONS), repr(correction))
    return fmt


def _bake_edit_params(edit: str | None, preset: str | None, strength: str | None, param: list[str],
                      mesh: Path | None) -> tuple[str, dict[str, object]]:
    """(edit kind, its parameters) from the options; a sculpt (``--mesh``) takes none."""
    from avatarcheck.edit.registry import edit_kind

    if mesh is not None:
        given = [name for name, v in (("--preset", preset), ("--strength", strength), ("--param", param)) if v]
        if given:  # the sculpt is the edit: its parameters would be silently ignored
            raise InputError(", ".join(given), "edit parameters", "none beside --mesh (the sculpt is the edit)",
                             ", ".join(given))
        return edit or "mesh", {}
    kind = edit or "chibi"
    return kind, bake_params(edit_kind(kind, "--edit", "edit"), preset, strength, param)


def _check_bake_output(target: Path, fmt: str, avatar: str | None, force: bool) -> None:
    from avatarcheck.export.fixed_output import check_fixed_output
    from avatarcheck.io.atomic import check_output_dir

    if fmt == "overrides":
        check_output_dir(target)
    else:
        check_fixed_output(target, fmt, avatar, force)


def _load_source(avatar: str | None, ply_layout: str):
    from avatarcheck.sources import LoadOptions, load_avatar_source

    return load_avatar_source(avatar, LoadOptions(ply_layout=checked_ply_layout(ply_layout)))


def _bake_assets(av, kind: str, params: dict[str, object], mesh: Path | None, rigid_eyes: bool):
    """The edit baked on ``av`` in memory: a registered kind, or a sculpt (per-face deformation gradients ->
    per-vertex Jacobians, ratio, basis: ``edit/mesh_edit.py``)."""
    if mesh is not None:
        from avatarcheck.edit.mesh_edit import bake_mesh_file

        return bake_mesh_file(av, mesh, name=mesh.stem or "mesh", rigid_eyes=rigid_eyes,
                              edit=None if kind == "mesh" else kind)
    from avatarcheck.edit.registry import bake_edit

    return bake_edit(av, kind, params, name=str(params.get("preset", kind)), source="bake", rigid_eyes=rigid_eyes)


def _print_rigid_eyes(eyeballs) -> None:
    for f in eyeballs:
        e = f.summary()
        console.print(f"rigid {f.side} eyeball: anisotropy {e['anisotropy_before']:.3f} -> 1, uniform scale "
                      f"{e['scale']:.3f}, eye joint {e['joint_offset_mm']:.3g} mm from its centre", soft_wrap=True)


def _write_overrides(assets, av, folder: Path, jacobians: bool) -> None:
    """Today's bake: the recipe's override files + manifest, and the variables that hand them to LAM."""
    from avatarcheck.edit.base import save_assets
    from avatarcheck.edit.override_assets import BY_GATE_NAME

    manifest = save_assets(assets, folder, av.head_sub.faces, jacobians=jacobians)
    r = manifest["scale_ratio"]
    console.print(f"wrote {escape(str(folder))}: scale ratio min {r['min']:.3f} median {r['median']:.3f} "
                  f"max {r['max']:.3f}", soft_wrap=True)
    _print_rigid_eyes(assets.eyeballs)
    env = " ".join(f"{BY_GATE_NAME[g].env_var}={folder / f}" for g, f in manifest["files"].items())
    console.print(f"use: {escape(env)}", soft_wrap=True)


def _write_fixed(loaded, assets, target: Path, fmt: str, correction: str, rigid_eyes: bool):
    """The edited avatar, ``correction`` applied as the gate applies it (``OverrideArrays``), in LAM's format;
    returns it (an ``Avatar``)."""
    from avatarcheck.edit.overrides import OverrideArrays, apply_override_arrays
    from avatarcheck.export.edited_lam import write_edited_lam
    from avatarcheck.export.edited_oac import write_edited_oac
    from avatarcheck.gate.sweep_spec import CORRECTIONS

    overrides, numbers = CORRECTIONS[correction]
    edited = apply_override_arrays(loaded.avatar, OverrideArrays.from_assets(assets, overrides, numbers))
    provenance = {"edit": {"name": assets.name, "kind": assets.kind, "params": assets.params,
                           "rigid_eyes": rigid_eyes},
                  "correction": correction, "overrides": list(overrides), "numbers": numbers,
                  "input": {"kind": loaded.info.kind, "spec": loaded.info.spec}, "scale_ratio": assets.ratio_stats()}
    if fmt == "oac":
        members = write_edited_oac(loaded, edited, target, provenance)
        what = ", ".join(members)
    else:
        write_edited_lam(loaded, edited, target, provenance)
        what = ", ".join(sorted(p.name for p in target.iterdir()))
    console.print(escape(f"wrote {target} ({fmt}: {what}): {assets.name} ({assets.kind}), correction {correction} "
                         f"({' + '.join(overrides)})"), soft_wrap=True)
    _print_rigid_eyes(assets.eyeballs)
    console.print(escape(f"read it with: avatarcheck avatar info --avatar {target}"), soft_wrap=True)
    return edited


def _prove_fixed(loaded, edited, target: Path) -> bool:
    """Gate the written avatar (read back from ``target``) and the edit in memory against the input
    (``export/proof.py``); print both per check; True when the written one passes every check."""
    from rich.table import Table

    from avatarcheck.export.proof import prove
    from avatarcheck.gate.inputs import load_inputs
    from avatarcheck.gate.spec import load_gate
    from avatarcheck.render.backend import resolve_backend
    from avatarcheck.sources import load_avatar_source

    spec = load_gate("three-moment", Path("pyproject.toml"))
    inputs = load_inputs(None, spec.take, spec.moments, spec.moment_params, loaded=loaded)
    written = load_avatar_source(target).avatar
    results = prove(spec, inputs, resolve_backend("auto").name, {"in memory": edited, "written": written})
    table = Table(title=f"{spec.name} must-pass checks against the input, worse eye")
    for column in ("moment / check", "bar", "in memory", "written"):
        table.add_column(column)
    for mem, back in zip(results["in memory"], results["written"]):
        table.add_row(f"{back.moment} / {back.check}", f"{back.op} {back.threshold:.4g}",
                      _verdict(mem), _verdict(back))
    console.print(table)
    ok = all(r.passed for r in results["written"])
    same = [r.passed for r in results["written"]] == [r.passed for r in results["in memory"]]
    console.print(f"written avatar: {'passes every check' if ok else 'FAILS'}; verdicts "
                  f"{'equal' if same else 'DIFFER from'} the edit's in memory")
    return ok


def _verdict(r) -> str:
    return f"{r.value:.4f} {'pass' if r.passed else 'FAIL'}"


def bake_params(kind, preset: str | None, strength: str | None, pairs: list[str]) -> dict[str, object]:
    """The parameters ``bake`` passes to edit ``kind`` (an ``EditKind``): ``--preset`` / ``--strength``
    are ``--param preset=`` / ``--param strength=`` spelled as options, so giving one twice is a conflict;
    what is left out takes the kind's own default. Numbers are plain decimals (``avatarcheck.numbers``)."""
    from avatarcheck.edit.base import REQUIRED
    from avatarcheck.edit.interface import MAX_STRENGTH

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
