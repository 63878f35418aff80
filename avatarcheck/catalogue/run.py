"""A catalogue run: plan the items, skip those done, run the rest on an engine, write the summary.

```python
from avatarcheck.catalogue import Engine, Settings, discover, run_catalogue
from avatarcheck.gate.spec import load_gate

found = discover(["avatars/"])                       # zips, avatar folders, globs, manifests
settings = Settings(load_gate("three-moment"), out="/abs/out", backend="cpu")
outcome = run_catalogue(found, settings, engine=Engine(workers=2))   # or Engine(cluster="tcp://host:8786")
outcome.ok, outcome.summary                          # all passed; OUT/summary.json
```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from avatarcheck.catalogue.discover import Discovered
from avatarcheck.catalogue.engines import local_threads, run_dask, run_processes, run_sequential
from avatarcheck.catalogue.plan import AvatarGroup, Settings, plan, resolve_edits
from avatarcheck.catalogue.rows import row_order
from avatarcheck.catalogue.store import done_row, sweep_stale
from avatarcheck.catalogue.summary import leak_threshold, write_summary
from avatarcheck.io.atomic import check_output_dir


@dataclasses.dataclass(frozen=True)
class Engine:
    """``workers``: local processes (1: this process), or the local cluster's size. ``cluster``: a Dask
    scheduler address, or ``local`` for a local Dask cluster; None: no Dask. ``gpu``: tasks ask Dask for the
    worker resource ``GPU = 1``."""

    workers: int = 1
    cluster: str | None = None
    gpu: bool = False

    def describe(self) -> str:
        if self.cluster == "local":
            n, t = local_threads(self.workers)
            return f"local Dask cluster, {n} worker(s) x {t} thread(s)"
        if self.cluster:
            return f"Dask cluster at {self.cluster}" + (" (GPU = 1 per task)" if self.gpu else "")
        if self.workers > 1:
            n, t = local_threads(self.workers)
            return f"{n} local process(es) x {t} thread(s)"
        return "this process"


class Observer:
    """What a run tells its caller (a progress bar): the plan, then rows as they arrive."""

    def planned(self, total: int, done: int) -> None:
        """``total`` items, ``done`` of them already (earlier runs, unreadable avatars)."""

    def rows(self, rows: list[dict[str, Any]]) -> None:
        """Rows just finished."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    rows: list[dict[str, Any]]      # in summary order
    summary: Path                   # OUT/summary.json
    index: Path                     # OUT/index.html

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r["verdict"] == "pass" for r in self.rows)


def pending(groups: list[AvatarGroup], settings: Settings) -> tuple[list[AvatarGroup], list[dict[str, Any]]]:
    """(the groups cut to their items not done yet, the stored rows of the done ones)."""
    todo, done = [], []
    for g in groups:
        rows = [None if settings.rerun else done_row(settings.out, i) for i in g.items]
        done += [r for r in rows if r is not None]
        left = tuple(i for i, r in zip(g.items, rows) if r is None)
        if left:
            todo.append(dataclasses.replace(g, items=left))
    return todo, done


def dispatch(groups: list[AvatarGroup], settings: Settings, engine: Engine, on_rows) -> None:
    """Run ``groups`` on the engine ``engine`` names."""
    if engine.cluster:
        run_dask(groups, settings, engine.cluster, engine.workers, engine.gpu, on_rows)
    elif engine.workers > 1 and len(groups) > 1:
        run_processes(groups, settings, engine.workers, on_rows)
    else:
        run_sequential(groups, settings, on_rows)


def run_catalogue(found: Discovered, settings: Settings, *, edits: Sequence[str | dict] = (),
                  takes: Sequence[str] = (), engine: Engine = Engine(), observer: Observer = Observer(),
                  edit_source: str = "--edit") -> Outcome:
    """Gate every avatar x edit x take of ``found`` (``edits`` / ``takes``: the command line's, else the
    manifests', else every gate edit and the gate's take) and write the summary into ``settings.out``."""
    check_output_dir(settings.out)
    settings = dataclasses.replace(settings, out=str(Path(settings.out).absolute()))  # the same for every worker
    chosen = resolve_edits(settings.spec, tuple(edits) or found.edits,
                           edit_source if edits else ", ".join(found.manifests) or "manifest")
    groups, rows = plan(found, settings, chosen, tuple(takes) or found.takes or (settings.spec.take,))
    sweep_stale(settings.out)
    todo, done = pending(groups, settings)
    rows += done
    observer.planned(len(rows) + sum(len(g.items) for g in todo), len(rows))

    def arrived(new: list[dict[str, Any]]) -> None:
        rows.extend(new)
        observer.rows(new)

    dispatch(todo, settings, engine, arrived)
    rows.sort(key=row_order)
    spec = settings.spec
    meta = {"gate": spec.name, "gate_source": spec.source, "backend": settings.backend, "engine": engine.describe(),
            "settings": settings.hashed(), "edits": [e.name for e in chosen]}
    summary, index = write_summary(settings.out, rows, meta, leak_threshold(spec))
    return Outcome(rows, summary, index)
