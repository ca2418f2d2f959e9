#!/usr/bin/env bash
# The test suite: lint, the layer contract, then every test (unit and integration:
# real llama.cpp models, a real llama.cpp server, real Ray, a real Prefect server).
# pytest's exit 5 ("no tests collected") is a failure like any other non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export CORPUSFORGE_HOME="${CORPUSFORGE_HOME:-$(mktemp -d /tmp/corpusforge-test-home.XXXXXX)}"
.venv/bin/ruff check corpusforge tests scripts
.venv/bin/lint-imports
# With no arguments: the whole suite except the vLLM engine's tests, which need the
# separate vLLM environment (`make test-vllm` installs it and runs them).
if [ "$#" -eq 0 ]; then
  set -- -m "not vllm"
fi
.venv/bin/python -m pytest "$@"
