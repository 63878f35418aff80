"""CPU reference rasteriser timings on a synthetic head-sized splat cloud.

    python bench/bench_raster.py [--splats 20000] [--fov 20] [--sizes 256 512 1024] [--json bench/raster.json]

Scene: N isotropic splats on a Fibonacci sphere of radius 0.1 m, camera 0.6 m away looking at its
centre, pinhole with the given horizontal field of view, sigma = 0.75 x neighbour spacing,
opacity 0.95, colours [R, G, B, E]. Times the projection (gsplat's torch EWA code, and the numba
one that ``rasterize_splats`` uses) and ``rasterize_cpu`` separately, under the package thread
policy (``AVATARCHECK_THREADS`` overrides it): medians of repeated runs, after a warm-up run that also pays for the
numba JIT (reported on its own). Prints a table and optionally writes JSON.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numba
import numpy as np
import torch

from _timing import cpu_name, median_ms, report




def sphere_scene(n: int, radius: float = 0.1, seed: int = 0):
    """n splats on a Fibonacci sphere: means, quats (identity), scales, opacities, colours (n, 4)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(1.0 - z * z)
    phi = math.pi * (3.0 - math.sqrt(5.0)) * i
    means = radius * np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    spacing = math.sqrt(4.0 * math.pi * radius**2 / n)
    rng = np.random.default_rng(seed)
    quats = np.tile(np.array([1.0, 0.0, 0.0, 0.0]), (n, 1))
    scales = np.full((n, 3), 0.75 * spacing)
    opacities = np.full(n, 0.95)
    colors = np.concatenate([rng.uniform(0.2, 1.0, (n, 3)), (rng.uniform(size=(n, 1)) < 0.1)], axis=1)
    f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.float32))  # noqa: E731
    return f32(means), f32(quats), f32(scales), f32(opacities), f32(colors)


def camera(size: int, fov_deg: float, distance: float = 0.6):
    """Camera at (0, 0, -distance) looking down +z at the origin (OpenCV axes): viewmat, K."""
    viewmat = torch.eye(4)
    viewmat[2, 3] = distance
    f = 0.5 * size / math.tan(math.radians(fov_deg) / 2)
    K = torch.tensor([[f, 0.0, size / 2], [0.0, f, size / 2], [0.0, 0.0, 1.0]])
    return viewmat, K



def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--splats", type=int, default=20000)
    ap.add_argument("--fov", type=float, default=20.0)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from avatarcheck.render import gsplat_adapter, projection
    from avatarcheck.render.cpu_raster import rasterize_cpu, warmup
    from avatarcheck.threads import apply_thread_policy

    apply_thread_policy()

    jit_s = warmup()
    means, quats, scales, opacities, colors = sphere_scene(args.splats)
    op_np, col_np = opacities.numpy(), colors.numpy()
    rows: dict[str, float] = {"numba JIT / cache load, first call (ms)": jit_s * 1e3}
    for size in args.sizes:
        viewmat, K = camera(size, args.fov)

        def proj():
            with torch.no_grad():
                covars = gsplat_adapter.covariances(quats, scales)
                return gsplat_adapter.project(means, covars, viewmat, K, size, size)

        p = proj()
        args_r = (p.means2d.numpy(), p.conics.numpy(), op_np, col_np, p.depths.numpy(), p.radii.numpy(),
                  size, size)
        _, alpha = rasterize_cpu(*args_r)
        np_in = [x.numpy() for x in (means, quats, scales)] + [viewmat.numpy(), K.numpy()]

        def proj_numba():
            covs = projection.covariances(np_in[1], np_in[2])
            return projection.project(np_in[0], covs, op_np, np_in[3], np_in[4], size, size, 0.01, 100.0)

        rows[f"{size}px projection, gsplat torch (ms)"] = median_ms(proj, args.repeats)
        rows[f"{size}px projection, numba (ms)"] = median_ms(proj_numba, args.repeats)
        rows[f"{size}px rasterize_cpu (ms)"] = median_ms(lambda: rasterize_cpu(*args_r), args.repeats)
        rows[f"{size}px coverage (alpha > 0.5, %)"] = float((alpha > 0.5).mean() * 100)
    meta = {"cpu": cpu_name(), "cores": os.cpu_count(), "numba_threads": numba.get_num_threads(),
            "torch_threads": torch.get_num_threads(), "numba": numba.__version__, "torch": torch.__version__,
            "python": platform.python_version(), "splats": args.splats, "fov_deg": args.fov,
            "date": time.strftime("%Y-%m-%d")}
    report(f"# CPU raster benchmark on {meta['cpu']}: {args.splats} splats, fov {args.fov} deg, "
           f"{meta['numba_threads']} numba threads, {meta['torch_threads']} torch threads", rows, meta, args.json)


if __name__ == "__main__":
    main()
