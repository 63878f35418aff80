"""CUDA against the CPU reference at the gate's moments: pixel differences, gate metrics, side-by-side PNGs.

    python3 bench/gpu/parity.py --backend cuda --reference cpu --sizes 256 512 --out DIR --json DIR/parity.json

The embedded avatar, the three-moment gate's take and its three moments (eye_wide, full_blink,
half_blink_down), the gate's eye camera at each size, rendered the way the gate renders them
(``gate.evaluate.evaluate_frames``: magenta shader [R, G, B, E], the occluder pass, the mesh
coverage). Per size and moment: max and mean absolute difference per channel (R, G, B, E and the
occluder alpha), each backend's per-eye leak / coverage metrics, and one PNG per size: rows are the
moments, columns reference | backend | |difference| x ``--amplify``.

With ``--backend cpu --reference cpu`` (the dry run) every difference is exactly 0.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import time
from pathlib import Path

import numpy as np

CHANNELS = ("R", "G", "B", "E")


def _diff_stats(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return {"max_abs": float(d.max()) if d.size else 0.0, "mean_abs": float(d.mean()) if d.size else 0.0}


def _rgb8(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=-1)
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def moment_frames(gate: str = "three-moment"):
    """(spec, take, names, frames) of the gate's present moments on its default take."""
    from avatarcheck.gate.inputs import load_take_source
    from avatarcheck.gate.spec import load_gate
    from avatarcheck.moments import MissingMoment, pick_moments

    spec = load_gate(gate)
    take = load_take_source(spec.take)
    picked = pick_moments(take, spec.moments, spec.moment_params)
    names = [n for n, m in picked.items() if not isinstance(m, MissingMoment)]
    return spec, take, names, np.array([picked[n].frame for n in names])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="cuda")
    ap.add_argument("--reference", default="cpu")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--gate", default="three-moment")
    ap.add_argument("--amplify", type=float, default=10.0, help="difference image gain")
    ap.add_argument("--out", default=".", help="folder for parity_<size>.png")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import torch
    from PIL import Image

    from avatarcheck.avatar import synthetic_avatar
    from avatarcheck.gate.evaluate import evaluate_frames
    from avatarcheck.gate.inputs import take_pose
    from avatarcheck.render.backend import resolve_backend
    from avatarcheck.threads import apply_thread_policy

    apply_thread_policy()
    test_be, ref_be = resolve_backend(args.backend), resolve_backend(args.reference)
    spec, take, names, frames = moment_frames(args.gate)
    av = synthetic_avatar()
    pose = take_pose(take, frames, spec.apply_eye_rotation)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    results = []
    worst = {"max_abs": 0.0}
    for size in args.sizes:
        cam = av.eye_camera(size)
        timings = {}
        evals = {}
        for label, be in (("reference", ref_be), ("backend", test_be)):
            with torch.no_grad():
                t0 = time.perf_counter()
                evals[label] = evaluate_frames(av, pose, cam, be.name, spec.visible, spec.dilate_px)
                timings[label] = time.perf_counter() - t0
        rows = []
        for i, name in enumerate(names):
            r, t = evals["reference"][i], evals["backend"][i]
            ref_img = np.concatenate([r.rgb, r.E[..., None]], axis=-1)
            test_img = np.concatenate([t.rgb, t.E[..., None]], axis=-1)
            per_channel = {c: _diff_stats(ref_img[..., k], test_img[..., k]) for k, c in enumerate(CHANNELS)}
            if r.occluder_alpha is not None and t.occluder_alpha is not None:
                per_channel["occluder_alpha"] = _diff_stats(r.occluder_alpha, t.occluder_alpha)
            region_mismatch = {eye: int((r.regions[eye] != t.regions[eye]).sum()) for eye in r.regions}
            rec = {"size": size, "moment": name, "frame": int(frames[i]), "diff": per_channel,
                   "region_px_mismatch": region_mismatch,
                   "metrics": {"reference": r.metrics, "backend": t.metrics},
                   "metric_delta": {eye: {k: float(t.metrics[eye][k] - r.metrics[eye][k])
                                          for k in r.metrics[eye] if k in t.metrics[eye]} for eye in r.metrics}}
            for c, s in per_channel.items():
                if s["max_abs"] > worst["max_abs"]:
                    worst = {"max_abs": s["max_abs"], "size": size, "moment": name, "channel": c}
            results.append(rec)
            diff = np.abs(test_img[..., :3].astype(np.float64) - ref_img[..., :3]) * args.amplify
            ediff = np.abs(test_img[..., 3].astype(np.float64) - ref_img[..., 3]) * args.amplify
            rows.append(np.concatenate([_rgb8(r.rgb), _rgb8(t.rgb), _rgb8(diff),
                                        _rgb8(r.E), _rgb8(t.E), _rgb8(ediff)], axis=1))
        png = out_dir / f"parity_{size}.png"
        if rows:
            Image.fromarray(np.concatenate(rows, axis=0)).save(png)
        print(f"parity {size} px ({ref_be.name} {timings['reference']:.2f} s, {test_be.name} "
              f"{timings['backend']:.2f} s): {png}")
        for rec in results:
            if rec["size"] == size:
                d = rec["diff"]
                print(f"  {rec['moment']:<16} " + "  ".join(f"{c} max {s['max_abs']:.4g} mean {s['mean_abs']:.3g}"
                                                          for c, s in d.items()))

    finite = all(math.isfinite(s[k]) for rec in results for s in rec["diff"].values() for k in s)
    meta = {"backend": test_be.name, "reference": ref_be.name, "device": test_be.device_name(),
            "reference_device": ref_be.device_name(), "gate": args.gate, "take": spec.take, "moments": names,
            "sizes": args.sizes, "columns": "reference rgb | backend rgb | |diff| rgb x amplify | "
            "reference E | backend E | |diff| E x amplify", "amplify": args.amplify,
            "date": datetime.date.today().isoformat(), "machine": platform.platform(), "torch": torch.__version__}
    doc = {"meta": meta, "worst": worst, "finite": finite, "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2))
    print(f"worst |diff|: {worst}")


if __name__ == "__main__":
    main()
