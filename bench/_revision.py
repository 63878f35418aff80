"""Load ``avatarcheck/render/cpu_raster.py`` as it was at a git revision, for interleaved A/B timings.

The old module is written to a cache folder and imported under another name; it imports the rest of
the package (errors, gsplat_adapter) from the working tree, which its public functions only need
for ``InputError`` and gsplat's torch projection.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_raster_at(rev: str) -> types.ModuleType:
    """The module ``avatarcheck.render.cpu_raster`` at git revision ``rev`` (e.g. a commit id)."""
    sha = subprocess.check_output(["git", "rev-parse", "--short", rev], cwd=_ROOT, text=True).strip()
    src = subprocess.check_output(["git", "show", f"{sha}:avatarcheck/render/cpu_raster.py"], cwd=_ROOT, text=True)
    folder = os.path.join(os.path.expanduser("~"), ".cache", "avatarcheck_bench")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"cpu_raster_{sha}.py")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(src)
    name = f"cpu_raster_{sha}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
