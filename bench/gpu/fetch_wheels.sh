#!/usr/bin/env bash
# Download, here (a machine that reaches PyPI), the wheels the GPU image lacks, into .whl/.
#
#     bench/gpu/fetch_wheels.sh            # then: device run, carry [".whl"], bench/gpu/run.sh
#
# The GPU image ('cuda', see the device tool's KINDS.md) is CPython 3.12 on x86-64 and already
# holds a CUDA torch 2.11, numpy, scipy, numba, scikit-image, pillow, jinja2, typer, rich, pytest,
# pytest-xdist, hypothesis, matplotlib, ninja, jaxtyping, wrapt, typing-inspect, packaging,
# setuptools and wheel. What `pip install -e .` needs beyond that (pyproject dependencies and their
# own requirements, checked from each wheel's METADATA):
#   gsplat 1.5.3 (needs ninja, numpy, jaxtyping, rich, torch: all in the image)
#   plyfile (numpy>=2: the image has 2.x), flip-evaluator (no requirements)
#   pygltflib -> dataclasses-json -> marshmallow<4 (packaging), typing-inspect (image)
#             -> deprecated -> wrapt (image)
# Every wheel is fetched with --no-deps, so torch and the image's packages are never pulled.
# One version of each name is kept (two would stop the offline install there).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEST=${WHL_DIR:-$ROOT/.whl}
PY=${PYTHON:-python3}
mkdir -p "$DEST"

# name==version pins: the versions this kit was rehearsed with (README, "On a GPU").
PACKAGES=(
    "gsplat==1.5.3"
    "plyfile==1.1.5"
    "flip-evaluator==1.7"
    "pygltflib==1.16.5"
    "dataclasses-json==0.6.7"
    "marshmallow==3.26.2"
    "deprecated==3.0.1"
)

status=0
for spec in "${PACKAGES[@]}"; do
    # manylinux tags for a binary wheel (flip-evaluator); `any` for pure-Python ones.
    if ! "$PY" -m pip download --quiet --no-deps --only-binary=:all: \
            --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
            --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
            --platform manylinux_2_28_x86_64 --platform any \
            -d "$DEST" "$spec"; then
        echo "fetch_wheels: FAILED to download $spec" >&2
        status=1
    fi
done

# Keep one version per distribution name: remove wheels not in the pinned list.
keep=$("$PY" - "$DEST" "${PACKAGES[@]}" <<'EOF'
import re, sys, pathlib
dest, specs = pathlib.Path(sys.argv[1]), sys.argv[2:]
norm = lambda s: re.sub(r"[-_.]+", "_", s).lower()
pins = {norm(n): v for n, v in (s.split("==") for s in specs)}
for w in sorted(dest.glob("*.whl")):
    name, version = w.name.split("-")[:2]
    if pins.get(norm(name)) != version:
        print(w.name)
EOF
)
for stale in $keep; do
    echo "fetch_wheels: removing $stale (not a pinned version)"
    rm -f "$DEST/$stale"
done

echo "fetch_wheels: $(find "$DEST" -maxdepth 1 -type f -name '*.whl' | wc -l) wheels in $DEST ($(du -sh "$DEST" | cut -f1))"
ls -1 "$DEST"
exit $status
