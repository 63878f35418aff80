"""The gate's artefacts writer: every image a report shows, written under the report folder.

Paths are report-relative (a report folder can be moved or uploaded as a CI artifact) and every
one is checked to stay inside its root: names come from user files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatarcheck.errors import InputError
from avatarcheck.gate.evaluate import EYES, FaceView, FrameEval
from avatarcheck.gate.head_coverage import HeadView
from avatarcheck.gate.result import FaceImages, HeadImages, MomentImages
from avatarcheck.io.images import write_png
from avatarcheck.render.colormaps import heatmap_image

# Heatmaps map E in [0, HEATMAP_VMAX] to the colour scale: the recipe's leak is a faint 0.1-0.3.
HEATMAP_VMAX = 0.25
# Report images are re-created every run: fast zlib (``write_png``); goldens keep the default level.
REPORT_PNG_LEVEL = 1


def inside(root: Path, rel: Path) -> Path:
    """``root / rel``, refusing anything that would land outside ``root`` (absolute parts, '..')."""
    root_abs = Path(root).absolute()
    path = (root_abs / rel).resolve()
    if path != root_abs.resolve() and root_abs.resolve() not in path.parents:
        raise InputError(root, "output path", f"a path inside {root}", str(rel))
    return root_abs / rel


class Artefacts:
    """Writes PNGs into ``report_dir``; returns report-relative paths (strings, for ``result.json``)."""

    def __init__(self, report_dir: Path) -> None:
        self.report_dir = Path(report_dir)

    def folder(self, edit: str, variant: str) -> Path:
        return Path("images") / edit / variant

    def write(self, rel: Path, image: np.ndarray) -> str:
        write_png(inside(self.report_dir, rel), image, compress_level=REPORT_PNG_LEVEL)
        return str(rel)

    def moment_images(self, edit: str, variant: str, evals: dict[str, FrameEval],
                      frames: dict[str, int]) -> list[MomentImages]:
        """Magenta render, leak heatmap and (when evaluated with it) the plain RGB render per moment (or
        any named frame, e.g. the worst closed one)."""
        rows = []
        for moment, ev in evals.items():
            rel = self.folder(edit, variant)
            region = np.logical_or.reduce([ev.regions[e] for e in EYES])
            magenta = self.write(rel / f"{moment}.png", ev.rgb)
            heat = self.write(rel / f"{moment}.heat.png", heatmap_image(ev.E, region, vmax=HEATMAP_VMAX))
            rgb = None if ev.plain is None else self.write(rel / f"{moment}.rgb.png", ev.plain)
            rows.append(MomentImages(edit, variant, moment, int(frames[moment]), magenta, heat, ev.metrics, rgb))
        return rows

    def result_image(self, edit: str, variant: str, moment: str) -> str:
        return str(self.folder(edit, variant) / f"{moment}.png")

    def golden_pair(self, edit: str, variant: str, moment: str, golden: np.ndarray,
                    diff: np.ndarray) -> tuple[str, str]:
        rel = self.folder(edit, variant)
        return (self.write(rel / f"{moment}.golden.png", golden), self.write(rel / f"{moment}.diff.png", diff))

    def face_images(self, edit: str, variant: str, moment: str, frame: int, view: FaceView,
                    value: float) -> FaceImages:
        """The face camera's render cropped to the sharpness region (a 4 px border), pixels outside the
        region washed towards white so the measured surface stands out."""
        ys, xs = np.nonzero(view.region)
        if len(ys):
            y0, y1 = max(ys.min() - 4, 0), ys.max() + 5
            x0, x1 = max(xs.min() - 4, 0), xs.max() + 5
        else:
            y0, y1, x0, x1 = 0, view.rgb.shape[0], 0, view.rgb.shape[1]
        img = np.where(view.region[..., None], view.rgb, 0.35 * view.rgb + 0.65)[y0:y1, x0:x1]
        rel = self.write(self.folder(edit, variant) / f"{moment}.face.png", img)
        return FaceImages(edit, variant, moment, int(frame), rel, float(value), int(view.region.sum()))

    def head_images(self, edit: str, variant: str, moment: str, frame: int, views: dict[str, HeadView],
                    worst: tuple[str, float]) -> HeadImages:
        """Per view: the render, and the render with its holes (alpha < OPAQUE over the mesh) painted red
        and everything outside the measured regions washed towards white."""
        out = {}
        for view, hv in views.items():
            rel = self.folder(edit, variant)
            image = self.write(rel / f"{moment}.head-{view}.png", hv.rgb)
            marked = np.where(hv.holes[..., None], np.array([1.0, 0.0, 0.0]),
                              np.where((hv.regions >= 0)[..., None], hv.rgb, 0.4 * hv.rgb + 0.6))
            holes = self.write(rel / f"{moment}.head-{view}.holes.png", marked)
            out[view] = {"image": image, "holes": holes, "shares": dict(hv.shares)}
        return HeadImages(edit, variant, moment, int(frame), out, worst[0], float(worst[1]))

    def ratio_image(self, edit: str, image: np.ndarray) -> str:
        return self.write(Path("images") / edit / "ratio.png", image)
