"""Command line: ``avatarcheck --help``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.table import Table

from avatarcheck.cli_common import console
from avatarcheck.cli_common import fail as _fail
from avatarcheck.errors import InputError
from avatarcheck.takes.cli import take_app

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Verification harness for mesh-anchored Gaussian-splat head avatars.")
head_app = typer.Typer(no_args_is_help=True, help="The FLAME-format head model: inspect, export, convert.")
app.add_typer(head_app, name="head")
app.add_typer(take_app, name="take")


def load_avatar(avatar: Optional[Path]):
    """A user's FLAME/LAM folder (or our .npz), else the embedded synthetic head."""
    if avatar is None:
        from avatarcheck.head.synthetic import synthetic_head

        return synthetic_head()
    from avatarcheck.head.loaders import load_head

    return load_head(avatar)


def parse_arkit(pairs: list[str]) -> np.ndarray:
    """``["eyeBlinkLeft=1", "jawOpen=0.4"]`` -> (1, 52) weights, names matched case-insensitively."""
    from avatarcheck.arkit import arkit_index

    weights = np.zeros((1, 52), np.float32)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            idx = arkit_index(name)
            w = float(value) if sep else 1.0
        except (KeyError, ValueError):
            raise InputError("--arkit", pair, "NAME=WEIGHT with an ARKit-52 name and a number", repr(pair)) from None
        if not np.isfinite(w):
            raise InputError("--arkit", name, "a finite weight", value)
        weights[0, idx] = w
    return weights


@head_app.command("info")
def head_info(avatar: Optional[Path] = typer.Option(None, help="FLAME/LAM asset folder or head .npz")) -> None:
    """Print the model's array shapes, joints and named vertex sets."""
    try:
        m = load_avatar(avatar)
    except (InputError, FileNotFoundError) as err:
        _fail(err)
    from avatarcheck.head.model import JOINT_NAMES

    t = Table(title=f"head model: {m.name}")
    t.add_column("field")
    t.add_column("shape / value")
    for field in ("v_template", "faces", "shapedirs", "arkit_basis", "exprdirs", "posedirs",
                  "J_regressor", "lbs_weights"):
        a = getattr(m, field)
        t.add_row(field, "-" if a is None else str(tuple(a.shape)))
    joints = m.J_regressor.astype(np.float64) @ m.v_template
    for name, j in zip(JOINT_NAMES, joints):
        t.add_row(f"joint {name}", np.array2string(j, precision=4))
    for name, ids in sorted(m.vertex_sets.items()):
        t.add_row(f"set {name}", str(len(ids)))
    console.print(t)


@head_app.command("export")
def head_export(
    out: Path = typer.Option(Path("out"), help="output folder"),
    avatar: Optional[Path] = typer.Option(None, help="FLAME/LAM asset folder or head .npz"),
    arkit: list[str] = typer.Option([], "--arkit", help="NAME=WEIGHT, repeatable (eyeBlinkLeft=1)"),
    subdivide: bool = typer.Option(False, help="also write the once-subdivided mesh"),
    preview: bool = typer.Option(True, help="write a shaded preview PNG"),
    size: int = typer.Option(512, min=16, max=4096, help="preview size in pixels"),
) -> None:
    """Pose the head with ARKit weights and write it as .obj (plus a preview PNG)."""
    try:
        m = load_avatar(avatar)
        weights = parse_arkit(arkit)
    except (InputError, FileNotFoundError) as err:
        _fail(err)
    from avatarcheck.head.layer import HeadLayer
    from avatarcheck.io.obj import write_obj

    verts = HeadLayer(m)(weights).vertices[0].detach().numpy()
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "head.obj"]
    write_obj(written[0], verts, m.faces, comment=f"avatarcheck {m.name}; arkit {' '.join(arkit) or 'neutral'}")
    if subdivide:
        from avatarcheck.head.subdivide import subdivide_mesh

        v_sub, f_sub = subdivide_mesh(verts, m.faces)
        written.append(out / "head_subdivided.obj")
        write_obj(written[-1], v_sub, f_sub)
    if preview:
        from avatarcheck.io.images import write_png
        from avatarcheck.render.mesh_preview import render_mesh_preview

        from avatarcheck.splats.trained import region_colors

        colors = region_colors(m)
        written.append(out / "head_preview.png")
        write_png(written[-1], np.concatenate([
            render_mesh_preview(verts, m.faces, size=size, vertex_colors=colors),
            render_mesh_preview(verts, m.faces, size=size, vertex_colors=colors, yaw=0.9)], axis=1))
    for path in written:
        console.print(f"wrote {path}")


@head_app.command("convert")
def head_convert(
    source: Path = typer.Argument(..., help="FLAME/LAM asset folder (flame2023.pkl, FLAME_masks.pkl, ARKit basis)"),
    out: Path = typer.Option(..., help="output .npz (pickle-free; load it instead of the pickles)"),
) -> None:
    """Convert a FLAME folder (pickles) once into a safe .npz."""
    from avatarcheck.head.loaders import load_flame_folder, save_head_npz

    try:
        m = load_flame_folder(source)
    except (InputError, FileNotFoundError) as err:
        _fail(err)
    save_head_npz(m, out)
    console.print(json.dumps({"wrote": str(out), "vertices": m.num_vertices, "faces": m.num_faces}))


