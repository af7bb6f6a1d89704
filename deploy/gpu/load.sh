#!/usr/bin/env bash
# The load benchmark (bench/load.py) on a GPU host: ONNX Runtime on CUDA (onnxruntime-gpu replaces onnxruntime:
# same module name), CTranslate2 on CUDA for Whisper, OCR on CUDA, llama.cpp offload where its build has CUDA.
# Run from the repository root on the GPU host after `make setup`; results go to bench/results/load-gpu.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
if ! $PY -c "import onnxruntime as o, sys; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())"; then
  $PY -m pip uninstall -y onnxruntime >/dev/null 2>&1 || true
  $PY -m pip install -q onnxruntime-gpu
fi
$PY -c "import onnxruntime as o; print('onnxruntime providers:', o.get_available_providers())"
export AMPERE_EMBED__PROVIDERS=CUDAExecutionProvider,CPUExecutionProvider
export AMPERE_ASR__DEVICE=cuda AMPERE_ASR__COMPUTE_TYPE=float16
export AMPERE_OCR__USE_CUDA=true
export AMPERE_SUMMARIZER__GPU_LAYERS=${GPU_LAYERS:--1}   # ignored by a CPU-only llama.cpp build
$PY bench/load.py --steps ${STEPS:-1 4 8 16 24 32} "$@"
cp bench/results/load.json bench/results/load-gpu.json
cp bench/results/load.png bench/results/load-gpu.png
