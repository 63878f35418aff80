"""Regenerate the README's figures: ``python3 docs/make_figures.py`` (CPU, a few seconds).

head_rgb.png: the embedded avatar, rgb shader, front and 35 degrees yaw.
blink_magenta.png: eyes open / full blink / half blink, magenta shader, 200 px eye camera.
chibi_blink_fix.png: full blink, magenta shader, 256 px eye camera; rows = edits (pear, hourglass at
strength 2.0), columns = unedited / chibi pre-fix (xyz + basis) / chibi post-fix (+ scale ratio).
Each tile is labelled with E max and the number of pixels with E > 0.1.
anime_eyes_ratio.png: the anime-eyes gate's edit (1.6x across, 0.7x up). Rows: full blink, the take's
half-blink-down moment, then full blink with the pull-back split by splat group: why the isotropic ratio
fails (it makes the eyeball splats 1.17x instead of 0.7x tall; their other axes and the lids do no harm).
chibi_taper.png: the chibi profiles R(t), Y(t) with the taper below the anchor, and the pear s = 2
scale-ratio histogram with and without it (recipe on FLAME: min 0.275, median 1.358, max 2.368).
boost_blur.png: the three-moment gate's sharpness check (gate.sharpness): the lower face at the take's
eye-wide moment, each variant framed on its own face, outside the measured region washed out. Rows pear,
hourglass (s = 2); columns unedited / post-fix (ratio) / boost 1.5. Labels: sharpness (gradient energy
relative to the unedited avatar; the gate wants >= 0.8) and the full-blink leak max (<= 0.12).
trained_verdicts.png: the three-moment gate on the trained-statistics stand-in (synthetic:lam-trained) at
the take's half-blink-down moment. Rows: unedited / pear s = 2 pre-fix / post-fix. Columns: the avatar's
own colours; magenta with every eyeball-bound splat counted (skin paint included); magenta with the
eyeball splats on the sphere only (what the gate counts); the head from 25 degrees below with its holes
(alpha < 0.9 over the mesh) in red. Labels: leak max / area for both countings, head holes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from avatarcheck.arkit import arkit_index
from avatarcheck.avatar import synthetic_avatar
from avatarcheck.edit.overrides import OverrideArrays, apply_override_arrays
from avatarcheck.edit.registry import bake_edit
from avatarcheck.io.images import write_png
from avatarcheck.render.api import render

HERE = Path(__file__).parent
SIZE = 256


def tile(avatar, blink: np.ndarray, label: str) -> np.ndarray:
    out = render(avatar.state("magenta", arkit52=blink), avatar.eye_camera(SIZE), "cpu")
    E = out.extra[0, ..., 0]
    img = Image.fromarray((np.clip(out.rgb[0], 0, 1) * 255 + 0.5).astype(np.uint8))
    # The eye camera frames both eyes in a square; keep the band that holds them.
    img = img.crop((0, SIZE // 4, SIZE, 3 * SIZE // 4))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, SIZE, 24), fill=(0, 0, 0))
    draw.text((4, 0), label, fill=(255, 255, 255))
    draw.text((4, 12), f"E max {E.max():.2f}, {int((E > 0.1).sum())} px > 0.1", fill=(255, 255, 255))
    return np.asarray(img)


def blink_weights(*levels: float) -> np.ndarray:
    """(len(levels), 52) ARKit weights with both eyeBlink channels at each level."""
    w = np.zeros((len(levels), 52), np.float32)
    w[:, [arkit_index("eyeBlinkLeft"), arkit_index("eyeBlinkRight")]] = np.asarray(levels)[:, None]
    return w


def head_rgb(path: Path) -> None:
    av = synthetic_avatar()
    state = av.state("rgb", arkit52=blink_weights(0.0))
    views = [render(state, av.camera(256, yaw_deg=yaw), "cpu").rgb[0] for yaw in (0.0, 35.0)]
    write_png(path, np.concatenate(views, axis=1))


def blink_magenta(path: Path) -> None:
    av = synthetic_avatar()
    out = render(av.state("magenta", arkit52=blink_weights(0.0, 1.0, 0.5)), av.eye_camera(200), "cpu")
    write_png(path, np.concatenate(list(out.rgb), axis=1))


def chibi_blink_fix(path: Path) -> None:
    av = synthetic_avatar()
    blink = blink_weights(1.0)
    rows = []
    for preset in ("pear", "hourglass"):
        assets = bake_edit(av, "chibi", {"preset": preset, "strength": 2.0}, name=preset)
        pre = OverrideArrays.from_assets(assets, {"xyz", "arkit_bs"})
        post = OverrideArrays.from_assets(assets, {"xyz", "arkit_bs", "scale_ratio"})
        rows.append(np.concatenate([
            tile(av, blink, "unedited"),
            tile(apply_override_arrays(av, pre), blink, f"{preset} 2.0, no ratio"),
            tile(apply_override_arrays(av, post), blink, f"{preset} 2.0, with ratio"),
        ], axis=1))
    write_png(path, np.concatenate(rows, axis=0))


def _pullback(av, assets, ratio_on=None, jac_on=None, jac_override=None):
    """xyz + basis, with the ratio on the splats ``ratio_on`` and the Jacobian on ``jac_on`` (masks)."""
    n = av.head_sub.num_vertices
    ratio = np.ones(n, np.float32)
    jac = np.broadcast_to(np.eye(3, dtype=np.float32), (n, 3, 3)).copy()
    if ratio_on is not None:
        ratio[ratio_on] = assets.ratio[ratio_on]
    if jac_on is not None:
        jac[jac_on] = assets.jacobians[jac_on]
    if jac_override is not None:
        mask, matrix = jac_override
        jac[mask] = matrix
    return apply_override_arrays(av, OverrideArrays(edit_xyz_obj=assets.edited_sub, arkit_bs=assets.basis,
                                                    scale_ratio=ratio, jacobians=jac))


def anime_eyes_ratio(path: Path) -> None:
    from avatarcheck.gate.inputs import load_inputs
    from avatarcheck.gate.spec import load_gate

    spec = load_gate("anime-eyes")
    edit = spec.edit("anime")
    av = synthetic_avatar()
    assets = bake_edit(av, edit.kind, edit.params, name=edit.name, rigid_eyes=edit.rigid_eyes)  # as the gate bakes it
    inputs = load_inputs(None, spec.take, spec.moments, spec.moment_params)
    half = inputs.take.weights[[inputs.present["half_blink_down"].frame]]
    variants = [("unedited", av)] + [
        (name, apply_override_arrays(av, OverrideArrays.from_assets(assets, spec.variants[name].overrides)))
        for name in ("pre-fix", "ratio", "jacobian")]
    rows = [np.concatenate([tile(a, w, f"{name}, {moment}") for name, a in variants], axis=1)
            for w, moment in ((blink_weights(1.0), "full blink"), (half, "half blink down"))]
    n = av.head_sub.num_vertices
    eye = np.zeros(n, bool)
    eye[np.concatenate([av.head_sub.vertex_sets["eyeball_left"], av.head_sub.vertex_sets["eyeball_right"]])] = True
    k = np.array([edit.params["horizontal"], edit.params["vertical"], edit.params["depth"]])
    r = float(np.median(assets.ratio[eye]))
    everywhere = np.ones(n, bool)
    split = [
        ("ratio, eyeballs unscaled", _pullback(av, assets, ratio_on=~eye)),
        ("ratio on eyeballs only", _pullback(av, assets, ratio_on=eye)),
        (f"J; eyeball y sigma x{r:.2f}", _pullback(av, assets, jac_on=everywhere,
                                                   jac_override=(eye, np.diag([k[0], r, k[2]])))),
        (f"J; eyeball z sigma x{r:.2f}", _pullback(av, assets, jac_on=everywhere,
                                                   jac_override=(eye, np.diag([k[0], k[1], r])))),
    ]
    rows.append(np.concatenate([tile(a, blink_weights(1.0), name) for name, a in split], axis=1))
    write_png(path, np.concatenate(rows, axis=0))


def chibi_taper(path: Path) -> None:
    import dataclasses

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from avatarcheck.edit.base import bake
    from avatarcheck.edit.chibi import chibi_field, chibi_params

    av = synthetic_avatar()
    params = chibi_params("pear", 2.0)
    field = chibi_field(av.head.v_template, params)
    flat = chibi_field(av.head.v_template, dataclasses.replace(params, taper_scale=1.0))
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
    t = np.linspace(-field.taper_length - 0.1, 1.1, 600)
    radial, _, vertical, _ = field.scales(t)
    ax0.plot(t, radial, label="radial R(t)")
    ax0.plot(t, vertical, label="vertical Y(t)")
    ax0.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax0.axvline(-field.taper_length, color="grey", lw=0.8, ls=":")
    ax0.set(xlabel="t (0 = anchor, 1 = top; dotted: mesh bottom)", ylabel="scale", title="chibi pear, s = 2")
    ax0.legend(frameon=False)
    for f, label in ((flat, "identity below the anchor"), (field, "with the taper")):
        ratio = bake(av, f, "pear", "chibi").ratio
        ax1.hist(ratio, bins=80, range=(0.2, 2.5), histtype="step",
                 label=f"{label}: {ratio.min():.3f} / {np.median(ratio):.3f} / {ratio.max():.3f}")
    for x in (0.275, 1.358, 2.368):
        ax1.axvline(x, color="grey", lw=0.8, ls=":")
    ax1.set(yscale="log", xlabel="scale ratio (min / median / max; dotted: recipe on FLAME)",
            ylabel="splats", title="pear s = 2, embedded head")
    ax1.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def boost_blur(path: Path) -> None:
    """The three-moment gate's sharpness check, as the gate computes it (GateEvaluation, CPU)."""
    from avatarcheck.gate.evaluation import GateEvaluation
    from avatarcheck.gate.inputs import load_inputs
    from avatarcheck.gate.metrics import worst_eye
    from avatarcheck.gate.spec import UNEDITED, load_gate

    spec = load_gate("three-moment")
    ev = GateEvaluation(spec, load_inputs(None, spec.take, spec.moments, spec.moment_params), "cpu")
    rows = []
    for edit in ("pear", "hourglass"):
        tiles = []
        for e, v in ((UNEDITED, "baseline"), (edit, "post-fix"), (edit, "boost")):
            view = ev.face_view(e, v, "eye_wide")
            shown = np.where(view.region[..., None], view.rgb, 0.35 * view.rgb + 0.65)
            img = Image.fromarray((np.clip(shown, 0, 1) * 255 + 0.5).astype(np.uint8))
            draw = ImageDraw.Draw(img)
            draw.rectangle((0, 0, img.width, 24), fill=(0, 0, 0))
            leak = worst_eye(ev.moment_evals(e, v)["full_blink"].metrics, "leak_max")[1]
            draw.text((4, 0), f"{e if e == UNEDITED else edit + ' 2.0'}, {v}", fill=(255, 255, 255))
            draw.text((4, 12), f"sharpness {ev.sharpness(e, v, 'eye_wide'):.2f}; blink leak max {leak:.2f}",
                      fill=(255, 255, 255))
            tiles.append(np.asarray(img))
        rows.append(np.concatenate(tiles, axis=1))
    write_png(path, np.concatenate(rows, axis=0))