@app.command("render")
def render_cmd(
    out: Path = typer.Option(Path("out/render"), help="output folder for frame_NNNN.png"),
    avatar: Optional[Path] = typer.Option(None, help="FLAME/LAM asset folder or head .npz (default: synthetic)"),
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
    from avatarcheck.avatar import load_avatar as avatar_from_path
    from avatarcheck.io.images import write_png
    from avatarcheck.render.api import render

    try:
        weights = parse_arkit(arkit)
        av = avatar_from_path(avatar)
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
                state = av.state(shader, binding, no_eyeballs, arkit52=w[sl], global_rot=rot[sl])
                result = render(state, cam, backend)
                for i, rgb in enumerate(result.rgb, start=start):
                    write_png(out / f"frame_{i:04d}.png", rgb)
                progress.advance(task, sl.stop - sl.start)
    except (InputError, FileNotFoundError) as err:
        _fail(err)
    console.print(f"wrote {n} frame(s) to {out} ({result.backend} backend)")


@app.command("bake")
def bake_cmd(
    preset: str = typer.Option("pear", help="pear (anchor 0.20) | hourglass (anchor 0.50)"),
    strength: float = typer.Option(2.0, help="chibi_strength s (radial peak 1 + 0.3 s)"),
    out: Optional[Path] = typer.Option(None, help="output folder (default out/chibi_<preset>)"),
    avatar: Optional[Path] = typer.Option(None, help="FLAME/LAM asset folder or head .npz (default: synthetic)"),
    jacobians: bool = typer.Option(False, help="also write per-vertex Jacobians (LAM_J_PER_VERT_NPY)"),
) -> None:
    """Bake the chibi edit's assets: mesh .obj, re-evaluated ARKit basis, scale ratio, manifest."""
    from avatarcheck.avatar import load_avatar as avatar_from_path
    from avatarcheck.edit.assets import bake_chibi
    from avatarcheck.edit.chibi import chibi_params

    try:
        av = avatar_from_path(avatar)
        folder = out or Path("out") / f"chibi_{preset}"
        manifest = bake_chibi(av, chibi_params(preset, strength), folder, jacobians=jacobians, name=preset)
    except (InputError, FileNotFoundError) as err:
        _fail(err)
    r = manifest["scale_ratio"]
    console.print(f"wrote {folder}: scale ratio min {r['min']:.3f} median {r['median']:.3f} max {r['max']:.3f}")
    console.print(f"use: LAM_EDIT_XYZ_OBJ={folder}/chibi_textured_mesh.obj LAM_CHIBI_ARKIT_BS="
                  f"{folder}/chibi_arkit_bs.npy LAM_CHIBI_SCALE_RATIO={folder}/chibi_scale_ratio.npy")


@app.command("gate")
def gate_cmd(
    gate: str = typer.Option("three-moment", help="gate name (packaged TOML, overridable from pyproject)"),
    backend: str = typer.Option("auto", help="auto | cpu | cuda"),
    avatar: Optional[Path] = typer.Option(None, help="FLAME/LAM asset folder or head .npz (default: synthetic)"),
    take: Optional[str] = typer.Option(None, help="Live Link Face .csv/.npz, or synthetic:SEED (default: the gate's)"),
    golden_update: bool = typer.Option(False, "--golden-update", help="write new golden images"),
    golden_dir: Path = typer.Option(Path("golden"), help="golden image root"),
    report_dir: Path = typer.Option(Path("reports"), help="reports go to DIR/<timestamp>/ and DIR/latest"),
    pyproject: Path = typer.Option(Path("pyproject.toml"), help="read [tool.avatarcheck.\"<gate>\"] overrides here"),
) -> None:
    """Run a gate on an avatar and a take, write the HTML report; exit 1 when it fails."""
    import datetime

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from avatarcheck.gate.runner import GateSession
    from avatarcheck.gate.spec import load_gate
    from avatarcheck.report.html import write_report

    try:
        spec = load_gate(gate, pyproject)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        session = GateSession(spec, report_dir.absolute() / f"{stamp}-{gate}", avatar=avatar, take=take,
                              backend=backend, golden_root=golden_dir, golden_update=golden_update)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"gate {gate}", total=len(session.steps()))

            def step(description: str) -> None:
                progress.update(task, advance=1, description=f"{gate}: {description}")

            result = session.run_all(step)
        index = write_report(result, session.report_dir)
    except (InputError, FileNotFoundError) as err:
        _fail(err)
    table = Table(title=f"gate {gate} on {result.avatar} ({result.backend}, take {result.take})")
    for col in ("item", "value", "expected", "ok"):
        table.add_column(col)
    for c in result.checks:
        table.add_row(c.item_id, f"{c.value:.4f} {c.op} {c.threshold:g}", c.expected,
                      "[green]ok[/green]" if c.ok else "[red]FAIL[/red]")
    for o in result.orderings:
        table.add_row(o.item_id, f"{o.greater_value:.4f} > {o.lesser_value:.4f}", "pass",
                      "[green]ok[/green]" if o.ok else "[red]FAIL[/red]")
    for g in result.goldens:
        table.add_row(g.item_id, g.status, "pass", "[green]ok[/green]" if g.status in ("pass", "updated") else
                      "[red]FAIL[/red]")
    console.print(table)
    for c in [c for c in result.checks if not c.ok] + [o for o in result.orderings if not o.ok]:
        console.print(f"[red]{c.message}[/red]")
    for g in [g for g in result.goldens if g.status not in ("pass", "updated")]:
        console.print(f"[red]{g.message}[/red]")
    console.print(f"report: {index}")
    console.print(f"gate {gate}: " + ("[green]PASS[/green]" if result.ok else "[red]FAIL[/red]"))
    raise typer.Exit(code=0 if result.ok else 1)


def main() -> None:  # pragma: no cover
    app()
