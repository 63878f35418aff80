"""Regenerate the README's figures: ``python3 docs/make_figures.py`` (CPU, a few seconds).

head_rgb.png: the embedded avatar, rgb shader, front and 35 degrees yaw.
blink_magenta.png: eyes open / full blink / half blink, magenta shader, 200 px eye camera.
chibi_blink_fix.png: full blink, magenta shader, 256 px eye camera; rows = edits (pear, hourglass at
strength 2.0), columns = unedited / chibi pre-fix (xyz + basis) / chibi post-fix (+ scale ratio).
Each tile is labelled with E max and the number of pixels with E > 0.1.
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


if __name__ == "__main__":
    for make in (head_rgb, blink_magenta, chibi_blink_fix):
        make(HERE / f"{make.__name__}.png")
        print("wrote", HERE / f"{make.__name__}.png")
