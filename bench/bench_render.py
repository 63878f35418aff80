"""Render timings on the 20k-splat synthetic head: projection, rasterisation, whole frame.

(CPU: ``project_ms`` is the numba projection that ``rasterize_splats`` uses, covariances included;
``torch_project_ms`` is gsplat's torch projection it replaced, for comparison.)

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
    from avatarcheck.render import projection
    from avatarcheck.render.gsplat_adapter import covariances, project
    from avatarcheck.threads import apply_thread_policy

    apply_thread_policy()

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
                torch_proj = lambda: project(means, covariances(quats, scales), V, K, size, size)  # noqa: E731
                row["torch_project_ms"] = median_ms(torch_proj, args.repeats)
                m_np, q_np, s_np, o_np = (x.numpy() for x in (means, quats, scales, state.opacities[0]))
                proj_fn = lambda: projection.project(m_np, projection.covariances(q_np, s_np), o_np, cam.viewmat,  # noqa: E731
                                                     cam.K, size, size, cam.near, cam.far)
                row["project_ms"] = median_ms(proj_fn, args.repeats)
                p = proj_fn()
                args_np = [p.means2d, p.conics, o_np, state.colors[0].numpy(), p.depths, p.radii]
                row["raster_ms"] = median_ms(lambda: rasterize_cpu(*args_np, size, size), args.repeats)
        row["frames_per_s"] = 1e3 / row["frame_ms"]
        rows.append(row)
    meta = {"backend": args.backend, "date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
            "torch": torch.__version__, "machine": platform.machine(),
            "device": torch.cuda.get_device_name() if args.backend == "cuda" else f"CPU, {num_threads()} numba threads"}
    print(f"# render benchmark, synthetic head, {meta['device']}, torch {meta['torch']}, {meta['date']}")
    cols = [c for c in ("size", "splats", "torch_project_ms", "project_ms", "raster_ms", "frame_ms", "frames_per_s")
            if c in rows[0]]
    print(" | ".join(f"{c:>12}" for c in cols))
    for r in rows:
        print(" | ".join(f"{r[c]:>12.2f}" if isinstance(r[c], float) else f"{r[c]:>12}" for c in cols))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()
