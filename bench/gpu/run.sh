#!/usr/bin/env bash
# Every CUDA check in one command that fits a short GPU lease (issue 27). From the repo root:
#
#     bench/gpu/run.sh [--dry-run] [--budget-s N] [--steps a,b,...] [--keep-work]
#
# On the GPU machine (device tool, one call, carry [".whl"] from bench/gpu/fetch_wheels.sh):
# installs the wheels offline, builds gsplat's CUDA extension for this GPU only, runs
# `pytest -m cuda`, CUDA-vs-CPU parity at the gate's moments, the default gate against the CPU
# goldens and with --golden-update, and the benchmarks; writes everything under $OUT (default
# ./gpu-out). Each step is time-boxed (timeout), its status recorded, and the next step still runs;
# with a budget (--budget-s, default 480 on a GPU, none in a dry run) a step whose estimate exceeds
# the time left is skipped and recorded as such.
#
# --dry-run: the same steps on CPU at tiny sizes (the CPU backend standing in for CUDA; no wheels,
# no compile, no nvidia-smi), so the plumbing and the summary are proven here and in CI.
#
# What comes back in $OUT (at most 8 files: the device tool's limit): summary.json, summary.md,
# run.log, gpu-out.tar.gz (logs, parity PNGs and JSON, gate reports, benchmark JSON),
# golden-<backend>.tar.gz (the goldens --golden-update wrote, relative to golden/), parity_<size>.png.
# shellcheck disable=SC2329  # the step_* functions run through "run.sh __step NAME"
set -uo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "$SELF")/../.." && pwd)
GPUDIR=$ROOT/bench/gpu
PY=${PYTHON:-python3}

# ---------------------------------------------------------------------------------------------
# The steps. Each runs in its own process (run.sh __step NAME), under `timeout`, from $ROOT, with
# its output in $WORK/logs/NAME.log. Variables come from the environment the driver exports.

step_install() {
    bash "$GPUDIR/install.sh" "$SITE" "$ROOT/.whl"
}

step_env() {
    if [ "$DRY" = 0 ]; then
        nvidia-smi || echo "nvidia-smi failed (rc $?)"
        nvcc --version || echo "nvcc not found"
    fi
    "$PY" - "$WORK" <<'EOF'
import json, os, platform, sys, importlib.metadata as md
work = sys.argv[1]
import torch
env = {"python": platform.python_version(), "executable": sys.executable, "machine": platform.platform(),
       "cpu_count": os.cpu_count(), "torch": torch.__version__, "torch_cuda": torch.version.cuda,
       "cuda_available": torch.cuda.is_available()}
for name in ("gsplat", "numpy", "scipy", "numba", "scikit-image", "pillow", "plyfile", "pygltflib",
             "flip-evaluator", "jaxtyping", "pytest", "avatarcheck"):
    try:
        env[name] = md.version(name)
    except md.PackageNotFoundError:
        env[name] = None
arch = ""
if torch.cuda.is_available():
    cap = torch.cuda.get_device_capability()
    arch = f"{cap[0]}.{cap[1]}"
    p = torch.cuda.get_device_properties(0)
    env.update(device=torch.cuda.get_device_name(), capability=arch, sm_count=p.multi_processor_count,
               memory_gib=round(p.total_memory / 2**30, 1))
else:
    env["device"] = f"CPU ({platform.machine()}, {os.cpu_count()} cores)"
env["cuda_arch"] = arch
open(os.path.join(work, "cuda_arch.txt"), "w").write(arch)
json.dump(env, open(os.path.join(work, "env.json"), "w"), indent=2)
print(json.dumps(env, indent=2))
EOF
}

step_compile() {
    echo "TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-} MAX_JOBS=$MAX_JOBS TORCH_EXTENSIONS_DIR=$TORCH_EXTENSIONS_DIR"
    "$PY" - "$WORK" <<'EOF'
import json, os, sys, time
t0 = time.perf_counter()
from gsplat.cuda._backend import _C
dt = time.perf_counter() - t0
rec = {"seconds": round(dt, 1), "ok": _C is not None, "arch": os.environ.get("TORCH_CUDA_ARCH_LIST"),
       "max_jobs": os.environ.get("MAX_JOBS"), "extensions_dir": os.environ.get("TORCH_EXTENSIONS_DIR")}
json.dump(rec, open(os.path.join(sys.argv[1], "compile.json"), "w"), indent=2)
print(rec)
sys.exit(0 if rec["ok"] else 1)
EOF
}

