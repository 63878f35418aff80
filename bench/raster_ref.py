"""Bit-identity guard for the CPU rasteriser: save reference renders once, then compare after changes.

    python bench/raster_ref.py save  [--dir /tmp/raster_ref]   # inputs + outputs of the current code
    python bench/raster_ref.py check [--dir /tmp/raster_ref]   # re-render the saved inputs, np.array_equal

Scenes: the synthetic head (magenta shader, [R, G, B, E]) eyes open and in a full blink, through
the 512 px head camera and the 256 px eye camera; a 2-frame batch; a 500k-splat random scene at
512 px. The inputs are saved with the outputs, so ``check`` does not depend on the avatar code.
``check`` also runs any extra entry points (batched, projection-cached) when they exist.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np


def _scenes(avatar: str | None = None):
    """The reference scenes; ``avatar``: any ``--avatar`` spec for the head scenes (default: the stand-in)."""
    import torch

    from avatarcheck.arkit import arkit_index
    from avatarcheck.sources import load_avatar_source

    av = load_avatar_source(avatar).avatar
    w = np.zeros((2, 52), np.float32)
    w[1, arkit_index("EyeBlinkLeft")] = w[1, arkit_index("EyeBlinkRight")] = 1.0
    eyes = np.zeros((2, 6), np.float32)
    eyes[0, 1] = 0.2  # a little gaze on frame 0
    with torch.no_grad():
        st = av.state("magenta", arkit52=w, eyes=eyes)
    for cam_name, cam in (("head512", av.camera(512)), ("eye256", av.eye_camera(256))):
        for b, pose in enumerate(("open", "blink")):
            yield f"{cam_name}_{pose}", dict(
                means=st.means[b].numpy(), quats=st.quats[b].numpy(), scales=st.scales[b].numpy(),
                opacities=st.opacities[b].numpy(), colors=st.colors[b].numpy(), viewmat=cam.viewmat,
                K=cam.K, width=cam.width, height=cam.height, near=cam.near, far=cam.far)
    rng = np.random.default_rng(5)
    n = 500_000
    pc = np.stack([rng.uniform(-0.5, 0.5, n), rng.uniform(-0.5, 0.5, n), rng.uniform(1.0, 3.0, n)], -1)
    f = 0.5 * 512 / np.tan(np.radians(30) / 2)
    yield "rand500k", dict(
        means=pc.astype(np.float32), quats=rng.normal(size=(n, 4)).astype(np.float32),
        scales=(rng.uniform(0.001, 0.006, (n, 3))).astype(np.float32),
        opacities=rng.uniform(0.05, 1.0, n).astype(np.float32),
        colors=rng.uniform(0, 1, (n, 4)).astype(np.float32), viewmat=np.eye(4, dtype=np.float32),
        K=np.array([[f, 0, 256], [0, f, 256], [0, 0, 1]], np.float32), width=512, height=512,
        near=0.01, far=100.0)


def _render(d):
    from avatarcheck.render.cpu_raster import rasterize_splats

    return rasterize_splats(d["means"], d["quats"], d["scales"], d["opacities"], d["colors"], d["viewmat"],
                            d["K"], int(d["width"]), int(d["height"]), float(d["near"]), float(d["far"]))


def save(root: str) -> None:
    os.makedirs(root, exist_ok=True)
    for name, d in _scenes():
        np.savez(os.path.join(root, f"{name}_in.npz"), **d)
        c, a = _render(d)
        np.save(os.path.join(root, f"{name}_colors.npy"), c)
        np.save(os.path.join(root, f"{name}_alpha.npy"), a)
        print(f"saved {name}: {d['means'].shape[0]} splats, alpha sum {a.sum():.3f}")


def _load(root: str):
    names = sorted(f[:-7] for f in os.listdir(root) if f.endswith("_in.npz"))
    for name in names:
        with np.load(os.path.join(root, f"{name}_in.npz")) as z:
            d = {k: z[k] for k in z.files}
        yield name, d, np.load(os.path.join(root, f"{name}_colors.npy")), np.load(os.path.join(root, f"{name}_alpha.npy"))


def check(root: str) -> bool:
    from avatarcheck.render import cpu_raster

    ok = True
    for name, d, ref_c, ref_a in _load(root):
        outs = {"rasterize_splats": _render(d)}
        if hasattr(cpu_raster, "rasterize_splats_batch"):
            # 2 frames: the banded schedule (when numba has 2+ threads); 2 per thread: one thread per frame.
            for n_b in sorted({2, 2 * cpu_raster.num_threads()}):
                c, a = cpu_raster.rasterize_splats_batch(
                    *(np.stack([d[k]] * n_b) for k in ("means", "quats", "scales", "opacities", "colors")),
                    d["viewmat"], d["K"], int(d["width"]), int(d["height"]), float(d["near"]), float(d["far"]))
                for b in (0, n_b - 1):
                    outs[f"rasterize_splats_batch(B={n_b})[{b}]"] = (c[b], a[b])
        for label, (c, a) in outs.items():
            same = np.array_equal(c, ref_c) and np.array_equal(a, ref_a)
            ok &= same
            msg = "bit-identical" if same else (
                f"DIFFERENT: max |dc| {np.abs(c - ref_c).max():.3g}, max |da| {np.abs(a - ref_a).max():.3g}, "
                f"{int((c != ref_c).any(-1).sum() + 0)} pixels")
            print(f"{name:16s} {label:34s} {msg}")
    return ok


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["save", "check"])
    ap.add_argument("--dir", default="/tmp/raster_ref")
    args = ap.parse_args()
    if args.mode == "save":
        save(args.dir)
    else:
        sys.exit(0 if check(args.dir) else 1)
