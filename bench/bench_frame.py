"""Whole CPU frame (ARKit -> LBS -> binding -> shading -> projection -> raster) against an older cpu_raster.

    python bench/bench_frame.py [--baseline-rev 597a71f] [--sizes 256 512] [--batch 16] [--rounds 9]
                                [--threads N] [--json bench/results/frame.json]

``render(av.state(...), camera, "cpu")`` as the package calls it, with ``cpu_raster`` as it is now and,
interleaved in the same rounds, with ``cpu_raster.rasterize_splats`` swapped for the one at
``--baseline-rev`` (render/api.py imports it at call time, so the swap takes effect there).
Also B frames at once: ``rasterize_splats_batch`` on a B-frame state (shared quats/scales/colours
as SplatState makes them) against B ``rasterize_splats`` calls, per frame.
Medians of interleaved rounds; the load average before and after is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

from _timing import interleaved_ms, set_threads  # noqa: E402 (bench scripts run from bench/)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline-rev", default="597a71f")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                   "frame.json"))
    args = ap.parse_args()

    from _revision import cpu_raster_at
    from avatarcheck.arkit import arkit_index
    from avatarcheck.avatar import synthetic_avatar
    from avatarcheck.render import cpu_raster
    from avatarcheck.render.api import render

    threads, reason = set_threads(args.threads)
    old = cpu_raster_at(args.baseline_rev)
    new_fn = cpu_raster.rasterize_splats
    cpu_raster.warmup()
    av = synthetic_avatar()
    w1 = np.zeros((1, 52), np.float32)
    load_before = os.getloadavg()
    rows = []
    for size in args.sizes:
        cam = av.camera(size)

        def as_batch(single):
            # The CPU backend calls rasterize_splats_batch; the baseline had only the one-frame call,
            # composited over the background in numpy as render/api.py then did.
            def batch(means, quats, scales, opacities, colors, viewmat, K, width, height, near, far,
                      background=None, only=None):
                assert only is None, "the whole-frame benchmark renders every pixel"
                outs = [single(means[i], quats[i], scales[i], opacities[i], colors[i], viewmat, K, width, height,
                               near, far) for i in range(means.shape[0])]
                c, a = np.stack([o[0] for o in outs]), np.stack([o[1] for o in outs])
                if background is not None:
                    c = c + (np.float32(1) - a)[..., None] * background
                return c.astype(np.float32), a
            return batch

        new_batch = cpu_raster.rasterize_splats_batch

        def frame(batch_fn):
            def run():
                cpu_raster.rasterize_splats_batch = batch_fn
                try:
                    with torch.no_grad():
                        return render(av.state("magenta", arkit52=w1), cam, "cpu")
                finally:
                    cpu_raster.rasterize_splats_batch = new_batch
            return run

        new_fn_b, old_fn_b = new_batch, as_batch(old.rasterize_splats)
        a, b = frame(new_fn_b)(), frame(old_fn_b)()
        same = bool(np.array_equal(a.colors, b.colors) and np.array_equal(a.alpha, b.alpha))
        t = interleaved_ms({"now": frame(new_fn_b), "baseline": frame(old_fn_b)}, args.rounds)
        sp = [x / y for x, y in zip(t["baseline"], t["now"])]
        rows.append({"what": f"whole frame {size}px", "now_ms": statistics.median(t["now"]),
                     "now_range": [min(t["now"]), max(t["now"])], "baseline_ms": statistics.median(t["baseline"]),
                     "baseline_range": [min(t["baseline"]), max(t["baseline"])],
                     "speedup_median": statistics.median(sp), "speedup_range": [min(sp), max(sp)],
                     "bit_identical": same})

    # The same frame as render/api.py could do it: one rasterize_splats_batch call with the
    # background composited in the kernel (bit-identical to render()'s output).
    from avatarcheck.render.api import default_background

    cam = av.camera(512)

    def via_batch():
        with torch.no_grad():
            s1 = av.state("magenta", arkit52=w1)
        return cpu_raster.rasterize_splats_batch(s1.means, s1.quats, s1.scales, s1.opacities, s1.colors, cam.viewmat,
                                                 cam.K, cam.width, cam.height, cam.near, cam.far,
                                                 background=default_background(s1.num_channels).numpy())

    def via_render():
        with torch.no_grad():
            return render(av.state("magenta", arkit52=w1), cam, "cpu")

    r, (bc1, ba1) = via_render(), via_batch()
    same = bool(np.array_equal(r.colors, bc1) and np.array_equal(r.alpha, ba1))
    t = interleaved_ms({"render": via_render, "batch_bg": via_batch}, args.rounds)
    rows.append({"what": "frame 512px: render() vs rasterize_splats_batch(background=)",
                 "render_ms": statistics.median(t["render"]), "batch_bg_ms": statistics.median(t["batch_bg"]),
                 "render_over_batch_bg": statistics.median(t["render"]) / statistics.median(t["batch_bg"]),
                 "bit_identical": same})

    # B frames in one call against B single-frame calls (same process, interleaved)
    B = args.batch
    wb = np.zeros((B, 52), np.float32)
    wb[:, arkit_index("EyeBlinkLeft")] = wb[:, arkit_index("EyeBlinkRight")] = np.linspace(0, 1, B)
    cam = av.camera(512)
    with torch.no_grad():
        st = av.state("magenta", arkit52=wb)
    parts = (st.means, st.quats, st.scales, st.opacities, st.colors)
    cam_args = (cam.viewmat, cam.K, cam.width, cam.height, cam.near, cam.far)

    def batched():
        return cpu_raster.rasterize_splats_batch(*parts, *cam_args)

    def looped():
        return [new_fn(*(p[i] for p in parts), *cam_args) for i in range(B)]

    def looped_old():
        return [old.rasterize_splats(*(p[i] for p in parts), *cam_args) for i in range(B)]

    arms = {"batch": batched, "loop": looped, "loop_baseline": looped_old}
    if hasattr(old, "rasterize_splats_batch"):  # the baseline's own batched call, where it had one
        arms["batch_baseline"] = lambda: old.rasterize_splats_batch(*parts, *cam_args)
    bc, ba = batched()
    lo = looped()
    same = all(np.array_equal(bc[i], lo[i][0]) and np.array_equal(ba[i], lo[i][1]) for i in range(B))
    t = interleaved_ms(arms, args.rounds)
    row = {"what": f"{B} frames 512px, per frame", "batch_ms": statistics.median(t["batch"]) / B,
           "loop_ms": statistics.median(t["loop"]) / B, "loop_baseline_ms": statistics.median(t["loop_baseline"]) / B,
           "batch_over_loop": statistics.median(t["batch"]) / statistics.median(t["loop"]),
           "baseline_over_batch": statistics.median(t["loop_baseline"]) / statistics.median(t["batch"]),
           "bit_identical": same}
    if "batch_baseline" in t:
        row["batch_baseline_ms"] = statistics.median(t["batch_baseline"]) / B
        row["batch_baseline_over_batch"] = statistics.median(t["batch_baseline"]) / statistics.median(t["batch"])
    rows.append(row)
    load_after = os.getloadavg()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "threads": threads, "thread_reason": reason,
            "loadavg_before": load_before, "loadavg_after": load_after, "baseline_rev": args.baseline_rev,
            "rounds": args.rounds, "splats": int(st.means.shape[1]), "gpu": "none (nothing GPU measured)"}
    print(f"# whole CPU frame, {threads} threads ({reason}), load {load_before[0]:.2f} -> {load_after[0]:.2f}, "
          f"baseline {args.baseline_rev}, {meta['date']}")
    for r in rows:
        print("  ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))
    if args.json:
        os.makedirs(os.path.dirname(args.json), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": rows}, f, indent=2, default=float)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