step_pytest_cuda() {
    local extra=()
    # The gate's pytest plugin comes from the project's entry point; when the editable install
    # failed, load it by name instead.
    if ! "$PY" -c 'import importlib.metadata as m, sys; sys.exit(0 if any(e.name == "avatarcheck" for e in m.entry_points(group="pytest11")) else 1)'; then
        extra=(-p avatarcheck.pytest_plugin)
    fi
    "$PY" -m pytest -m cuda -p no:cacheprovider ${extra[@]+"${extra[@]}"} -q -rA --durations=5 tests
}

step_parity() {
    # shellcheck disable=SC2086  # size lists are word lists
    "$PY" "$GPUDIR/parity.py" --backend "$BACKEND" --reference cpu --sizes $PARITY_SIZES \
        --out "$WORK/parity" --json "$WORK/parity.json"
}

step_gate_vs_ref() {
    # The CPU goldens, renamed <moment>.<backend>.png in a scratch copy: does this backend pass
    # them within its golden tolerance ([golden.<backend>] in the gate file)?
    rm -rf "$WORK/golden_ref"
    mkdir -p "$WORK/golden_ref"
    (cd "$ROOT/golden" && find . -name '*.cpu.png' -print0) | while IFS= read -r -d '' f; do
        mkdir -p "$WORK/golden_ref/$(dirname "$f")"
        cp "$ROOT/golden/$f" "$WORK/golden_ref/${f%.cpu.png}.$BACKEND.png"
    done
    (cd "$GATE_CWD" && "$PY" -m avatarcheck gate --gate "$GATE" --backend "$BACKEND" --golden-dir "$WORK/golden_ref" \
        --report-dir "$WORK/reports/vs_ref")
}

step_gate_update() {
    (cd "$GATE_CWD" && "$PY" -m avatarcheck gate --gate "$GATE" --backend "$BACKEND" --golden-update \
        --golden-dir "$WORK/golden_new" --report-dir "$WORK/reports/update")
    local rc=$?
    local n
    n=$(cd "$WORK/golden_new" 2>/dev/null && find . -name "*.$BACKEND.png" | wc -l)
    echo "goldens written: ${n:-0} *.$BACKEND.png"
    if [ "${n:-0}" -gt 0 ]; then
        (cd "$WORK/golden_new" && find . -name "*.$BACKEND.png" -print0 | sort -z \
            | tar --null -czf "$OUT/golden-$BACKEND.tar.gz" -T -) || rc=1
    fi
    return "$rc"
}

step_bench_render() {
    # shellcheck disable=SC2086
    "$PY" "$ROOT/bench/bench_render.py" --backend "$BACKEND" --sizes $RENDER_SIZES --repeats "$REPEATS" \
        --json "$WORK/bench/render.json"
}

step_bench_replay() {
    local rc=0 b
    for b in $REPLAY_BATCHES; do
        "$PY" "$ROOT/bench/bench_replay.py" --backend "$BACKEND" --size "$REPLAY_SIZE" --batch "$b" \
            --frames "$REPLAY_FRAMES" --repeats "$REPLAY_REPEATS" --json "$WORK/bench/replay_b$b.json" || rc=1
    done
    return "$rc"
}

step_bench_big() {
    "$PY" "$GPUDIR/bench_big.py" --backend "$BACKEND" --splats "$BIG_SPLATS" --size "$BIG_SIZE" \
        --repeats "$REPEATS" --json "$WORK/bench/big.json"
}

step_bench_gate() {
    (cd "$GATE_CWD" && "$PY" "$ROOT/bench/bench_gate.py" --gate "$GATE" --backend "$BACKEND" --json "$WORK/bench/gate.json")
}

if [ "${1:-}" = "__step" ]; then
    cd "$ROOT" || exit 1
    "step_$2"
    exit $?
fi

# ---------------------------------------------------------------------------------------------
# The driver.

usage() { sed -n '2,19p' "$SELF" | sed 's/^# \{0,1\}//'; }

DRY=0
BUDGET=""
ONLY=""
KEEP=0
ARGS=("$@")
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) DRY=1 ;;
        --budget-s) BUDGET=${2:?--budget-s needs seconds}; shift ;;
        --budget-s=*) BUDGET=${1#*=} ;;
        --steps) ONLY=${2:?--steps needs a comma list}; shift ;;
        --steps=*) ONLY=${1#*=} ;;
        --keep-work) KEEP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case $BUDGET in ''|*[!0-9]*) [ -n "$BUDGET" ] && { echo "run.sh: --budget-s wants whole seconds" >&2; exit 2; } ;; esac

