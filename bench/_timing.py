"""Shared by the bench scripts: median wall time of repeated calls, and the table/JSON report."""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable


def median_ms(fn: Callable[[], object], repeats: int, sync: Callable[[], object] = lambda: None) -> float:
    """Median milliseconds of ``repeats`` calls after one warm-up call (JIT, caches, allocator)."""
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def interleaved_ms(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Milliseconds per call of each arm over ``rounds`` rounds, after one warm-up call each.

    Every round runs each arm once, in an order shuffled per round (seeded, so runs repeat), so
    no arm always runs right after the same other one: an arm that leaves the machine busy
    (torch's OpenMP workers spin for a while after a call) would otherwise always slow the same
    next arm.
    """
    for fn in fns.values():
        fn()
    names = list(fns)
    order = random.Random(0)
    times: dict[str, list[float]] = {k: [] for k in names}
    for _ in range(rounds):
        for k in order.sample(names, len(names)):
            t0 = time.perf_counter()
            fns[k]()
            times[k].append((time.perf_counter() - t0) * 1e3)
    return times


def report(title: str, rows: dict[str, float], meta: dict, json_path: str | None) -> None:
    """Print ``rows`` as an aligned two-column table under ``title``; write them with ``meta`` as JSON."""
    width = max(map(len, rows))
    print(title)
    for k, v in rows.items():
        print(f"{k:<{width}}  {v:10.2f}")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"meta": meta, "results": rows}, f, indent=2)


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what platform knows."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def set_threads(threads: int | None) -> tuple[int, str]:
    """``--threads N`` sets numba and torch to N; None applies the package's thread policy.
    Returns (threads, why)."""
    import numba
    import torch

    from avatarcheck.threads import apply_thread_policy

    if threads is None:
        policy = apply_thread_policy()
        return policy.numba, policy.reason
    numba.set_num_threads(threads)
    torch.set_num_threads(threads)
    return threads, "--threads"
