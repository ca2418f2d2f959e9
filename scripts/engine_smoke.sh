#!/usr/bin/env bash
# Proves the installed llama.cpp engine runs on this CPU: one short generation with the
# packaged SmolLM2, in a subprocess, so that an illegal instruction or a crash is an install
# error that names the engine, the CPU and the fix, not a success followed by a dead run.
#   engine_smoke.sh VENV [WHEEL_DIR]
set -uo pipefail
VENV="$1"
WHEEL_DIR="${2:-}"
out="$("$VENV/bin/python" -m corpusforge.tasks.engines.smoke 2>&1)"
rc=$?
if [ "$rc" -eq 0 ]; then
  echo "[install] engine check: $out"
  exit 0
fi
signal=""
[ "$rc" -gt 128 ] && signal=" (signal $(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128))))"
{
  echo "[install] FAILED: the llama.cpp engine (llama-cpp-python) did not survive one generation with the packaged SmolLM2: exit $rc$signal."
  echo "$out" | tail -n 15 | sed 's/^/[install]   /'
  echo "[install] CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "[install] CPU flags: $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  [ -f "$VENV/corpusforge-llama-build.json" ] && echo "[install] engine built with: $(cat "$VENV/corpusforge-llama-build.json")"
  echo "[install] Likely cause: SIGILL = the engine was built for another CPU; SIGSEGV = a broken instruction set (AMX) or a bad build."
  [ -n "$WHEEL_DIR" ] && echo "[install] Fix: delete the cached wheel ($WHEEL_DIR) and rerun make install; if it fails again, report the two lines above."
} >&2
exit 1
