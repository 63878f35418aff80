"""Render timings on the 20k-splat synthetic head: projection, rasterisation, whole frame.

    python bench/bench_render.py [--backend cpu|cuda] [--sizes 256 512 1024] [--json bench/render.json]

Frontal eye-open frame of the embedded avatar (magenta shader, [R, G, B, E]); medians of
repeated runs, JIT warm-up and the first call excluded. "frame" is the whole per-frame path:
ARKit -> LBS -> splat binding -> shading -> projection -> rasteriser.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from _timing import median_ms




def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from avatarcheck.avatar import synthetic_avatar
    from avatarcheck.render.api import render
    from avatarcheck.render.cpu_raster import num_threads, rasterize_cpu
    from avatarcheck.render.gsplat_adapter import covariances, project

    av = synthetic_avatar()
    arkit = np.zeros((1, 52), np.float32)
    sync = torch.cuda.synchronize if args.backend == "cuda" else (lambda: None)
    rows = []
    for size in args.sizes:
        cam = av.camera(size)
        with torch.no_grad():
            state = av.state("magenta", arkit52=arkit)
            frame = lambda: render(av.state("magenta", arkit52=arkit), cam, args.backend)  # noqa: E731
            row = {"size": size, "splats": int(state.means.shape[1]), "frame_ms": median_ms(frame, args.repeats, sync)}
            if args.backend == "cpu":
                means, quats, scales = state.means[0], state.quats[0], state.scales[0]
                K, V = torch.from_numpy(cam.K), torch.from_numpy(cam.viewmat)
                proj_fn = lambda: project(means, covariances(quats, scales), V, K, size, size)  # noqa: E731
                row["project_ms"] = median_ms(proj_fn, args.repeats)
                p = proj_fn()
                args_np = [x.numpy() for x in (p.means2d, p.conics, state.opacities[0], state.colors[0], p.depths, p.radii)]
                row["raster_ms"] = median_ms(lambda: rasterize_cpu(*args_np, size, size), args.repeats)
        row["frames_per_s"] = 1e3 / row["frame_ms"]
        rows.append(row)
    meta = {"backend": args.backend, "date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
            "torch": torch.__version__, "machine": platform.machine(),
            "device": torch.cuda.get_device_name() if args.backend == "cuda" else f"CPU, {num_threads()} numba threads"}
    print(f"# render benchmark, synthetic head, {meta['device']}, torch {meta['torch']}, {meta['date']}")
    cols = [c for c in ("size", "splats", "project_ms", "raster_ms", "frame_ms", "frames_per_s") if c in rows[0]]
    print(" | ".join(f"{c:>12}" for c in cols))
    for r in rows:
        print(" | ".join(f"{r[c]:>12.2f}" if isinstance(r[c], float) else f"{r[c]:>12}" for c in cols))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()
