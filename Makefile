# The two commands a fresh machine needs are `make demo` and `make test` (see README.md).
.PHONY: install demo test lint bench bench-weibo clean vllm-install test-vllm bench-vllm

OUT ?= out
# The main job, two runs (README "What the demo shows"): ADA on the Rest15 training set
# (the authors' algorithm, no LLM), whose training table a trainer takes as it is; then the
# LLM pipeline, TRACE on the embedded SmolLM2, on DEMO_SEEDS of the shipped seeds
# (DEMO_SEEDS=40: all of them, about 30 minutes on 2 cores).
DEMO_INPUT ?= ../shared/fixtures/ada/rest15/train.txt
DEMO_SEEDS ?= 6

install:
	@scripts/install.sh

demo: install
	@echo "[demo] 1/2 ADA augmentation of $(DEMO_INPUT) (about 1 minute)"
	.venv/bin/corpusforge run ada --out $(OUT) --input $(DEMO_INPUT)
	@echo "[demo] 2/2 TRACE on the embedded SmolLM2, $(DEMO_SEEDS) seeds (about 4 minutes)"
	.venv/bin/corpusforge run trace --out $(OUT) --limit $(DEMO_SEEDS)

test: install
	@scripts/test.sh

lint: install
	.venv/bin/ruff check corpusforge tests scripts
	.venv/bin/lint-imports

bench: install
	.venv/bin/corpusforge bench trace

# `corpusforge run weibo` at 100K and 1M resampled conversations: time, memory, linearity.
bench-weibo: install
	.venv/bin/python scripts/bench_weibo.py --n 100000 --n 1000000

# The optional vLLM engine: its own environment (.venv-vllm), its tests, its benchmark.
vllm-install: install
	@scripts/install_vllm.sh

test-vllm: vllm-install
	@scripts/test.sh -m vllm tests/vllm

bench-vllm: vllm-install
	.venv/bin/corpusforge bench trace --engine vllm --n 40

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache
