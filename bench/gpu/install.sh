#!/usr/bin/env bash
# Offline install of the carried wheels (.whl/, from bench/gpu/fetch_wheels.sh) and of the project,
# without touching the interpreter's torch:
#   - the wheels go into a private --target folder (put it on PYTHONPATH), each with --no-deps;
#   - the project is installed editable into the active environment with --no-deps (nothing pulled,
#     nothing replaced) and --no-build-isolation (the environment's own setuptools builds it).
#
#     bench/gpu/install.sh SITE_DIR [WHEEL_DIR]      # from the repo root; then export PYTHONPATH=SITE_DIR
#
# Exit status: 0 when both installed and the imports below work with PYTHONPATH=SITE_DIR.
set -uo pipefail

SITE=${1:?usage: install.sh SITE_DIR [WHEEL_DIR]}
WHL=${2:-.whl}
PY=${PYTHON:-python3}
mkdir -p "$SITE"

shopt -s nullglob
wheels=("$WHL"/*.whl)
if [ ${#wheels[@]} -eq 0 ]; then
    echo "install: no wheels in $WHL (run bench/gpu/fetch_wheels.sh here, carry .whl there)" >&2
    exit 2
fi
status=0
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "${wheels[@]}" \
    || { echo "install: wheels into $SITE FAILED" >&2; status=1; }
"$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir -e . \
    || { echo "install: project (editable, --no-deps) FAILED; PYTHONPATH=repo root still imports it" >&2; status=1; }
PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}" "$PY" - <<'EOF' || status=1
import importlib, importlib.metadata as md
for mod in ("torch", "numpy", "gsplat", "plyfile", "pygltflib", "flip_evaluator", "numba", "skimage", "avatarcheck"):
    m = importlib.import_module(mod)
    print(f"install: import {mod} ok ({getattr(m, '__version__', '?')}) from {getattr(m, '__file__', '?')}")
eps = [e.name for e in md.entry_points(group="pytest11")]
print("install: pytest11 entry points:", eps)
EOF
exit $status