def trained_verdicts(path: Path) -> None:
    from avatarcheck.gate.evaluate import evaluate_frames
    from avatarcheck.gate.evaluation import GateEvaluation
    from avatarcheck.gate.inputs import load_inputs, take_pose
    from avatarcheck.gate.metrics import worst_eye
    from avatarcheck.gate.spec import load_gate

    spec = load_gate("three-moment")
    inputs = load_inputs("synthetic:lam-trained", spec.take, spec.moments, spec.moment_params)
    ev = GateEvaluation(spec, inputs, "cpu")
    moment = "half_blink_down"
    frame = np.array([inputs.present[moment].frame])
    rows = []
    for edit, variant in (("unedited", "baseline"), ("pear", "pre-fix"), ("pear", "post-fix")):
        counted = ev.moment_evals(edit, variant)[moment]
        every = evaluate_frames(ev.variant(edit, variant), take_pose(inputs.take, frame, spec.apply_eye_rotation),
                                ev.camera(edit, variant), "cpu", spec.visible, spec.dilate_px)[0]
        below = ev.head_views(edit, variant, "eye_wide")["below"]
        holes = np.where(below.holes[..., None], np.array([1.0, 0.0, 0.0]), below.rgb)

        def stats(fe) -> str:
            return (f"leak max {worst_eye(fe.metrics, 'leak_max')[1]:.2f}, "
                    f"area {worst_eye(fe.metrics, 'leak_area')[1]:.3f}")

        tiles = []
        for image, label in ((counted.plain, f"{edit}/{variant}: own colours"),
                             (every.rgb, "every eyeball splat: " + stats(every)),
                             (counted.rgb, "on the sphere: " + stats(counted)),
                             (holes, f"from below: holes {below.shares['head'] * 100:.1f} % of the head")):
            img = Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)).resize((SIZE, SIZE))
            draw = ImageDraw.Draw(img)
            draw.rectangle((0, 0, SIZE, 12), fill=(0, 0, 0))
            draw.text((4, 0), label, fill=(255, 255, 255))
            tiles.append(np.asarray(img))
        rows.append(np.concatenate(tiles, axis=1))
    write_png(path, np.concatenate(rows, axis=0))


FIGURES = (head_rgb, blink_magenta, chibi_blink_fix, anime_eyes_ratio, chibi_taper, boost_blur, trained_verdicts)

if __name__ == "__main__":
    import sys

    wanted = set(sys.argv[1:])  # names of figures to make; none: all of them
    for make in FIGURES:
        if not wanted or make.__name__ in wanted:
            make(HERE / f"{make.__name__}.png")
            print("wrote", HERE / f"{make.__name__}.png")
