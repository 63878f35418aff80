"""The lash-line seam: E over the exposed eyeball cap at a take's full blink (README, "The lash-line seam").

    python3 bench/lash_line.py [--avatar SOURCE ...] [--take synthetic:1] [--size 256] [--json PATH]

Per avatar (any ``--avatar`` source: ``synthetic``, ``synthetic:lam-trained``, an OAC zip, ...), unedited:
the eyeball splats the leak counts (on the sphere) narrowed to the cap the open eye shows
(``gate.leak_eyeball.exposed_vertices``, the gaze up to 20 degrees any way), rendered magenta at the full
blink with the take's eye rotation. Printed per eye: E max over the lid-covered pixels and the share of them
above the gate's ``visible`` level (0.1). A finding, not a check: the gate counts the whole sphere.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np
import torch


def lash_line(source: str | None, take_source: str, size: int, visible: float) -> dict[str, dict[str, float]]:
    """eye -> {"e_max", "area_over_visible", "covered_px"} for ``source`` at the take's full blink."""
    from avatarcheck.gate.evaluate import evaluate_frames
    from avatarcheck.gate.inputs import load_take_source, take_pose
    from avatarcheck.gate.leak_eyeball import as_leak_view, exposed_vertices, leak_eyeball_mask
    from avatarcheck.moments import select_moments
    from avatarcheck.sources import load_avatar_source

    avatar = load_avatar_source(source).avatar
    take = load_take_source(take_source)
    frame = select_moments(take, ("full_blink",))["full_blink"].frame
    view = as_leak_view(avatar, leak_eyeball_mask(avatar) & exposed_vertices(avatar))
    with torch.no_grad():
        ev = evaluate_frames(view, take_pose(take, np.array([frame]), True), avatar.eye_camera(size), "cpu",
                             visible=visible, coverage=False)[0]
    return {eye: {"e_max": m["leak_max"], "area_over_visible": m["leak_area"], "covered_px": m["covered_px"]}
            for eye, m in ev.metrics.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--avatar", nargs="+", default=["synthetic", "synthetic:lam-trained"])
    ap.add_argument("--take", default="synthetic:1")
    ap.add_argument("--size", type=int, default=256, help="eye camera pixels (the gate's default 256)")
    ap.add_argument("--visible", type=float, default=0.1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    rows = {src: lash_line(src, args.take, args.size, args.visible) for src in args.avatar}
    print(f"| avatar | eye | E max | share of covered px over {args.visible:g} | covered px |")
    print("|---|---|---:|---:|---:|")
    for src, per_eye in rows.items():
        for eye, m in per_eye.items():
            print(f"| {Path(src).name} | {eye} | {m['e_max']:.2f} | {m['area_over_visible']:.0%} "
                  f"| {m['covered_px']:.0f} |")
    if args.json:
        from avatarcheck.io.atomic import write_text_atomic

        doc = {"date": datetime.date.today().isoformat(), "take": args.take, "size": args.size, "rows": rows}
        write_text_atomic(args.json, json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
