"""One frame of a large random scene (bench/raster_ref.py's rand500k: 500k splats, 512 px) on a backend.

    python3 bench/gpu/bench_big.py --backend cuda [--splats 500000] [--size 512] [--json out.json]

Median of ``--repeats`` whole ``render`` calls (upload, rasterise, download) after one warm-up.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import median_ms, report  # noqa: E402


def scene(n: int, size: int, seed: int = 5):
    """raster_ref.py's rand500k scene with ``n`` splats at ``size`` px (n=500000, size=512: the same)."""
    from avatarcheck.render.camera import Camera
    from avatarcheck.render.state import SplatState

    rng = np.random.default_rng(seed)
    pc = np.stack([rng.uniform(-0.5, 0.5, n), rng.uniform(-0.5, 0.5, n), rng.uniform(1.0, 3.0, n)], -1)
    f = 0.5 * size / np.tan(np.radians(30) / 2)
    quats = rng.normal(size=(n, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    state = SplatState.from_parts(pc.astype(np.float32), quats.astype(np.float32),
                                  rng.uniform(0.001, 0.006, (n, 3)).astype(np.float32),
                                  rng.uniform(0.05, 1.0, n).astype(np.float32),
                                  rng.uniform(0, 1, (n, 4)).astype(np.float32))
    K = np.array([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1]], np.float32)
    return state, Camera(np.eye(4, dtype=np.float32), K, size, size, 0.01, 100.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="cuda")
    ap.add_argument("--splats", type=int, default=500_000)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import torch

    from avatarcheck.render.api import render
    from avatarcheck.render.backend import resolve_backend
    from avatarcheck.threads import apply_thread_policy

    policy = apply_thread_policy()
    be = resolve_backend(args.backend)
    state, cam = scene(args.splats, args.size)
    sync = torch.cuda.synchronize if be.name == "cuda" else (lambda: None)
    ms = median_ms(lambda: render(state, cam, be.name), args.repeats, sync)
    rows = {"frame (ms)": ms, "frames/s": 1e3 / ms}
    meta = {"backend": be.name, "device": be.device_name(), "splats": args.splats, "size": args.size,
            "repeats": args.repeats, "threads": policy.numba, "machine": platform.platform(),
            "torch": torch.__version__, "date": datetime.date.today().isoformat()}
    report(f"{args.splats} random splats, {args.size} px, {be.name} ({meta['device']})", rows, meta, args.json)


if __name__ == "__main__":
    main()
