"""One thread policy for the package: numba and torch never oversubscribe the cores.

avatarcheck's CPU work alternates between torch (LBS, binding, shading) and numba kernels
(projection, rasteriser); the two never run at the same time in one process, so both may use the
same number of threads, ``budget``. What oversubscribes is everything *else* on the machine:

* pytest-xdist workers (``-n auto`` starts one process per core, each with a full thread pool);
* other processes already running (on a shared 2-core machine a reduced gate took 117 s with two
  threads and 44 s with one, issue 16: spinning OpenMP workers that lose their core stall the
  whole parallel loop).

The rule (:func:`thread_budget`, a pure function; :func:`apply_thread_policy` applies it):

1. ``AVATARCHECK_THREADS=<n>`` (n >= 1) wins outright: exactly n threads, nothing else consulted.
   ``AVATARCHECK_THREADS=auto`` or unset: the rules below.
2. cores = the CPUs this process may run on (``os.sched_getaffinity``), else ``os.cpu_count()``.
3. Under pytest-xdist (``PYTEST_XDIST_WORKER_COUNT`` = w): ``cores // w``, at least 1.
4. If the 1-minute load average says other work already fills every core (load >= cores): one
   thread fewer per unit of load beyond that, ``cores - int(load - cores + 1)``, at least 1.
   Measured once, when the policy is applied (call it before the heavy work starts, so the load
   is other processes', not ours). Measured on the shared 2-core VM: at load ~1.5, 2 threads
   rendered 1.9x faster than 1; at load 4-6, 2 threads were up to 7x slower than 1 (torch's and
   numba's OpenMP workers stall when one of them loses its core), hence a cut only past full.
5. Never more than numba's own ceiling (``NUMBA_NUM_THREADS``, fixed at numba import).

Rendering results do not depend on the thread count (the rasteriser computes each pixel in one
thread), so the policy only changes speed. The CLI and benchmarks call
:func:`apply_thread_policy` once at start-up; library users may call it, or set the counts
themselves.
"""

from __future__ import annotations

import dataclasses
import logging
import os

__all__ = ["ENV_VAR", "ThreadPolicy", "apply_thread_policy", "available_cores", "thread_budget"]

ENV_VAR = "AVATARCHECK_THREADS"
XDIST_VAR = "PYTEST_XDIST_WORKER_COUNT"

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ThreadPolicy:
    """The counts applied: numba threads, torch intra-op threads, and why (``reason``)."""

    numba: int
    torch: int
    reason: str


def _positive_int(text: str | None) -> int | None:
    """``text`` as an int >= 1, or None (unset, empty, 'auto', or not a positive integer)."""
    if text is None:
        return None
    text = text.strip().lower()
    if text in ("", "auto"):
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 1 else None


def thread_budget(cores: int, xdist_workers: str | None = None, override: str | None = None,
                  load: float | None = None, numba_max: int | None = None) -> tuple[int, str]:
    """Threads per process for numba and torch, and the rule that decided it (module doc).

    Args:
        cores: CPUs this process may use (>= 1; smaller values count as 1).
        xdist_workers: ``PYTEST_XDIST_WORKER_COUNT`` as found in the environment (or None).
        override: ``AVATARCHECK_THREADS`` as found in the environment (or None). A value that is
            not 'auto' nor an integer >= 1 is ignored (the reason says so).
        load: the 1-minute load average of the machine before our work starts, or None.
        numba_max: numba's ceiling (``numba.config.NUMBA_NUM_THREADS``), or None for no ceiling.

    Returns:
        (threads >= 1, reason).
    """
    cores = max(1, int(cores))
    forced = _positive_int(override)
    if forced is not None:
        n = forced if numba_max is None else min(forced, numba_max)
        return n, f"{ENV_VAR}={forced}" + (f" (numba ceiling {numba_max})" if n != forced else "")
    notes = []
    if override is not None and override.strip().lower() not in ("", "auto"):
        notes.append(f"ignored {ENV_VAR}={override!r}")
    n = cores
    notes.append(f"{cores} cores")
    workers = _positive_int(xdist_workers)
    if workers is not None and workers > 1:
        n = max(1, cores // workers)
        notes.append(f"{workers} xdist workers")
    if load is not None and load == load and load >= cores:  # load == load: not NaN
        free = max(1, cores - int(load - cores + 1))
        if free < n:
            n = free
            notes.append(f"load {load:.2f}")
    if numba_max is not None and numba_max < n:
        n = max(1, numba_max)
        notes.append(f"numba ceiling {numba_max}")
    return n, ", ".join(notes)


def available_cores() -> int:
    """CPUs this process may run on (affinity mask, e.g. taskset or a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def apply_thread_policy(env: dict[str, str] | None = None, use_load: bool = True) -> ThreadPolicy:
    """Set numba's and torch's intra-op thread counts from :func:`thread_budget`; returns them.

    Call once at start-up (the CLI and the benchmarks do); calling again re-applies the rule.
    ``env`` defaults to ``os.environ``; ``use_load=False`` ignores the load average (for
    reproducible benchmarks that state their thread count).
    """
    import numba
    import torch

    env = os.environ if env is None else env
    load = os.getloadavg()[0] if use_load and hasattr(os, "getloadavg") else None
    n, reason = thread_budget(available_cores(), env.get(XDIST_VAR), env.get(ENV_VAR), load,
                              numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(n)
    torch.set_num_threads(n)
    log.info("thread policy: %d numba / %d torch threads (%s)", n, n, reason)
    return ThreadPolicy(n, n, reason)