cd "$ROOT" || exit 1
OUT=${OUT:-$ROOT/gpu-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$OUT/work
rm -rf "$WORK"
rm -f "$OUT"/summary.json "$OUT"/summary.md "$OUT"/run.log "$OUT"/gpu-out.tar.gz "$OUT"/golden-*.tar.gz \
    "$OUT"/parity_*.png
mkdir -p "$WORK/logs" "$WORK/bench"
exec > >(tee -a "$OUT/run.log") 2>&1

STEPS=(install env compile pytest_cuda parity gate_vs_ref gate_update bench_render bench_replay bench_big bench_gate)
if [ "$DRY" = 1 ]; then
    BACKEND=cpu
    BUDGET=${BUDGET:-0}
    PARITY_SIZES="32 64"; RENDER_SIZES="32"; REPEATS=2
    REPLAY_SIZE=32; REPLAY_FRAMES=4; REPLAY_REPEATS=1; REPLAY_BATCHES="4"
    BIG_SPLATS=2000; BIG_SIZE=32
    # The packaged gate with a coarse leak curve (the gate's other items are unchanged): same name,
    # so the same golden paths. Given by a bare file name from its folder: `avatarcheck gate` puts
    # the --gate text in its report folder's name.
    GATE_CWD=$WORK/dry
    GATE=three-moment.toml
    mkdir -p "$GATE_CWD"
    "$PY" - "$GATE_CWD/$GATE" <<'EOF'
import re, sys
from importlib import resources
text = resources.files("avatarcheck.gate").joinpath("gates", "three-moment.toml").read_text()
text, n1 = re.subn(r"(?m)^curve_stride = \d+", "curve_stride = 1000", text)
text, n2 = re.subn(r"(?m)^curve_max_frames = \d+", "curve_max_frames = 2", text)
assert n1 == n2 == 1, "three-moment.toml changed: update run.sh's dry-run gate"
open(sys.argv[1], "w").write(text)
EOF
else
    BACKEND=cuda
    BUDGET=${BUDGET:-480}
    PARITY_SIZES="256 512"; RENDER_SIZES="256 512 1024"; REPEATS=15
    REPLAY_SIZE=256; REPLAY_FRAMES=256; REPLAY_REPEATS=3; REPLAY_BATCHES="8 64 256"
    BIG_SPLATS=500000; BIG_SIZE=512
    GATE=three-moment
    GATE_CWD=$ROOT  # its pyproject.toml (overrides, if any) applies, as in a plain `avatarcheck gate`
fi
KIT=${GPUKIT_DIR:-/tmp/gpukit}
SITE=$KIT/site
export TORCH_EXTENSIONS_DIR=$KIT/torch_extensions
export MAX_JOBS=${MAX_JOBS:-$(nproc)}
export PYTHONUNBUFFERED=1
if [ "$DRY" = 0 ]; then
    export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi
export DRY BACKEND WORK OUT ROOT GPUDIR PY SITE GATE GATE_CWD PARITY_SIZES RENDER_SIZES REPEATS REPLAY_SIZE REPLAY_FRAMES \
    REPLAY_REPEATS REPLAY_BATCHES BIG_SPLATS BIG_SIZE

START=$(date +%s)
DATE=$(date -u +%Y-%m-%d)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)

write_meta() {
    local now elapsed
    now=$(date +%s)
    elapsed=$((now - START))
    "$PY" - "$WORK/meta.json" "$elapsed" "${ARGS[@]+"${ARGS[@]}"}" <<EOF
import json, sys
json.dump({"mode": "dry-run" if "$DRY" == "1" else "gpu", "backend": "$BACKEND", "budget_s": int("$BUDGET"),
           "date": "$DATE", "started_unix": $START, "elapsed_s": int(sys.argv[2]), "revision": "$REV",
           "args": sys.argv[3:], "steps_planned": "${STEPS[*]}".split(), "only": "$ONLY"},
          open(sys.argv[1], "w"), indent=2)
EOF
}

summarize() {
    write_meta
    "$PY" "$GPUDIR/summarize.py" --work "$WORK" --out "$OUT" || echo "run.sh: summarize failed"
}

