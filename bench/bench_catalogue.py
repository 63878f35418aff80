"""Items per minute of ``avatarcheck catalogue`` on this machine: 1 and 2 local workers, and a local Dask cluster.

    python3 bench/bench_catalogue.py                           # 4 generated avatars x the gate's edits x 1 take
    python3 bench/bench_catalogue.py --avatars 6 --edit pear --json bench/results/catalogue_cpu.json
    python3 bench/bench_catalogue.py --pyproject fast.toml     # a cheaper gate ([tool.avatarcheck."<gate>"])

Writes OAC zips of the trained-statistics stand-in with varied opacities and sigmas (seeded), then gates the
same catalogue into a fresh output folder per configuration: this process (1 worker, every core's threads),
a pool of 2 processes (cores // 2 threads each), and a local Dask cluster of 1 and 2 workers. Wall times
include starting workers and clusters (what a user waits for); every configuration must give the same rows.
Last, a rerun into a finished folder times the resume (everything skipped). Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import cpu_name, report  # noqa: E402


def write_avatars(folder: Path, n: int, seed: int = 0) -> None:
    """``n`` OAC zips: the trained stand-in with opacities x U(0.7, 1.3) and sigmas x U(0.85, 1.15) (<= LAM's clip)."""
    import numpy as np

    from avatarcheck.export.oac import write_oac
    from avatarcheck.sources.embedded import lam_trained_avatar

    trained = lam_trained_avatar()
    c = trained.cloud
    rng = np.random.default_rng(seed)
    for i in range(n):
        op, sc = rng.uniform(0.7, 1.3), rng.uniform(0.85, 1.15)
        cloud = dataclasses.replace(c, opacities=np.clip(c.opacities * op, 0, 1), scales=np.minimum(c.scales * sc, 0.01))
        write_oac(trained.with_cloud(cloud), folder / f"avatar{i:02d}.zip", name=f"avatar{i:02d}")


def timed_run(found, settings, engine, edits) -> tuple[float, list[dict]]:
    from avatarcheck.catalogue import run_catalogue

    t0 = time.perf_counter()
    outcome = run_catalogue(found, settings, engine=engine, edits=edits)
    return time.perf_counter() - t0, outcome.rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--avatars", type=int, default=4)
    ap.add_argument("--gate", default="three-moment")
    ap.add_argument("--pyproject", default=None, help="gate overrides ([tool.avatarcheck.\"<gate>\"])")
    ap.add_argument("--edit", action="append", default=[], help="a gate edit (repeat; default: every edit)")
    ap.add_argument("--json", default="bench/results/catalogue_cpu.json")
    args = ap.parse_args()

    from avatarcheck.catalogue import Engine, Settings, discover
    from avatarcheck.catalogue.rows import stable
    from avatarcheck.gate.spec import load_gate
    from avatarcheck.threads import apply_thread_policy

    load_before = os.getloadavg()
    policy = apply_thread_policy(use_load=False)
    spec = load_gate(args.gate, args.pyproject, pyproject_required=args.pyproject is not None)
    configs = {"1 worker (this process)": Engine(1), "2 workers (processes)": Engine(2),
               "local Dask cluster, 1 worker": Engine(1, "local"), "local Dask cluster, 2 workers": Engine(2, "local")}
    rows, walls, reference = {}, {}, None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "avatars").mkdir()
        write_avatars(tmp / "avatars", args.avatars)
        found = discover([str(tmp / "avatars")])
        for i, (name, engine) in enumerate(configs.items()):
            settings = Settings(spec, str(tmp / f"out{i}"), "cpu")
            wall, got = timed_run(found, settings, engine, args.edit)
            items = len(got)
            walls[name] = wall
            rows[f"{name}: items/min"] = 60.0 * items / wall
            same = [stable(r) for r in got]
            reference = same if reference is None else reference
            assert same == reference, f"{name}: rows differ from the first configuration's"
        resume, _ = timed_run(found, Settings(spec, str(tmp / "out0"), "cpu"), Engine(1), args.edit)
    rows["local Dask cluster: scaling 2 / 1 workers"] = walls["local Dask cluster, 1 worker"] / walls[
        "local Dask cluster, 2 workers"]
    rows["resume, everything done (s)"] = resume
    verdicts = {v: sum(r["verdict"] == v for r in reference) for v in ("pass", "fail", "error")}
    meta = {"gate": args.gate, "pyproject": args.pyproject, "avatars": args.avatars, "items": items,
            "edits": args.edit or [e.name for e in spec.edits], "walls_s": walls, "verdicts": verdicts,
            "threads": policy.numba, "cpu": cpu_name(), "cpu_count": os.cpu_count(), "machine": platform.platform(),
            "load_before": load_before, "load_after": os.getloadavg(), "date": datetime.date.today().isoformat()}
    report(f"catalogue: {args.avatars} avatars x {len(meta['edits'])} edit(s) x 1 take = {items} items, gate {args.gate}",
           rows, meta, args.json)
    print({"walls_s": {k: round(v, 1) for k, v in walls.items()}, "verdicts": verdicts})


if __name__ == "__main__":
    main()
