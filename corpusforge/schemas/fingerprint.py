"""Canonical, versioned content fingerprints.

A fingerprint names *what* is computed, never *how fast* or *where*: fields that change
only concurrency, timeouts, endpoints or credentials are excluded (table below), so a
run resumed with more workers or against another replica of the same server keeps its
identity and its cached work.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

SCHEME_VERSION = 1
ALGORITHM = "sha256"

# field name -> why it does not change what a run produces
EXCLUDED_FIELDS: dict[str, str] = {
    "concurrency": "how many requests run at once; results are per-request seeded",
    "timeout_s": "how long to wait, not what is produced",
    "max_retries": "transport retries; a success is the same success",
    "base_url": "the endpoint serving the model; the model name identifies it",
    "api_key": "a credential, never part of an identity (and never stored)",
    "n_threads": "CPU threads of the embedded engine",
    "replicas": "how many copies of the model serve requests",
    "gpu_memory_utilization": "memory budget of a vLLM replica",
    "max_num_seqs": "vLLM's batch width",
    "server_batch": "an OpenAI-compatible server's batch width, for scheduling",
    "cpu_kvcache_gib": "KV cache size of a CPU vLLM replica",
    "python_executable": "which interpreter runs the engine",
    "startup_timeout_s": "how long to wait for an engine to start",
    "shard_size": "how work is split; records are keyed per row, not per shard",
    "ray_address": "where tasks run",
    "cache_dir": "where cached responses live",
    "progress": "display only",
}


def canonical_json(value: Any) -> str:
    """Sorted, compact JSON: the one serialisation every hash in corpusforge uses."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_default)


def ordered_json(value: Any) -> str:
    """Compact JSON that keeps key order, for values where order is meaning: a JSON
    schema's `properties` order is the order a constrained decoder (llama.cpp's grammar,
    vLLM's guided decoding) writes the fields in, so sorting it changes the output."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_default)


def _default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot fingerprint a {type(value).__name__}")


def strip_excluded(value: Any) -> Any:
    """Drop excluded fields at every depth of a JSON-like value."""
    if isinstance(value, dict):
        return {k: strip_excluded(v) for k, v in value.items() if k not in EXCLUDED_FIELDS}
    if isinstance(value, list):
        return [strip_excluded(v) for v in value]
    return value


def digest(value: Any) -> str:
    """Hex digest of the canonical JSON of `value` (no field exclusion)."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def fingerprint(value: Any) -> dict[str, Any]:
    """The stored form: hash, algorithm and scheme version together."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return {
        "hash": digest(strip_excluded(value)),
        "algorithm": ALGORITHM,
        "scheme_version": SCHEME_VERSION,
    }
