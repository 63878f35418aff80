"""Take replay throughput: frames/s of pose + shade + render, single frame and batched.

    python3 bench/bench_replay.py --backend cpu  [--take synthetic:1] [--size 256] [--batch 64]
    python3 bench/bench_replay.py --backend cuda --batch 256      # on a GPU machine

Target on a GPU (issue 16): >= 2000 frames/s batched at the 256 px eye camera (LAM's renderer does
about 310 fps single-frame on an RTX 5090, per the LAM chibi recipe). Medians of repeated passes over
the take's first ``--frames`` frames, after a warm-up pass (JIT, CUDA kernels).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import report  # noqa: E402


def main() -> None:
    from avatarcheck.render.backend import backend_names

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="cpu", choices=backend_names(include_auto=False))
    ap.add_argument("--take", default="synthetic:1")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--frames", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import torch

    from avatarcheck.avatar import synthetic_avatar
    from avatarcheck.gate.inputs import load_take_source
    from avatarcheck.head.pose import Pose
    from avatarcheck.render.api import render
    from avatarcheck.render.backend import resolve_backend
    from avatarcheck.threads import apply_thread_policy

    policy = apply_thread_policy()
    backend = resolve_backend(args.backend)
    av = synthetic_avatar()
    if backend.name == "cuda":
        av.layer.to("cuda")
    cam = av.eye_camera(args.size)
    take = load_take_source(args.take)
    weights = take.weights[: args.frames]
    sync = torch.cuda.synchronize if backend.name == "cuda" else (lambda: None)

    def replay(batch: int) -> float:
        t0 = time.perf_counter()
        for i in range(0, len(weights), batch):
            render(av.state("magenta", Pose(weights[i:i + batch])), cam, backend.name)
        sync()
        return len(weights) / (time.perf_counter() - t0)

    rows = {}
    for label, batch in (("single frame (frames/s)", 1), (f"batch {args.batch} (frames/s)", args.batch)):
        replay(batch)
        rows[label] = statistics.median(replay(batch) for _ in range(args.repeats))
    meta = {"backend": backend.name, "device": backend.device_name(), "size": args.size, "frames": len(weights),
            "threads": policy.numba, "load": os.getloadavg(), "machine": platform.platform(),
            "date": datetime.date.today().isoformat(), "target_batched_gpu_fps": 2000}
    report(f"take replay, {backend.name}, {args.size} px eye camera", rows, meta, args.json)


if __name__ == "__main__":
    main()
