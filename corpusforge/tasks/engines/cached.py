"""An Engine that answers repeated requests from the response cache.

The key names everything that decides the answer: the operation, the loaded model's
identity (model_id carries the weights' hash), the engine config's fingerprint (profile
defaults such as the repeat penalty, the structured-output dialect; endpoints, timeouts
and concurrency are excluded by the fingerprint) and the full request (rendered messages,
sampling, seed, n, output schema with its property order, which decides the order a
constrained decoder writes the fields in; the rest is canonical). Every request is
seeded, so a hit is exactly what the engine would have produced: a resumed run reuses
finished work and only pays for the rest.
Errors are never cached.

With a journal path (or CORPUSFORGE_ENGINE_JOURNAL set, which Ray workers inherit), every
request the engine really computes is appended to a JSON-lines journal with its key,
request and usage: the record of what a run paid for. The runner tags each entry with the
row and step that asked (`journal_tags`), so the journal also says what each row cost and
in which order a row's requests came: the benchmark replays them in that order.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from corpusforge.schemas.engine_io import (
    Capabilities,
    GenerateRequest,
    GenerateResult,
    RepresentRequest,
    RepresentResult,
    ScoreRequest,
    ScoreResult,
    Usage,
)
from corpusforge.schemas.fingerprint import digest, ordered_json
from corpusforge.storage.cache import ResponseCache
from corpusforge.storage.journal import append_entry
from corpusforge.tasks.engines.protocol import Engine

R = TypeVar("R", GenerateResult, ScoreResult, RepresentResult)

KEY_VERSION = 2  # bump when the key layout changes (2: schema property order kept)
JOURNAL_ENV = "CORPUSFORGE_ENGINE_JOURNAL"
_TAGS: ContextVar[dict[str, str] | None] = ContextVar("corpusforge_journal_tags", default=None)


@contextlib.contextmanager
def journal_tags(**tags: str) -> Iterator[None]:
    """Who is asking, for the journal entries of the engine calls made inside (per thread
    and task, as a context variable: the runner's row threads do not see each other's)."""
    token = _TAGS.set({**(_TAGS.get() or {}), **tags})
    try:
        yield
    finally:
        _TAGS.reset(token)


class CachedEngine:
    def __init__(self, engine: Engine, cache: ResponseCache,
                 journal: Path | None = None) -> None:
        self.engine = engine
        self.cache = cache
        env_journal = os.environ.get(JOURNAL_ENV)
        self.journal = journal or (Path(env_journal) if env_journal else None)
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._usage_misses = Usage()
        self._usage_all = Usage()

    # ------------------------------------------------------------ Engine protocol
    @property
    def model_id(self) -> str:
        return self.engine.model_id

    def capabilities(self) -> Capabilities:
        return self.engine.capabilities()

    def generate(self, request: GenerateRequest) -> GenerateResult:
        return self._cached("generate", request, GenerateResult, self.engine.generate)

    def score(self, request: ScoreRequest) -> ScoreResult:
        return self._cached("score", request, ScoreResult, self.engine.score)

    def represent(self, request: RepresentRequest) -> RepresentResult:
        return self._cached("represent", request, RepresentResult, self.engine.represent)

    def close(self) -> None:
        self.engine.close()

    # ------------------------------------------------------------ cache
    def key(self, op: str, request: BaseModel) -> str:
        config = getattr(self.engine, "config", None)
        payload = request.model_dump(mode="json")
        if payload.get("json_schema") is not None:
            payload["json_schema"] = ordered_json(payload["json_schema"])
        return digest({
            "key_version": KEY_VERSION,
            "op": op,
            "model_id": self.engine.model_id,
            "engine": config.fingerprint()["hash"] if config is not None else None,
            "request": payload,
        })

    def stats(self) -> dict[str, Any]:
        """hits / misses, and token usage of misses (actually computed) and of all results."""
        with self._lock:
            return {
                "hits": self._hits,
                "misses": self._misses,
                "usage_computed": self._usage_misses.model_dump(),
                "usage_all": self._usage_all.model_dump(),
            }

    def _cached(self, op: str, request: BaseModel, result_type: type[R], call: Any) -> R:
        key = self.key(op, request)
        started = time.perf_counter()
        stored = self.cache.get(key)
        if stored is not None:
            try:
                result = result_type.model_validate(stored)
            except ValueError:
                stored = None  # an entry from an incompatible schema: recompute
            else:
                update: dict[str, Any] = {"cached": True}
                if "latency_s" in result_type.model_fields:
                    update["latency_s"] = time.perf_counter() - started
                self._count(hit=True, usage=result.usage)
                return result.model_copy(update=update)
        result = call(request)
        self.cache.put(key, result.model_dump(mode="json"))
        if self.journal is not None:
            append_entry(self.journal, {
                "key": key, "op": op, "model_id": self.engine.model_id, "pid": os.getpid(),
                **(_TAGS.get() or {}),
                "request": request.model_dump(mode="json"),
                "usage": result.usage.model_dump(), "at": time.time(),
                "latency_s": round(time.perf_counter() - started, 4)})
        self._count(hit=False, usage=result.usage)
        return result

    def _count(self, *, hit: bool, usage: Usage) -> None:
        with self._lock:
            self._usage_all = self._usage_all + usage
            if hit:
                self._hits += 1
            else:
                self._misses += 1
                self._usage_misses = self._usage_misses + usage
