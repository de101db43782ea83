#!/usr/bin/env bash
# The GPU pass of the fused Triton kernel: one call of at most about 8 minutes on a GPU machine.
#
# usage: benchmarks/gpu_pass.sh OUTDIR [--dry-run]
#
# Runs in the repository root of a machine with a CUDA GPU and PyTorch + Triton built for it (no internet
# needed). It runs benchmarks/gpu_pass.py: the kernel's correctness on CUDA (the agreement matrix's softmax_wce
# cells against the oracle, the benchmark sizes against float64, no host synchronisation), then forward and
# forward + backward at 1,048,576 x 32, 262,144 x 32 and 8,192 x 131,072, float32 and bfloat16: ours (the
# kernel, alone and through the front end; the front end under torch.compile), F.cross_entropy eager and
# compiled, and Liger-Kernel / quack where they import. Each figure is a median time next to the bytes moved
# per second and that as a share of a measured device-to-device copy. It writes into OUTDIR:
#
#   speed-gpu.md / .json                the report and its data (speed-gpu-DRYRUN.* with --dry-run)
#   agreement-gpu-softmax.md / .json    the agreement cells on CUDA
#   gpu_pass.log, gpu.txt               the log and nvidia-smi's view of the device
#
# Liger-Kernel (pure Python) can travel as a wheel: on a machine with pip, in the repository root,
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl liger-kernel
# and name .whl in the device call's carry; this script installs every wheel in .whl into /tmp/site first.
# quack-kernels needs nvidia-cutlass-dsl, larger than the 64 MiB a call carries: the report says so.
#
# It fails loudly: without a CUDA device it exits 2 and writes no figure (no CPU fallback); a failed
# correctness check exits 1 (the report is still written, with FAIL in it); the whole run is bounded by
# LIMIT seconds (default 460; the Python part plans for BUDGET, 400) and a run that hits it exits 124 with no
# report. --dry-run runs the same Python
# on the CPU at tiny sizes, the kernel through Triton's interpreter, to test the script itself.
set -uo pipefail
OUT_DIR=${1:?usage: benchmarks/gpu_pass.sh OUTDIR [--dry-run]}
shift
PY=${PY:-python3}
BUDGET=${BUDGET:-400}  # the Python run's own time budget: it stops measuring in time to write its report
LIMIT=${LIMIT:-460}    # the hard stop (no report then)
mkdir -p "$OUT_DIR"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 PYTHONHASHSEED=0 TF_CPP_MIN_LOG_LEVEL=2
export XLA_PYTHON_CLIENT_PREALLOCATE=false
if compgen -G ".whl/*.whl" >/dev/null; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "gpu_pass: FAIL: the wheels in .whl do not install" >&2; exit 3; }
    export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 || true; } >"$OUT_DIR/gpu.txt"
timeout --kill-after=15 "$LIMIT" $PY benchmarks/gpu_pass.py --out "$OUT_DIR" --budget "$BUDGET" "$@" 2>&1 \
    | tee "$OUT_DIR/gpu_pass.log"
rc=${PIPESTATUS[0]}
case $rc in
    0) echo "gpu_pass: done ($OUT_DIR)";;
    124|137) echo "gpu_pass: FAIL: stopped at the $LIMIT s limit; no report was written" >&2;;
    *) echo "gpu_pass: FAIL: exit status $rc (see $OUT_DIR/gpu_pass.log)" >&2;;
esac
exit "$rc"
