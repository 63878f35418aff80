"""Where the avatars' groups run: in this process, in a local process pool, or on a Dask cluster.

Each engine runs ``worker.run_group`` once per avatar and hands each group's rows to ``on_rows`` as they
arrive. None of them lets one avatar crash the run: a task that raises, or a worker that dies, gives its
items internal-error rows (not stored: a rerun retries them).

Threads: ``workers x threads`` never exceeds the cores. Locally (pool or ``--cluster local``) workers are
capped at the cores and each gets ``cores // workers`` numba/torch threads. On a cluster each Dask worker
gets its machine's cores divided by the task slots of every worker on that machine (asked once, when the
run starts); a worker that joins later divides its machine's cores by its own slots.

Dask is imported only here and only for ``--cluster`` (the ``cluster`` extra); the local engines need it not.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from avatarcheck.catalogue.plan import AvatarGroup, Settings
from avatarcheck.catalogue.rows import error_row
from avatarcheck.catalogue.worker import run_group
from avatarcheck.errors import InputError
from avatarcheck.threads import available_cores

OnRows = Callable[[list[dict[str, Any]]], None]
LOCAL_CLUSTER = "local"
CONNECT_TIMEOUT_S = 30


def local_threads(workers: int) -> tuple[int, int]:
    """(workers, threads each) for this machine: workers capped at the cores, ``workers x threads <= cores``."""
    cores = available_cores()
    workers = max(1, min(int(workers), cores))
    return workers, max(1, cores // workers)


def lost_rows(group: AvatarGroup, err: BaseException) -> list[dict[str, Any]]:
    """Red rows for a group whose task raised or whose worker died."""
    message = f"the worker running this avatar was lost: {type(err).__name__}: {err}"
    return [error_row(i.label, i.avatar, i.edit.name, i.take, message, "internal", i.key) for i in group.items]


def _collect(finished: Iterable, groups: dict, on_rows: OnRows) -> None:
    """Each finished future's rows (or lost rows) to ``on_rows``, in completion order."""
    for future in finished:
        try:
            rows = future.result()
        except Exception as err:  # noqa: BLE001 - a lost worker is red rows, not a crashed run
            rows = lost_rows(groups[future], err)
        on_rows(rows)


def run_sequential(groups: list[AvatarGroup], settings: Settings, on_rows: OnRows) -> None:
    """In this process, with the threads the command set; rows one by one."""
    for group in groups:
        run_group(group, settings, None, on_row=lambda row: on_rows([row]))


def run_processes(groups: list[AvatarGroup], settings: Settings, workers: int, on_rows: OnRows) -> None:
    """A local pool of ``workers`` processes (spawned: numba's OpenMP and torch are not fork-safe)."""
    import concurrent.futures as cf
    import multiprocessing

    workers, threads = local_threads(workers)
    pool = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {pool.submit(run_group, g, settings, threads): g for g in groups}
        _collect(cf.as_completed(futures), futures, on_rows)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def import_distributed():
    """``distributed``, or a usage error naming the extra that installs it."""
    try:
        import distributed
    except ImportError:
        raise InputError("--cluster", "engine", 'Dask distributed (pip install "avatarcheck[cluster]")',
                         "it is not installed") from None
    return distributed


@contextlib.contextmanager
def connect(address: str, workers: int, gpu: bool = False) -> Iterator[Any]:
    """A Dask client: of a new local cluster (``address == "local"``: ``workers`` processes, one task slot
    each, each offering ``GPU = 1`` with ``gpu``) or of the scheduler at ``address`` (``tcp://host:8786``)."""
    distributed = import_distributed()
    with contextlib.ExitStack() as stack:
        if address == LOCAL_CLUSTER:
            n, _ = local_threads(workers)
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                resources={"GPU": 1} if gpu else None))
            address = cluster.scheduler_address
        try:
            client = stack.enter_context(distributed.Client(address, timeout=CONNECT_TIMEOUT_S))
        except (OSError, TimeoutError, ValueError) as err:
            raise InputError("--cluster", "address", "a reachable Dask scheduler (tcp://HOST:8786) or 'local'",
                             f"{address}: {type(err).__name__}: {err}") from None
        yield client


def worker_budgets(client) -> dict[str, int]:
    """numba/torch threads per Dask worker: its machine's cores over the task slots of all workers there."""
    workers = client.scheduler_info()["workers"]
    if not workers:
        raise InputError("--cluster", "workers", "a scheduler with at least one worker", "none connected")
    cores = client.run(available_cores)
    slots: collections.Counter = collections.Counter()
    for w in workers.values():
        slots[w["host"]] += w["nthreads"]
    return {addr: max(1, cores.get(addr, 1) // max(1, slots[w["host"]])) for addr, w in workers.items()}


def run_dask(groups: list[AvatarGroup], settings: Settings, address: str, workers: int, gpu: bool,
             on_rows: OnRows) -> None:
    """On a Dask cluster (module doc); ``gpu``: each task asks for the worker resource ``GPU = 1`` (start GPU
    workers with ``--resources GPU=1``)."""
    distributed = import_distributed()
    with connect(address, workers, gpu) as client:
        budgets = worker_budgets(client)
        resources = {"GPU": 1} if gpu else None
        if gpu and not any(w.get("resources", {}).get("GPU") for w in client.scheduler_info()["workers"].values()):
            raise InputError("--gpu", "workers", "a Dask worker offering the resource GPU (dask worker ... "
                             "--resources GPU=1)", "none (the tasks would wait forever)")
        futures = {client.submit(run_group, g, settings, budgets, pure=False, retries=1, resources=resources): g
                   for g in groups}
        _collect(distributed.as_completed(list(futures)), futures, on_rows)
