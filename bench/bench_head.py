"""Head-model timings: synthetic head generation, subdivision, batched forward (CPU or CUDA).

    python bench/bench_head.py [--device cuda] [--json bench/head.json]

Prints a table and writes JSON; medians of repeated runs, first (warm-up) run excluded.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from _timing import median_ms, report




def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from avatarcheck.head.layer import HeadLayer
    from avatarcheck.head.subdivided import subdivide_head
    from avatarcheck.head.synthetic.build import synthetic_head

    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    head = synthetic_head()
    sub, _ = subdivide_head(head)
    rows = {
        "synthetic_head generate (ms)": median_ms(lambda: synthetic_head.__wrapped__(), args.repeats),
        "subdivide_head (ms)": median_ms(lambda: subdivide_head(head), args.repeats),
    }
    for model, label in ((head, f"coarse V={head.num_vertices}"), (sub, f"subdivided V={sub.num_vertices}")):
        layer = HeadLayer(model, device=dev)
        for batch in (1, 64):
            w = torch.rand(batch, 52, device=dev)
            rot = torch.randn(batch, 3, device=dev) * 0.2
            with torch.no_grad():
                ms = median_ms(lambda: layer(w, global_rot=rot), args.repeats, sync)
            rows[f"forward {label} B={batch} (ms)"] = ms
            rows[f"forward {label} B={batch} (frames/s)"] = batch / ms * 1e3
    meta = {"device": str(dev) if dev.type == "cpu" else torch.cuda.get_device_name(dev),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d")}
    report(f"# head benchmark on {meta['device']} (torch {meta['torch']}, {meta['threads']} threads)",
           rows, meta, args.json)


if __name__ == "__main__":
    main()
