#!/usr/bin/env bash
# The GPU pass: the agreement matrix on every GPU device, then the full benchmark grid, in resumable chunks.
#
# usage: benchmarks/gpu_pass.sh RESULTS_DIR [SECONDS]
#
# Runs in the repository root of a machine with a CUDA GPU and PyTorch and/or JAX built for it (TensorFlow has
# no GPU build on the project's machines). Each step writes its own file into RESULTS_DIR and is skipped when
# that file exists, so a second call resumes where the first stopped. The steps run in a background process
# session of their own; the call waits at most SECONDS (default 540) and returns, leaving it running, so a
# machine that grants one command ten minutes can run a pass that needs longer over several calls. Afterwards:
#
#   wce report speed RESULTS_DIR/bench-gpu-*.json --out reports    # -> reports/speed-gpu.md
#   cp RESULTS_DIR/agreement-gpu.{md,json} reports/
#
# JAX's allocator is told not to take 75% of the GPU up front (XLA_PYTHON_CLIENT_PREALLOCATE=false): PyTorch and
# JAX share the card, and peak memory is measured per call.
set -u
RES=${1:?usage: benchmarks/gpu_pass.sh RESULTS_DIR [SECONDS]}
WAIT=${2:-540}
PY=${PY:-python3}
DEVICES=${DEVICES:-cuda,gpu}  # torch calls the GPU "cuda", JAX "gpu"
mkdir -p "$RES"
RES=$(cd "$RES" && pwd)
export XLA_PYTHON_CLIENT_PREALLOCATE=false TF_CPP_MIN_LOG_LEVEL=2 PYTHONUNBUFFERED=1
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

# (framework, dtype, mode) chunks, most wanted first: float32 everywhere, then bfloat16
CHUNKS=(
    "torch float32 eager" "jax float32 eager" "jax float32 compiled" "torch float32 compiled"
    "torch bfloat16 eager" "jax bfloat16 eager" "jax bfloat16 compiled" "torch bfloat16 compiled"
)

steps() {
    if [ ! -e "$RES/agreement-gpu.json" ]; then
        echo "$(date -u +%T) agreement matrix"
        $PY -m wce_ref check --frameworks torch,jax --devices "$DEVICES" --name agreement-gpu --out "$RES" --quiet \
            >"$RES/check.log" 2>&1
        echo "$(date -u +%T) agreement matrix: exit $?"
    fi
    for chunk in "${CHUNKS[@]}"; do
        set -- $chunk
        local json="$RES/bench-gpu-$1-$2-$3.json"
        [ -s "$json" ] && continue  # pytest-benchmark creates its JSON at the start: an empty one is unfinished
        echo "$(date -u +%T) bench $chunk"
        $PY -m wce_ref bench --full --frameworks "$1" --devices "$DEVICES" --dtypes "$2" --json "$json" --no-report \
            --quiet --out "$RES" -- -k "$3" >"$RES/bench-$1-$2-$3.log" 2>&1
        echo "$(date -u +%T) bench $chunk: exit $?"
    done
    echo "$(date -u +%T) done"
}

if [ -e "$RES/pass.pid" ] && kill -0 "$(cat "$RES/pass.pid")" 2>/dev/null; then
    echo "pass already running (pid $(cat "$RES/pass.pid")); waiting"
else
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv >"$RES/gpu.csv" 2>&1
    export -f steps
    export RES PY DEVICES
    CHUNKS_STR=$(printf '%s\n' "${CHUNKS[@]}")
    export CHUNKS_STR
    setsid bash -c 'mapfile -t CHUNKS <<<"$CHUNKS_STR"; steps' >>"$RES/pass.log" 2>&1 </dev/null &
    echo $! >"$RES/pass.pid"
fi
end=$((SECONDS + WAIT))
while [ $SECONDS -lt $end ] && kill -0 "$(cat "$RES/pass.pid")" 2>/dev/null; do sleep 5; done
cat "$RES/pass.log"
kill -0 "$(cat "$RES/pass.pid")" 2>/dev/null && echo "still running" || echo "finished"
