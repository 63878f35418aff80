"""avatarcheck's CPU rasteriser against a plain vectorised PyTorch rasteriser, interleaved in one process.

    python bench/bench_vs_torch.py [--rounds 5] [--threads N] [--baseline-rev 597a71f] [--json PATH]
    python bench/bench_vs_torch.py --avatar synthetic:lam-trained --scenes head512 eye256   # trained splats

Scenes (same inputs for every renderer):
  head512  the synthetic head (20k splats, magenta shader [R, G, B, E], eyes open), head camera 512 px
  eye256   the same head through the gate's eye camera, 256 px
  rand500k 500,000 random splats in front of a 512 px camera (bench/raster_ref.py's scene)

Renderers, timed round-robin in each round, the order shuffled every round (so load changes, and what one
arm leaves running, hit all of them alike):
  avatarcheck   ``cpu_raster.rasterize_splats`` (world-space splats -> image, the whole call)
  raster-only   avatarcheck's sort + bin + raster on pre-projected splats (the part the pair count
                measures)
  baseline      optional: ``rasterize_splats`` of an older revision of cpu_raster.py (``--baseline-rev``)
  torch         :func:`torch_rasterize`, written the obvious way: gsplat's torch projection, a stable
                depth sort, tile bins from a sorted (tile, depth) key, then per tile a dense
                (splats x 256 pixels) alpha matrix in chunks with cumprod transmittance and an
                early exit once every pixel of the tile is done

Prints a table (medians and spread over rounds, the avatarcheck / torch ratio, the composited
splat-pixel pairs and ns per pair) and writes JSON (default bench/results/vs_torch.json) with the
machine's load before and after, and the thread counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import cpu_name, interleaved_ms, set_threads  # noqa: E402

ALPHA_MAX = 0.999
ALPHA_MIN = 1.0 / 255.0
T_MIN = 1e-4
TILE = 16


# ----------------------------------------------------------------------------------------------
# The plain PyTorch rasteriser
# ----------------------------------------------------------------------------------------------


def torch_project(means, quats, scales, viewmat, K, width, height, near=0.01, far=100.0):
    """gsplat's torch projection: radii (N, 2), means2d (N, 2), depths (N,), conics (N, 3)."""
    from gsplat.cuda._torch_impl import _fully_fused_projection, _quat_scale_to_covar_preci

    covars, _ = _quat_scale_to_covar_preci(quats, scales, compute_covar=True, compute_preci=False)
    radii, means2d, depths, conics, _ = _fully_fused_projection(
        means, covars, viewmat[None], K[None], width, height, eps2d=0.3, near_plane=near, far_plane=far)
    return radii[0], means2d[0], depths[0], conics[0]


