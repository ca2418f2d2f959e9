# The two commands a fresh machine needs are `make demo` and `make test` (see README.md).
.PHONY: install demo test lint bench clean

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

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache
