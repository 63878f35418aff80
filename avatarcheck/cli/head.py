"""``avatarcheck head``: inspect, export and convert the FLAME-format head model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from avatarcheck.cli.common import console, print_unapplied_overrides
from avatarcheck.cli.common import fail as _fail
from avatarcheck.errors import InputError
from avatarcheck.numbers import parse_number

head_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                      help="The FLAME-format head model: inspect, export, convert.")


def load_avatar(avatar: Optional[Path]):
    """A user's FLAME/LAM folder (or our .npz), else the embedded synthetic head."""
    if avatar is None:
        from avatarcheck.head.synthetic import synthetic_head

        return synthetic_head()
    from avatarcheck.head.loaders import load_head

    return load_head(avatar)


def parse_arkit(pairs: list[str]) -> np.ndarray:
    """``["eyeBlinkLeft=1", "jawOpen=0.4"]`` -> (1, 52) weights in [0, 1], names matched case-insensitively."""
    from avatarcheck.arkit import arkit_index
    from avatarcheck.checks import checked_number

    weights = np.zeros((1, 52), np.float32)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            idx = arkit_index(name)
        except KeyError:
            raise InputError("--arkit", pair, "NAME=WEIGHT with an ARKit-52 name and a number", repr(pair)) from None
        # plain ASCII decimals: float() would also take "1_0" (10) and non-ASCII digits
        weight = parse_number(value, "--arkit", name, "a plain decimal weight in [0, 1]") if sep else 1.0
        # ARKit weights live in [0, 1] (a take's weights are clipped there too)
        weights[0, idx] = checked_number(weight, "--arkit", name, 0.0, 1.0)
    return weights


@head_app.command("info")
def head_info(avatar: Optional[Path] = typer.Option(None, help="FLAME/LAM asset folder or head .npz")) -> None:
    """Print the model's array shapes, joints and named vertex sets."""
    try:
        m = load_avatar(avatar)
    except (InputError, FileNotFoundError) as err:
        _fail(err)
    from avatarcheck.head.model import JOINT_NAMES

    t = Table(title=f"head model: {escape(m.name)}")
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
        t.add_row(f"set {escape(name)}", str(len(ids)))
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
    from avatarcheck.io.atomic import check_output_dir

    # the head is written as the model has it: ambient LAM_* variables are not applied (as in `gate`)
    print_unapplied_overrides("`head export` writes the head model as loaded")
    try:
        check_output_dir(out)  # before loading and posing: a bad --out fails at once
        m = load_avatar(avatar)
        weights = parse_arkit(arkit)
    except (InputError, FileNotFoundError) as err:
        _fail(err)
    from avatarcheck.head.layer import HeadLayer

    verts = HeadLayer(m)(weights).vertices[0].detach().numpy()
    try:
        written = _write_export(out, m, verts, arkit, subdivide, preview, size)
    except (InputError, OSError) as err:  # the folder changed under us, or the disk filled
        _fail(err)
    for path in written:
        console.print(f"wrote {escape(str(path))}", soft_wrap=True)


def _write_export(out: Path, m, verts: np.ndarray, arkit: list[str], subdivide: bool, preview: bool,
                  size: int) -> list[Path]:
    """head.obj [+ head_subdivided.obj] [+ head_preview.png] in ``out``; returns the paths written."""
    from avatarcheck.io.obj import write_obj

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
    return written


@head_app.command("convert")
def head_convert(
    source: Path = typer.Argument(..., help="FLAME/LAM asset folder (flame2023.pkl, FLAME_masks.pkl, ARKit basis)"),
    out: Path = typer.Option(..., help="output .npz (pickle-free; load it instead of the pickles)"),
) -> None:
    """Convert a FLAME folder (pickles) once into a safe .npz."""
    from avatarcheck.head.loaders import load_flame_folder, save_head_npz
    from avatarcheck.io.atomic import check_output_file

    try:
        check_output_file(out)  # before unpickling: a bad --out fails at once
        m = load_flame_folder(source)
        save_head_npz(m, out)
    except (InputError, OSError) as err:
        _fail(err)
    console.print(escape(json.dumps({"wrote": str(out), "vertices": m.num_vertices, "faces": m.num_faces})),
                  soft_wrap=True)
