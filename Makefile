# The two commands a fresh machine needs are `make demo` and `make test` (see README.md).
.PHONY: install demo test lint bench clean vllm-install test-vllm bench-vllm

OUT ?= out

install:
	@scripts/install.sh

demo: install
	.venv/bin/corpusforge run trace --out $(OUT)

test: install
	@scripts/test.sh

lint: install
	.venv/bin/ruff check corpusforge tests scripts
	.venv/bin/lint-imports

bench: install
	.venv/bin/corpusforge bench trace

# The optional vLLM engine: its own environment (.venv-vllm), its tests, its benchmark.
vllm-install: install
	@scripts/install_vllm.sh

test-vllm: vllm-install
	@scripts/test.sh -m vllm tests/vllm

bench-vllm: vllm-install
	.venv/bin/corpusforge bench trace --engine vllm --n 40

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache
