"""Bare vLLM baseline for `corpusforge bench trace --engine vllm`: runs in vLLM's own
environment (.venv-vllm), not the platform's.

    .venv-vllm/bin/python scripts/vllm_bare_generate.py REQUESTS.json MODEL_DIR ENGINE.json

ENGINE.json maps a device type ("cpu", "cuda") to the engine arguments a replica's server
gets on it (ServerSpec.engine_args), so both sides run the same engine; this script picks
the entry for the platform vLLM finds. REQUESTS.json holds the flow's journaled generate
requests (messages, sampling, n, seed, json_schema). They go to one `vllm.LLM.chat` call,
all at once: the best case for vLLM, which batches everything it is given. Prints one
JSON line: generated tokens, seconds, tokens/s, and the model's load time (not counted
in tokens/s, as the flow's replica start is not counted either).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

MARK = "corpusforge-bare-vllm: "


def main() -> None:
    requests_file, model_dir, engine_file = sys.argv[1:4]
    requests = json.loads(Path(requests_file).read_text(encoding="utf-8"))
    engine = json.loads(Path(engine_file).read_text(encoding="utf-8"))
    from vllm import LLM, SamplingParams
    from vllm.platforms import current_platform
    from vllm.sampling_params import StructuredOutputsParams

    started = time.perf_counter()
    llm = LLM(model=model_dir, **engine["cpu" if current_platform.is_cpu() else "cuda"])
    load_s = time.perf_counter() - started
    conversations, params = [], []
    for r in requests:
        s = r["sampling"]
        structured = (StructuredOutputsParams(json=r["json_schema"])
                      if r.get("json_schema") is not None else None)
        kwargs = {"temperature": s["temperature"], "top_p": s["top_p"],
                  "max_tokens": s["max_tokens"], "n": r["n"], "seed": r["seed"],
                  "stop": list(s["stop"]) or None, "structured_outputs": structured}
        if s.get("repeat_penalty") is not None:
            kwargs["repetition_penalty"] = s["repeat_penalty"]
        conversations.append(r["messages"])
        params.append(SamplingParams(**kwargs))
    started = time.perf_counter()
    outputs = llm.chat(conversations, params, use_tqdm=False)
    wall = time.perf_counter() - started
    tokens = sum(len(c.token_ids) for out in outputs for c in out.outputs)
    print(MARK + json.dumps({"tokens": tokens, "wall_s": wall, "tokens_per_s": tokens / wall,
                             "load_s": load_s, "requests": len(requests)}), flush=True)
    # A normal exit, so vLLM stops its engine processes (os._exit would orphan them, and
    # they would hold the caller's pipes open); the marker tells the figures from the
    # teardown's noise.


if __name__ == "__main__":
    main()
