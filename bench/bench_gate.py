"""Wall time of a whole gate run (CPU), per stage, on the default take and on a long real-looking one.

    python3 bench/bench_gate.py                                   # default synthetic take
    python3 bench/bench_gate.py --take recordings/synthetic_take_04_real_30fps.csv
    python3 bench/bench_gate.py --gate anime-eyes --json bench/results/gate_anime.json
    python3 bench/bench_gate.py --avatar synthetic:lam-trained      # any --avatar (an OAC zip too)

Prints the stage table (seconds) and writes JSON with the machine's load, the thread policy and the
numbers of evaluated frames. Goldens are not compared here (``--golden-update`` into a scratch folder
keeps every item's work identical to a real run without touching ``golden/``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import report  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gate", default="three-moment")
    ap.add_argument("--take", default=None, help="a take file or synthetic:SEED (default: the gate's)")
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--avatar", default=None, help="an avatar spec (default: the embedded stand-in)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from avatarcheck.gate.session import GateSession
    from avatarcheck.gate.spec import load_gate
    from avatarcheck.threads import apply_thread_policy

    load_before = os.getloadavg()
    policy = apply_thread_policy()
    spec = load_gate(args.gate)
    with tempfile.TemporaryDirectory() as tmp:
        session = GateSession(spec, Path(tmp) / "report", avatar=args.avatar, take=args.take, backend=args.backend,
                              golden_root=Path(tmp) / "golden", golden_update=True)
        t0 = time.perf_counter()
        result = session.run_all()
        wall = time.perf_counter() - t0
        ev = session.evaluation
        frames = {f"{e}/{v}": len(ev.frame_metrics(e, v)) for e, v in spec.variant_pairs()}
    rows = {"wall (s)": wall, **{f"stage: {k} (s)": v for k, v in sorted(result.timings.items())}}
    meta = {"gate": args.gate, "avatar": args.avatar or "synthetic", "take": result.take, "take_frames": session.inputs.take.num_frames,
            "evaluated_frames_per_variant": frames, "closed_eye_frames": int(len(ev.closed_frames())),
            "backend": result.backend, "device": result.device, "threads": policy.numba,
            "thread_reason": policy.reason, "load_before": load_before, "load_after": os.getloadavg(),
            "cpu_count": os.cpu_count(), "machine": platform.platform(),
            "date": datetime.date.today().isoformat(), "ok": result.ok}
    report(f"gate {args.gate} on {result.take} ({session.inputs.take.num_frames} frames)", rows, meta, args.json)
    print({k: meta[k] for k in ("evaluated_frames_per_variant", "closed_eye_frames", "threads", "load_before")})


if __name__ == "__main__":
    main()
