"""A trained-statistics avatar against the embedded stand-in: one frame, same head, same camera, same backend.

    python3 bench/bench_trained.py [--sizes 256 512] [--rounds 15] [--json bench/results/trained_cpu.json]

Trained LAM splats are big and soft (sigmas 1.8x the edge on the lids, 10 % at the 0.01 m clip, eyeball
splats painting the skin at opacity ~0.01), so each covers more tiles and pixels than the stand-in's
calibrated discs. The arms run interleaved in a shuffled order per round (``_timing.interleaved_ms``);
the table gives medians and the ratio trained / stand-in (the goal: at most 2x). ``eye`` is the gate's eye
camera (what the gate renders), ``head`` the whole-head camera.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import cpu_name, interleaved_ms, report  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from avatarcheck.arkit import arkit_index
    from avatarcheck.render.api import render
    from avatarcheck.sources import load_avatar_source
    from avatarcheck.threads import apply_thread_policy

    policy = apply_thread_policy()
    avatars = {"stand-in": load_avatar_source(None).avatar,
               "lam-trained": load_avatar_source("synthetic:lam-trained").avatar}
    closed = np.zeros((1, 52), np.float32)
    closed[0, [arkit_index("eyeBlinkLeft"), arkit_index("eyeBlinkRight")]] = 1.0  # the gate's full blink
    rows: dict[str, float] = {}
    for size in args.sizes:
        for view in ("eye", "head"):
            fns = {}
            for name, av in avatars.items():
                cam = av.eye_camera(size) if view == "eye" else av.camera(size)
                state = av.state("magenta", arkit52=closed)
                fns[name] = (lambda s=state, c=cam: render(s, c, args.backend))
            with torch.no_grad():
                times = interleaved_ms(fns, args.rounds)
            med = {k: statistics.median(v) for k, v in times.items()}
            for k, v in med.items():
                rows[f"{view} {size}px {k} (ms)"] = v
            rows[f"{view} {size}px ratio trained/stand-in"] = med["lam-trained"] / med["stand-in"]
    meta = {"backend": args.backend, "threads": policy.numba, "cpu": cpu_name(), "cpu_count": os.cpu_count(),
            "load": os.getloadavg(), "machine": platform.platform(), "date": datetime.date.today().isoformat()}
    report("one magenta frame at the full blink: trained statistics vs the stand-in", rows, meta, args.json)


if __name__ == "__main__":
    main()
