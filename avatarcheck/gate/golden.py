"""Golden images: ``golden/<gate>/<avatar>/<take>/<edit>/<variant>/<moment>.<backend>.png`` (magenta).

``<take>`` is the take's name plus a short hash of its weights (``gate.inputs.take_key``): goldens of
one take are never compared with renders of another.

A comparison passes when SSIM (scikit-image) is at least ``ssim_min``, the mean NVIDIA FLIP error
(``flip-evaluator``, LDR) at most ``flip_max`` and the largest per-pixel channel difference at most
``max_abs``; tolerances per backend come from the gate file. Only ``--golden-update`` writes
goldens, and then nothing else happens to them; a missing golden fails with the command that
creates it.

A golden *set* is one folder ``<gate>/<avatar>/<take>/`` and one backend. Sets are read from the
user's golden root; for the embedded avatar, a set the user's root lacks is read from the goldens
shipped in the package (``avatarcheck/gate/goldens``, in the repository the top-level ``golden/``),
so the demo gate passes in any folder. ``--golden-update`` writes only the user's root.

``manifest.<backend>.json`` in the set's folder records an update: ``begin_update`` marks the set
incomplete before the first golden is written, ``finish_update`` lists every golden with its hash
last. An update killed midway leaves a set that says so, and its goldens fail (``set_problem``)
instead of passing as a mix of old and new. A set without a manifest (made by hand) is read as is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from avatarcheck.errors import InputError
from avatarcheck.io.atomic import write_text_atomic
from avatarcheck.io.images import write_png

PACKAGED = "goldens"                    # the package's golden root: avatarcheck/gate/goldens
DEFAULT_ROOT = Path("golden")           # the user's golden root unless --golden-dir / --gate-golden-dir says otherwise
USER, PACKAGED_SOURCE = "user", "packaged"


@dataclasses.dataclass(frozen=True)
class Comparison:
    ssim: float
    flip: float
    max_abs: float
    diff: np.ndarray  # (H, W, 3) float in [0, 1]: |golden - result|, amplified for people

    def passes(self, tol: dict[str, float]) -> bool:
        return self.ssim >= tol["ssim_min"] and self.flip <= tol["flip_max"] and self.max_abs <= tol["max_abs"]


def golden_set_relpath(gate: str, avatar: str, take: str) -> Path:
    return Path(gate) / avatar / take


def golden_relpath(gate: str, avatar: str, take: str, edit: str, variant: str, moment: str, backend: str) -> Path:
    return golden_set_relpath(gate, avatar, take) / edit / variant / f"{moment}.{backend}.png"


# -- golden sets: which root, and the update manifest ---------------------------------------------

@dataclasses.dataclass(frozen=True)
class GoldenSet:
    """The goldens of one (gate, avatar, take) for one backend, under ``root`` (``source``: user | packaged)."""

    root: Path
    rel: Path             # <gate>/<avatar>/<take>
    backend: str
    source: str

    @property
    def folder(self) -> Path:
        return self.root / self.rel

    @property
    def manifest(self) -> Path:
        return self.folder / f"manifest.{self.backend}.json"

    def as_dict(self) -> dict[str, str]:
        return {"source": self.source, "root": str(self.root), "folder": self.rel.as_posix(), "backend": self.backend}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GoldenSet":
        return cls(Path(d["root"]), Path(d["folder"]), d["backend"], d["source"])


def packaged_root() -> Path | None:
    """The package's golden root on disk, or None (not shipped, or the package is inside a zip)."""
    root = resources.files("avatarcheck.gate").joinpath(PACKAGED)
    return root if isinstance(root, Path) and root.is_dir() else None


def has_goldens(folder: Path, backend: str) -> bool:
    return folder.is_dir() and any(folder.rglob(f"*.{backend}.png"))


