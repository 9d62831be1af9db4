#!/usr/bin/env bash
# The CUDA path in one run, under 4 minutes on one GPU (issue 15): golden parity (fp32, bf16,
# fp16), MMAction2's model-only benchmark (bf16, 30 views per forward), end-to-end eval
# throughput (DataLoader workers, resize in the workers or on the device) and NCCL at world
# size 1; prints one markdown table for benchmarks/RESULTS.md (benchmarks/gpu_check.py).
#
#   bash benchmarks/gpu_check.sh            # from the repository root, on the GPU machine
#
# Needs python with torch (any recent version: whatever the machine has) and numpy. PyAV is
# installed from benchmarks/wheels/ when the machine lacks it (fill that folder beforehand on a
# machine with internet: bash benchmarks/gpu_check.sh --fetch-wheels; it is not committed).
# The package itself is used from this checkout (PYTHONPATH), not installed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if [[ "${1:-}" == "--fetch-wheels" ]]; then
    # PyAV wheels for the CPython versions a GPU image is likely to have (manylinux x86-64).
    mkdir -p benchmarks/wheels
    for v in 3.10 3.11 3.12 3.13; do
        "$PY" -m pip download --quiet --only-binary=:all: --no-deps --python-version "$v" \
            --platform manylinux_2_28_x86_64 --dest benchmarks/wheels "av>=14" || true
    done
    ls -la benchmarks/wheels
    exit 0
fi

if ! "$PY" -c "import av" 2>/dev/null; then
    echo "[gpu_check] PyAV missing: installing it from benchmarks/wheels" >&2
    "$PY" -m pip install --quiet --no-index --find-links benchmarks/wheels av \
        || "$PY" -m pip install --quiet --user --no-index --find-links benchmarks/wheels av \
        || echo "[gpu_check] no usable PyAV wheel: the eval and nccl steps will fail" >&2
fi
"$PY" -c "import torch, numpy, av; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'available', torch.cuda.is_available(), 'numpy', numpy.__version__, 'av', av.__version__)" >&2

export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# The whole check stays under 4 minutes: each step is bounded inside gpu_check.py, and this
# outer limit keeps a hung driver from eating the machine's time.
timeout --signal=TERM 230 "$PY" benchmarks/gpu_check.py --device "${GPU_CHECK_DEVICE:-cuda}" \
    --json "${OUT:-/tmp}/gpu_check.json" "$@"
