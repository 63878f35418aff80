"""What a worker does with one avatar's items: read the avatar once, gate it per item, store each item.

``run_group`` is the one task every engine runs (in this process, in a process pool, on a Dask worker).
It never raises for a bad avatar or a crashed gate: each item becomes a row (``catalogue.rows``). A row is
stored (``catalogue.store``) when the gate finished or the input is bad; an internal error is returned but
not stored, so a rerun retries it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from avatarcheck.catalogue.plan import AvatarGroup, Item, Settings, item_spec
from avatarcheck.catalogue.rows import error_row, result_row
from avatarcheck.catalogue.store import ITEM_JSON, REPORT, done_row, forget, item_dir, report_link, sweep_stale
from avatarcheck.errors import InputError
from avatarcheck.io.atomic import atomic_dir, write_text_atomic

NO_GOLDENS = ("goldens are not compared in a catalogue run (avatarcheck catalogue --golden-dir DIR compares "
              "them)")
Threads = int | dict[str, int] | None
_SWEPT: set[str] = set()  # output folders this process has swept for killed builders' temp folders


M_MMAP_THRESHOLD = -3          # glibc's mallopt parameter
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's own ceiling for its dynamic threshold
_MALLOC_TUNED: list[bool] = []


def keep_large_arrays_on_the_heap() -> None:
    """Undo, for this process, what a Dask nanny's ``MALLOC_TRIM_THRESHOLD_`` does to glibc's malloc: with it
    set, every array over 128 KiB is mapped and unmapped anew, and a gate item took 1.6x as long (7.6 ->
    12.2 s measured on a 2-vCPU VM). Large blocks then come from the heap again (up to 32 MiB, glibc's
    default ceiling); the trimming Dask wants still happens. Once per process; only where the variable is set
    and glibc is the C library."""
    if _MALLOC_TUNED or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    _MALLOC_TUNED.append(True)
    import ctypes

    with contextlib.suppress(OSError, AttributeError, TypeError):  # not glibc: nothing to undo
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _threads_here(threads: Threads) -> int | None:
    """The thread count for this process: an int as given; a dict maps Dask worker addresses to counts (a
    worker not in it divides its machine's cores by its own task slots)."""
    if not isinstance(threads, dict):
        return threads
    from distributed import get_worker

    from avatarcheck.threads import available_cores

    w = get_worker()
    return threads.get(w.address) or max(1, available_cores() // max(1, w.state.nthreads))


@contextlib.contextmanager
def thread_count(threads: Threads) -> Iterator[None]:
    """numba and torch at ``threads`` while the block runs (``AVATARCHECK_THREADS`` still wins), then as
    before. Set per task: numba's count is per calling thread, and a Dask task runs in a pool thread."""
    n = _threads_here(threads)
    if n is None:
        yield
        return
    import numba
    import torch

    from avatarcheck.threads import ENV_VAR, thread_budget

    n, _ = thread_budget(n, None, os.environ.get(ENV_VAR), None, numba.config.NUMBA_NUM_THREADS)
    before = numba.get_num_threads(), torch.get_num_threads()
    numba.set_num_threads(n)
    torch.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before[0])
        torch.set_num_threads(before[1])


def gate_item(item: Item, loaded, settings: Settings, report_dir: Path):
    """Gate ``item`` on the avatar already read (``loaded``) and write its report into ``report_dir``; the
    ``GateResult``. Goldens are compared only with ``settings.golden_dir`` (else skipped, with the reason)."""
    from avatarcheck.gate.result import SkippedItem
    from avatarcheck.gate.session import GateSession
    from avatarcheck.report.html import write_report

    spec = item_spec(settings.spec, item.edit)
    compare = settings.golden_dir is not None
    session = GateSession(spec, report_dir, avatar=item.avatar, take=item.take, backend=settings.backend,
                          golden_root=Path(settings.golden_dir) if compare else report_dir / "no-goldens",
                          ply_layout=settings.ply_layout, allow_implausible=settings.allow_implausible, loaded=loaded)
    goldens = {g.item_id for g in spec.golden_items()}
    for step in session.steps():
        if step.item_id in goldens and not compare:
            session.skipped[step.item_id] = SkippedItem(step.item_id, NO_GOLDENS)
        else:
            step.run()
    result = session.result()
    write_report(result, report_dir, link_latest=False)
    return result


def _evaluate(item: Item, loaded, settings: Settings, folder: Path) -> dict[str, Any]:
    """The item's row, its report written into ``folder``; a bad input is a stored red row, any other
    exception propagates (and the caller stores nothing)."""
    ident = (item.label, item.avatar, item.edit.name, item.take)
    if isinstance(loaded, InputError):
        return error_row(*ident, str(loaded), "input", item.key)
    if isinstance(loaded, BaseException):
        raise loaded
    try:
        result = gate_item(item, loaded, settings, folder / REPORT)
    except InputError as err:
        shutil.rmtree(folder / REPORT, ignore_errors=True)
        return error_row(*ident, str(err), "input", item.key)
    return result_row(*ident, item.key, result, report_link(item.key))


def run_item(item: Item, loaded, settings: Settings, load_seconds: float | None = None) -> dict[str, Any]:
    """Gate one item and store it (folder renamed into place when complete); its row. ``load_seconds``: how
    long reading its avatar took (once for the avatar's items)."""
    t0 = time.perf_counter()
    where = {"worker": _worker_name(), "load_seconds": load_seconds}
    if settings.rerun:
        forget(settings.out, item.key)
    try:
        with atomic_dir(item_dir(settings.out, item.key)) as tmp:
            row = _evaluate(item, loaded, settings, tmp)
            row.update(seconds=round(time.perf_counter() - t0, 3), **where)
            write_text_atomic(tmp / ITEM_JSON, json.dumps(row, indent=1))
        return row
    except FileExistsError:  # another worker (a retried task) stored it first: theirs stands
        stored = done_row(settings.out, item)
        if stored is not None:
            return stored
        message = "the item's folder exists but holds no readable result"
    except Exception as err:  # noqa: BLE001 - any crash is one red row, never a crashed run
        message = f"{type(err).__name__}: {err}"
    row = error_row(item.label, item.avatar, item.edit.name, item.take, message, "internal", item.key)
    row.update(seconds=round(time.perf_counter() - t0, 3), **where)
    return row


def load_group_avatar(group: AvatarGroup, settings: Settings) -> tuple[Any, float]:
    """(the avatar as read, or the exception reading it raised; seconds)."""
    from avatarcheck.sources import LoadOptions, load_avatar_source

    t0 = time.perf_counter()
    try:
        loaded: Any = load_avatar_source(group.avatar, LoadOptions(ply_layout=settings.ply_layout))
    except Exception as err:  # noqa: BLE001 - every item of the avatar carries it
        loaded = err
    return loaded, round(time.perf_counter() - t0, 3)


def run_group(group: AvatarGroup, settings: Settings, threads: Threads = None,
              on_row: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Every item of one avatar, in the group's order: stored rows of items already done, new rows for the
    rest (the avatar read once for all of them). ``threads``: numba/torch threads for this task (None: as
    set); ``on_row``: called with each row as it is ready."""
    keep_large_arrays_on_the_heap()
    with thread_count(threads):
        if settings.out not in _SWEPT:  # once per process: a killed builder's folder on this host
            _SWEPT.add(settings.out)
            sweep_stale(settings.out)
        rows: list[dict[str, Any] | None] = [None if settings.rerun else done_row(settings.out, i)
                                              for i in group.items]
        for row in rows:
            if row is not None and on_row:
                on_row(row)
        todo = [k for k, row in enumerate(rows) if row is None]
        if todo:
            loaded, load_seconds = load_group_avatar(group, settings)
            for k in todo:
                rows[k] = run_item(group.items[k], loaded, settings, load_seconds)
                if on_row:
                    on_row(rows[k])
    return rows
