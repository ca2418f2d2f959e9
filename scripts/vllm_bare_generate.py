"""Bare vLLM baselines for `corpusforge bench trace --engine vllm`: runs in vLLM's own
environment (.venv-vllm), not the platform's.

    .venv-vllm/bin/python scripts/vllm_bare_generate.py REQUESTS.json MODEL_DIR ENGINE.json

ENGINE.json maps a device type ("cpu", "cuda") to the engine arguments a replica's server
gets on it (ServerSpec.engine_args), so both sides run the same engine; this script picks
the entry for the platform vLLM finds. On CPU those include the KV cache in bytes and the
memory fraction that the caller sized from the node's free memory
(corpusforge/tasks/engines/vllm/memory.py), so this `vllm.LLM` passes vLLM's memory
checks wherever the servers do. REQUESTS.json holds the flow's journaled generate
requests in journal order, each with the row that made it ({"row", "request"}). One model
load, two replays (the prefix cache emptied before each):

- all_at_once: one `vllm.LLM.chat` call with every request. The best case for vLLM, which
  batches everything it is given, and one no pipeline can reach: a row's later prompts
  hold its earlier answers, so they cannot exist before those answers do.
- row_order: the same requests with the flow's dependencies and nothing else of the
  flow: every row's first request enqueued at once, each row's next request enqueued the
  moment its previous one finishes (`LLM.enqueue_chat` and the engine's own step loop).
  The flow against this one is the platform's own cost; against all_at_once, that plus
  what the corpus's request chains cost.

Prints one JSON line per replay: generated tokens, seconds, tokens/s, the model's load
time (not counted in tokens/s, as the flow's replica start is not counted either) and
the texts per request, in REQUESTS.json's order (the caller checks the replay against
the flow's answers).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

MARK = "corpusforge-bare-vllm: "


def sampling_params(request: dict[str, Any]) -> Any:
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    s = request["sampling"]
    structured = (StructuredOutputsParams(json=request["json_schema"])
                  if request.get("json_schema") is not None else None)
    kwargs = {"temperature": s["temperature"], "top_p": s["top_p"],
              "max_tokens": s["max_tokens"], "n": request["n"], "seed": request["seed"],
              "stop": list(s["stop"]) or None, "structured_outputs": structured}
    if s.get("repeat_penalty") is not None:
        kwargs["repetition_penalty"] = s["repeat_penalty"]
    return SamplingParams(**kwargs)


def generated(outputs: list[Any]) -> int:
    return sum(len(c.token_ids) for out in outputs for c in out.outputs)


def all_at_once(llm: Any, entries: list[dict[str, Any]]) -> list[Any]:
    """The outputs in the entries' order."""
    return llm.chat([e["request"]["messages"] for e in entries],
                    [sampling_params(e["request"]) for e in entries], use_tqdm=False)


def external_id(request_id: str) -> str:
    """The offline LLM's own id (a counter); the engine may return it with a random
    suffix ("7-1a2b3c4d"), its internal id, where outputs carry the plain one."""
    return request_id.split("-", 1)[0]


def row_order(llm: Any, entries: list[dict[str, Any]]) -> list[Any]:
    """The outputs in the entries' order."""
    chains: dict[str, list[int]] = {}  # row -> its entries' indices, in journal order
    for i, e in enumerate(entries):  # an untagged request is a row of its own
        chains.setdefault(e.get("row") or f"untagged-{i}", []).append(i)
    waiting: dict[str, tuple[str, int]] = {}  # vLLM request id -> (row, position)

    def enqueue(row: str, position: int) -> None:
        request = entries[chains[row][position]]["request"]
        (request_id,) = llm.enqueue_chat([request["messages"]], [sampling_params(request)],
                                         use_tqdm=False)
        waiting[external_id(request_id)] = (row, position)

    for row in chains:
        enqueue(row, 0)
    outputs: list[Any] = [None] * len(entries)
    engine = llm.llm_engine
    while engine.has_unfinished_requests():
        for out in engine.step():
            if not out.finished:
                continue
            row, position = waiting.pop(external_id(out.request_id))
            outputs[chains[row][position]] = out
            if position + 1 < len(chains[row]):
                enqueue(row, position + 1)
    if waiting:
        raise RuntimeError(f"{len(waiting)} requests never finished")
    return outputs


def main() -> None:
    requests_file, model_dir, engine_file = sys.argv[1:4]
    entries = json.loads(Path(requests_file).read_text(encoding="utf-8"))
    engine = json.loads(Path(engine_file).read_text(encoding="utf-8"))
    from vllm import LLM
    from vllm.platforms import current_platform

    started = time.perf_counter()
    llm = LLM(model=model_dir, **engine["cpu" if current_platform.is_cpu() else "cuda"])
    load_s = time.perf_counter() - started
    for mode, replay in (("all_at_once", all_at_once), ("row_order", row_order)):
        llm.reset_prefix_cache()
        started = time.perf_counter()
        outputs = replay(llm, entries)
        wall = time.perf_counter() - started
        tokens = generated(outputs)
        texts = [[c.text for c in out.outputs] for out in outputs]
        print(MARK + json.dumps({"mode": mode, "tokens": tokens, "wall_s": wall,
                                 "tokens_per_s": tokens / wall, "load_s": load_s,
                                 "requests": len(outputs), "texts": texts}), flush=True)
    # A normal exit, so vLLM stops its engine processes (os._exit would orphan them, and
    # they would hold the caller's pipes open); the marker tells the figures from the
    # teardown's noise.


if __name__ == "__main__":
    main()
