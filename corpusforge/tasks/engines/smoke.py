"""One short generation on the embedded engine, run by the install in a subprocess.

An engine built for another CPU does not fail at import: it dies with SIGILL (or SIGSEGV,
for the AMX that some virtual CPUs advertise) at its first matrix product. Running one real
generation here turns that into an install error instead of a dead first run.
"""

from __future__ import annotations

import sys
import time

from corpusforge.schemas.engine_io import (
    ChatMessage,
    GenerateRequest,
    LlamaCppEngineConfig,
    SamplingParams,
)
from corpusforge.tasks.engines.llamacpp import LlamaCppEngine


def main() -> int:
    engine = LlamaCppEngine(LlamaCppEngineConfig(model="smollm2", n_ctx=512))
    request = GenerateRequest(
        messages=(ChatMessage(role="user", content="Name one colour."),),
        sampling=SamplingParams(temperature=0.0, max_tokens=16))
    started = time.perf_counter()
    result = engine.generate(request)
    took = time.perf_counter() - started
    engine.close()
    tokens = result.usage.completion_tokens
    if tokens == 0 or not result.texts[0].strip():
        print(f"{engine.model_id} generated nothing", file=sys.stderr)
        return 1
    print(f"{engine.model_id} wrote {tokens} tokens in {took:.2f} s: {result.texts[0]!r:.60}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