declare -A STATUS
record() {  # name status rc seconds estimate timeout reason
    STATUS[$1]=$2
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$WORK/steps.tsv"
    printf '[run.sh] %-12s %-8s rc=%-4s %5ss  %s\n' "$1" "$2" "$3" "$4" "$7"
}

# estimate (s): the time a step needs to be worth starting; cap (s): its timeout.
declare -A EST CAP
if [ "$DRY" = 1 ]; then
    for s in "${STEPS[@]}"; do EST[$s]=5; CAP[$s]=120; done
else
    EST=([install]=15 [env]=10 [compile]=120 [pytest_cuda]=60 [parity]=40 [gate_vs_ref]=45 [gate_update]=45
         [bench_render]=30 [bench_replay]=40 [bench_big]=20 [bench_gate]=45)
    CAP=([install]=90 [env]=60 [compile]=360 [pytest_cuda]=150 [parity]=120 [gate_vs_ref]=150 [gate_update]=150
         [bench_render]=90 [bench_replay]=120 [bench_big]=60 [bench_gate]=120)
fi
NEEDS_GPU=" compile pytest_cuda parity gate_vs_ref gate_update bench_render bench_replay bench_big bench_gate "

run_step() {
    local name=$1 est=${EST[$1]} cap=${CAP[$1]} now left t rc status t0 t1 reason=""
    if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then
        record "$name" skipped "" 0 "$est" 0 "not in --steps"
        return
    fi
    if [ "$DRY" = 1 ]; then
        case $name in
            install) record "$name" skipped "" 0 "$est" 0 "dry run: no wheels"; return ;;
            compile) record "$name" skipped "" 0 "$est" 0 "dry run: no CUDA compile"; return ;;
        esac
    elif [[ $NEEDS_GPU == *" $name "* && $name != compile ]] && [ "${STATUS[compile]:-}" != ok ]; then
        record "$name" skipped "" 0 "$est" 0 "gsplat CUDA extension not built (compile ${STATUS[compile]:-not run})"
        return
    fi
    now=$(date +%s)
    t=$cap
    if [ "$BUDGET" -gt 0 ]; then
        left=$((BUDGET - (now - START)))
        if [ "$left" -lt "$est" ]; then
            record "$name" skipped "" 0 "$est" 0 "budget: ${left}s left < estimate ${est}s"
            return
        fi
        [ "$left" -lt "$t" ] && t=$left
    fi
    echo "[run.sh] ---- $name (timeout ${t}s) ----"
    t0=$(date +%s.%N)
    timeout -k 10 "$t" bash "$SELF" __step "$name" >"$WORK/logs/$name.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    case $rc in
        0) status=ok ;;
        124|137) status=timeout; reason="killed after ${t}s" ;;
        *) status=failed; reason="exit $rc" ;;
    esac
    tail -n 8 "$WORK/logs/$name.log" | sed "s/^/  $name| /"
    record "$name" "$status" "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')" "$est" "$t" "$reason"
    if [ "$name" = env ] && [ -s "$WORK/cuda_arch.txt" ]; then
        TORCH_CUDA_ARCH_LIST=$(cat "$WORK/cuda_arch.txt")
        export TORCH_CUDA_ARCH_LIST  # the same flags in every later process: no rebuild
    fi
    summarize
}

echo "[run.sh] $( [ "$DRY" = 1 ] && echo dry run || echo GPU run ), backend $BACKEND, budget ${BUDGET}s, OUT=$OUT, rev $REV"
for s in "${STEPS[@]}"; do
    run_step "$s"
done

# Pack: the device tool brings back at most 8 files, two folders down.
for size in $PARITY_SIZES; do
    [ -f "$WORK/parity/parity_$size.png" ] && cp "$WORK/parity/parity_$size.png" "$OUT/"
done
summarize
cp "$OUT/summary.json" "$OUT/summary.md" "$WORK/" 2>/dev/null
tar -czf "$OUT/gpu-out.tar.gz" -C "$WORK" --exclude=./golden_ref --exclude=./golden_new . \
    || echo "run.sh: packing gpu-out.tar.gz failed"
[ "$KEEP" = 1 ] || rm -rf "$WORK"
elapsed=$(($(date +%s) - START))
echo "[run.sh] done in ${elapsed}s: $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["status_counts"])' "$OUT/summary.json")"
ls -la "$OUT"
exit 0