def choose_set(user_root: Path, rel: Path, backend: str, *, embedded: bool, update: bool) -> GoldenSet:
    """The user's set when it has goldens of ``backend`` (or when updating: only the user's root is
    written); else, for the embedded avatar, the packaged set of the same gate and take if shipped;
    else the user's (its goldens are then missing, with the command that creates them)."""
    user = GoldenSet(Path(user_root).absolute(), rel, backend, USER)
    if update or has_goldens(user.folder, backend) or not embedded:
        return user
    root = packaged_root()
    if root is not None and has_goldens(root / rel, backend):
        return GoldenSet(root, rel, backend, PACKAGED_SOURCE)
    return user


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_manifest(gset: GoldenSet) -> dict[str, Any] | None:
    """The set's manifest, None without one; InputError when it cannot be read."""
    try:
        doc = json.loads(gset.manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(gset.manifest, "manifest", "a golden manifest (JSON written by --golden-update)",
                         f"{type(err).__name__}: {err}") from None
    if not (isinstance(doc, dict) and isinstance(doc.get("complete"), bool) and isinstance(doc.get("files"), dict)):
        raise InputError(gset.manifest, "manifest", "a JSON object with 'complete' and 'files'", repr(doc)[:80])
    return doc


def _write_manifest(gset: GoldenSet, complete: bool, files: dict[str, str]) -> None:
    doc = {"backend": gset.backend, "complete": complete, "files": files}
    write_text_atomic(gset.manifest, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def begin_update(gset: GoldenSet) -> None:
    """Mark the set incomplete before its first golden is rewritten (idempotent: every writer calls it)."""
    if gset.source != USER:  # choose_set never returns this for an update: the package is read-only
        raise InputError(gset.root, "golden root", "the user's golden root (--golden-dir)", "the packaged goldens")
    try:
        if (_read_manifest(gset) or {}).get("complete") is False:
            return
    except InputError:
        pass  # a broken manifest is replaced
    gset.folder.mkdir(parents=True, exist_ok=True)
    _write_manifest(gset, False, {})


def finish_update(gset: GoldenSet) -> Path:
    """Complete the set: list every golden of its backend with its hash, written last. Returns the manifest."""
    files = {p.relative_to(gset.folder).as_posix(): _sha256(p)
             for p in sorted(gset.folder.rglob(f"*.{gset.backend}.png"))}
    _write_manifest(gset, True, files)
    return gset.manifest


def set_problem(gset: GoldenSet, path: Path) -> str | None:
    """Why the golden at ``path`` of ``gset`` must not be trusted, or None.

    An incomplete manifest (an interrupted update) fails every golden of the set; a golden whose hash
    differs from the completed manifest changed after it (a hand edit, a concurrent update). Goldens
    the manifest does not list (added by hand, e.g. another backend's) are read as they are."""
    try:
        doc = _read_manifest(gset)
    except InputError as err:
        return str(err)
    if doc is None:
        return None
    if not doc["complete"]:
        return str(InputError(gset.manifest, "complete", "a golden set that --golden-update finished",
                              "an interrupted --golden-update (part old, part new goldens); rerun --golden-update"))
    rel = Path(path).absolute().relative_to(gset.folder.absolute()).as_posix()
    want = doc["files"].get(rel)
    if want is not None and Path(path).is_file() and _sha256(Path(path)) != want:
        return str(InputError(gset.manifest, f"files.{rel}", f"sha256 {str(want)[:12]}...",
                              f"{_sha256(Path(path))[:12]}...: the golden changed since the set was completed "
                              "(by hand, or a concurrent --golden-update); rerun --golden-update"))
    return None


# A golden is an eye-camera render: anything much larger is not one of ours (and PIL's own bomb
# limit is far above what a gate renders).
MAX_GOLDEN_PIXELS = 4096 * 4096


def read_image(path: str | Path) -> np.ndarray:
    """PNG -> (H, W, 3) float32 in [0, 1]; a clear error for a missing, unreadable or oversized file."""
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_GOLDEN_PIXELS:
                raise InputError(path, "golden", f"a PNG of at most {MAX_GOLDEN_PIXELS} pixels",
                                 f"{im.width} x {im.height}")
            return np.asarray(im.convert("RGB"), np.float32) / 255.0
    except FileNotFoundError:
        raise InputError(path, "golden", "an existing PNG", "no such file") from None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(path, "golden", "a readable PNG", f"{type(err).__name__}: {err}") from None


def quantise(image: np.ndarray) -> np.ndarray:
    """What a PNG round trip keeps: float [0, 1] -> 8-bit levels, as float32 in [0, 1]."""
    return (np.clip(np.asarray(image, np.float32), 0, 1) * 255.0 + 0.5).astype(np.uint8).astype(np.float32) / 255.0


def compare_images(golden: np.ndarray, result: np.ndarray, source: str | Path = "golden") -> Comparison:
    """golden, result (H, W, 3) float in [0, 1] -> SSIM, mean FLIP, max abs difference and a diff image.
    ``source`` names the golden file in errors."""
    from skimage.metrics import structural_similarity

    g, r = quantise(golden), quantise(result)
    if g.shape != r.shape:
        raise InputError(source, "shape", f"the result's shape {r.shape} (re-create it with --golden-update)",
                         str(g.shape))
    if np.array_equal(g, r):
        # The usual CPU outcome (the renderer is deterministic): SSIM 1 and FLIP 0 by definition,
        # without the ~0.15 s the two metrics cost per image.
        return Comparison(1.0, 0.0, 0.0, np.zeros_like(g))
    ssim = float(structural_similarity(g, r, channel_axis=2, data_range=1.0))
    try:
        import flip_evaluator

        _, flip, _ = flip_evaluator.evaluate(g, r, "LDR")
        flip = float(flip)
    except ImportError:  # pragma: no cover - flip-evaluator is a declared dependency
        flip = float("nan")
    absdiff = np.abs(g - r)
    return Comparison(ssim, flip, float(absdiff.max()), np.clip(absdiff * 4.0, 0.0, 1.0))


def write_golden(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, image)
