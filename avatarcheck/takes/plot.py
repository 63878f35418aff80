"""A small timeline PNG of a take's eye channels with its moments marked.

Uses matplotlib's object API on an Agg canvas (no pyplot, no global backend switch), renders to
memory and writes the file atomically.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from avatarcheck.io.atomic import write_bytes_atomic
from avatarcheck.takes.take import Take


class _Marked(Protocol):
    """What the plot needs of a moment: its frame (any moment type the gate defines)."""

    frame: int

_COLOURS = {"eye_wide": "tab:green", "full_blink": "tab:red", "half_blink_down": "tab:purple"}


def plot_timeline(take: Take, moments: Mapping[str, _Marked], path: str | os.PathLike, eye: str = "both",
                  width_px: int = 1000, height_px: int = 360) -> None:
    """Blink, eyeWide and eyeLookDown over time (per eye, or both), moments as labelled lines.

    ``path`` must be a writable ``.png`` (checked before drawing: PNG bytes in ``x.txt`` help nobody)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from avatarcheck.takes.files import check_output_path

    check_output_path(path, (".png",))

    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    t = take.timestamps - take.timestamps[0]
    sides = ("Left", "Right") if eye == "both" else (eye.capitalize(),)
    for base, colour in (("eyeBlink", "tab:blue"), ("eyeWide", "tab:green"), ("eyeLookDown", "tab:orange")):
        for side, style in zip(sides, ("-", "--")):
            ax.plot(t, take.channel(base + side), style, color=colour, linewidth=1.0, label=f"{base}{side}")
    for name, moment in moments.items():
        x = t[moment.frame]
        ax.axvline(x, color=_COLOURS.get(name, "black"), linewidth=1.2, alpha=0.8)
        ax.annotate(f"{name}\nframe {moment.frame}", (x, 1.02), xycoords=("data", "data"), fontsize=7,
                    ha="center", va="bottom", color=_COLOURS.get(name, "black"))
    ax.set_xlim(0, max(float(t[-1]), 1e-6))
    ax.set_ylim(-0.02, 1.22)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_xlabel("seconds")
    ax.set_ylabel("weight")
    ax.set_title(f"{take.source}  ({take.num_frames} frames, {take.fps:g} fps, eye: {eye})", fontsize=8)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_bytes_atomic(path, buf.getvalue())