def torch_bins(means2d, radii, depths, width, height):
    """Tile lists: (offsets (tiles + 1,), splat ids in tile-major, depth-sorted order)."""
    tiles_x, tiles_y = -(-width // TILE), -(-height // TILE)
    valid = (radii > 0).all(-1)
    idx = torch.nonzero(valid).squeeze(1)
    idx = idx[torch.sort(depths[idx], stable=True).indices]
    m, r = means2d[idx], radii[idx].float()
    x0 = torch.clamp(torch.floor((m[:, 0] - r[:, 0]) / TILE), 0, tiles_x).long()
    x1 = torch.clamp(torch.ceil((m[:, 0] + r[:, 0]) / TILE), 0, tiles_x).long()
    y0 = torch.clamp(torch.floor((m[:, 1] - r[:, 1]) / TILE), 0, tiles_y).long()
    y1 = torch.clamp(torch.ceil((m[:, 1] + r[:, 1]) / TILE), 0, tiles_y).long()
    nx, ny = x1 - x0, y1 - y0
    per = nx * ny
    rank = torch.repeat_interleave(torch.arange(len(idx)), per)
    first = torch.cumsum(per, 0) - per
    local = torch.arange(int(per.sum())) - torch.repeat_interleave(first, per)
    tx = x0[rank] + local % nx[rank]
    ty = y0[rank] + local // nx[rank]
    tile = ty * tiles_x + tx
    order = torch.argsort(tile * len(idx) + rank)  # by tile, then by depth rank
    tile, rank = tile[order], rank[order]
    offsets = torch.zeros(tiles_x * tiles_y + 1, dtype=torch.long)
    offsets[1:] = torch.cumsum(torch.bincount(tile, minlength=tiles_x * tiles_y), 0)
    return offsets, idx[rank]


def torch_rasterize(means, quats, scales, opacities, colors, viewmat, K, width, height, chunk=64,
                    count_pairs=False):
    """colors (H, W, D), alpha (H, W) [, composited pairs]: gsplat's per-pixel rule, vectorised per tile."""
    radii, means2d, depths, conics = torch_project(means, quats, scales, viewmat, K, width, height)
    offsets, ids = torch_bins(means2d, radii, depths, width, height)
    tiles_x = -(-width // TILE)
    D = colors.shape[1]
    out_c = torch.zeros(height, width, D)
    out_a = torch.zeros(height, width)
    yy, xx = torch.meshgrid(torch.arange(TILE, dtype=torch.float32), torch.arange(TILE, dtype=torch.float32),
                            indexing="ij")
    pairs = 0
    for t in range(len(offsets) - 1):
        s, e = int(offsets[t]), int(offsets[t + 1])
        if s == e:
            continue
        y0, x0 = (t // tiles_x) * TILE, (t % tiles_x) * TILE
        px = (xx + x0 + 0.5).reshape(-1)
        py = (yy + y0 + 0.5).reshape(-1)
        T = torch.ones(TILE * TILE)
        done = torch.zeros(TILE * TILE, dtype=torch.bool)
        acc = torch.zeros(TILE * TILE, D)
        for c0 in range(s, e, chunk):
            g = ids[c0:min(e, c0 + chunk)]
            dx = means2d[g, 0:1] - px
            dy = means2d[g, 1:2] - py
            a, b, c = conics[g, 0:1], conics[g, 1:2], conics[g, 2:3]
            sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
            alpha = torch.clamp_max(opacities[g, None] * torch.exp(-sigma), ALPHA_MAX)
            alpha = torch.where((sigma >= 0) & (alpha >= ALPHA_MIN) & ~done, alpha, torch.zeros(()))
            next_t = T * torch.cumprod(1.0 - alpha, 0)
            keep = (next_t > T_MIN) & (alpha > 0)
            stopped = ((next_t <= T_MIN) & (alpha > 0)).any(0)
            t_before = torch.cat([T[None], next_t[:-1]], 0)
            w = torch.where(keep, alpha * t_before, torch.zeros(()))
            acc += w.T @ colors[g]
            if count_pairs:
                pairs += int(keep.sum())
            T = torch.where(keep, next_t, torch.full_like(next_t, float("inf"))).amin(0).clamp_max(T)
            done |= stopped
            if bool(done.all()):
                break
        h, w_ = min(TILE, height - y0), min(TILE, width - x0)
        out_c[y0:y0 + h, x0:x0 + w_] = acc.reshape(TILE, TILE, D)[:h, :w_]
        out_a[y0:y0 + h, x0:x0 + w_] = (1.0 - T).reshape(TILE, TILE)[:h, :w_]
    return (out_c, out_a, pairs) if count_pairs else (out_c, out_a)


# ----------------------------------------------------------------------------------------------
# Scenes and timing
# ----------------------------------------------------------------------------------------------


def scenes(avatar: str | None = None):
    """name -> dict(means, quats, scales, opacities, colors (numpy float32), viewmat, K, width, height)."""
    from raster_ref import _scenes

    out = {}
    for name, d in _scenes(avatar):
        if name == "head512_open":
            out["head512"] = d
        elif name == "eye256_open":
            out["eye256"] = d
        elif name == "rand500k":
            out["rand500k"] = d
    return out


def _load() -> tuple[float, float, float]:
    return os.getloadavg()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rounds-500k", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None,
                    help="numba and torch threads (default: avatarcheck.threads policy)")
    ap.add_argument("--baseline-rev", default=None, help="also time cpu_raster.py at this git revision")
    ap.add_argument("--scenes", nargs="+", default=["head512", "eye256", "rand500k"])
    ap.add_argument("--avatar", default=None, help="the head scenes' avatar (--avatar spec; default: the stand-in)")
    ap.add_argument("--json", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                   "vs_torch.json"))
    args = ap.parse_args()

    import numba

    from avatarcheck.render import cpu_raster, projection

    threads, reason = set_threads(args.threads)
    baseline = None
    if args.baseline_rev:
        from _revision import cpu_raster_at

        baseline = cpu_raster_at(args.baseline_rev)
    cpu_raster.warmup()
    load_before = _load()
    all_scenes = scenes(args.avatar)
    rows = []
    for name in args.scenes:
        d = all_scenes[name]
        W, H = int(d["width"]), int(d["height"])
        np_args = (d["means"], d["quats"], d["scales"], d["opacities"], d["colors"], d["viewmat"], d["K"], W, H)
        t_args = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in np_args[:7]) + (W, H)
        covs = projection.covariances(d["quats"], d["scales"])
        p = projection.project(d["means"], covs, d["opacities"], d["viewmat"], d["K"], W, H, 0.01, 100.0)
        col = np.ascontiguousarray(d["colors"])

        def raster_only():
            return cpu_raster._raster_batch(p.means2d[None], p.conics[None], d["opacities"][None], col[None],
                                            p.depths[None], p.radii[None], p.cuts[None], p.half_x[None],
                                            p.half_y[None], W, H)

        fns = {"avatarcheck": lambda: cpu_raster.rasterize_splats(*np_args), "raster-only": raster_only}
        if baseline is not None:
            fns["baseline"] = lambda: baseline.rasterize_splats(*np_args)
        fns["torch"] = lambda: torch_rasterize(*t_args)

        with torch.no_grad():
            ref_c, ref_a = cpu_raster.rasterize_splats(*np_args)
            tc, ta, pairs = torch_rasterize(*t_args, count_pairs=True)
            max_da = float(np.abs(ta.numpy() - ref_a).max())
            n_rounds = args.rounds_500k if name == "rand500k" else args.rounds
            times = interleaved_ms(fns, n_rounds)
        ratios = [a / b for a, b in zip(times["avatarcheck"], times["torch"])]
        row = {"scene": name, "splats": int(d["means"].shape[0]), "size": f"{W}x{H}", "rounds": n_rounds,
               "composited_pairs": pairs, "max_alpha_diff_vs_torch": max_da}
        for k, v in times.items():
            row[f"{k}_ms_median"] = statistics.median(v)
            row[f"{k}_ms_min"] = min(v)
            row[f"{k}_ms_max"] = max(v)
        row["ratio_avatarcheck_over_torch_median"] = statistics.median(ratios)
        row["ratio_min"], row["ratio_max"] = min(ratios), max(ratios)
        if baseline is not None:
            sp = [a / b for a, b in zip(times["baseline"], times["avatarcheck"])]
            row["speedup_vs_baseline_median"] = statistics.median(sp)
            row["speedup_vs_baseline_min"], row["speedup_vs_baseline_max"] = min(sp), max(sp)
        row["ns_per_pair_whole_call"] = row["avatarcheck_ms_median"] * 1e6 / max(pairs, 1)
        row["ns_per_pair_raster_only"] = row["raster-only_ms_median"] * 1e6 / max(pairs, 1)
        rows.append(row)
        print(f"{name}: done ({n_rounds} rounds)", file=sys.stderr)
    load_after = _load()

    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "avatar": args.avatar or "synthetic", "cpu": cpu_name(), "cores": os.cpu_count(),
            "threads": threads, "thread_reason": reason, "numba_threads": numba.get_num_threads(),
            "torch_threads": torch.get_num_threads(), "loadavg_before": load_before, "loadavg_after": load_after,
            "torch": torch.__version__, "numba": numba.__version__, "python": platform.python_version(),
            "baseline_rev": args.baseline_rev, "gpu": "none (nothing GPU measured)"}
    print(f"# avatarcheck CPU vs plain torch, {meta['cpu']}, {threads} threads ({reason}), "
          f"load {load_before[0]:.2f} -> {load_after[0]:.2f}, {meta['date']}")
    head = ["scene", "splats", "pairs", "avatarcheck ms", "raster-only ms"]
    if baseline is not None:
        head += ["baseline ms", "speedup"]
    head += ["torch ms", "ratio", "ns/pair call", "ns/pair raster"]
    print(" | ".join(head))
    for r in rows:
        cells = [r["scene"], str(r["splats"]), f"{r['composited_pairs']:,}",
                 f"{r['avatarcheck_ms_median']:.1f} ({r['avatarcheck_ms_min']:.1f}-{r['avatarcheck_ms_max']:.1f})",
                 f"{r['raster-only_ms_median']:.1f} ({r['raster-only_ms_min']:.1f}-{r['raster-only_ms_max']:.1f})"]
        if baseline is not None:
            cells += [f"{r['baseline_ms_median']:.1f} ({r['baseline_ms_min']:.1f}-{r['baseline_ms_max']:.1f})",
                      f"{r['speedup_vs_baseline_median']:.2f}x ({r['speedup_vs_baseline_min']:.2f}-"
                      f"{r['speedup_vs_baseline_max']:.2f})"]
        cells += [f"{r['torch_ms_median']:.0f} ({r['torch_ms_min']:.0f}-{r['torch_ms_max']:.0f})",
                  f"{r['ratio_avatarcheck_over_torch_median']:.4f} ({r['ratio_min']:.4f}-{r['ratio_max']:.4f})",
                  f"{r['ns_per_pair_whole_call']:.1f}", f"{r['ns_per_pair_raster_only']:.1f}"]
        print(" | ".join(cells))
    if args.json:
        os.makedirs(os.path.dirname(args.json), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": rows}, f, indent=2)
        print(f"wrote {args.json}")



if __name__ == "__main__":
    main()
