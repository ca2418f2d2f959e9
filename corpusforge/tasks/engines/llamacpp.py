"""llama.cpp in-process: generate, score (teacher forcing) and represent (hidden state).

Determinism is the point of this engine. llama-cpp-python reuses the KV cache of the
previous request when prompts share a prefix, which makes a request's text depend on what
ran before it; we reset the state before every request, so the same request and seed give
the same text in any order — a resumed run reproduces exactly what an uninterrupted run
would have written. Sample i of n uses seed + i.

Up to four llama.cpp contexts over the same weights (mmap'd once by the OS), created
lazily: generation; scoring with logits for every position (`logits_all`); embeddings
with LAST pooling; embeddings with MEAN pooling. One lock serialises them
(max_concurrency 1): a context is not thread-safe, and on a CPU the calls compete for
the same cores anyway.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np

from corpusforge.schemas.engine_io import (
    Capabilities,
    GenerateRequest,
    GenerateResult,
    LlamaCppEngineConfig,
    RepresentRequest,
    RepresentResult,
    ScoreRequest,
    ScoreResult,
    Usage,
)
from corpusforge.schemas.fingerprint import ordered_json
from corpusforge.tasks.engines.errors import EngineError, FatalEngineError, RowTooLongError
from corpusforge.tasks.engines.models import (
    TRANSCRIPT_STOP,
    file_sha256,
    get_profile,
    render_transcript,
)
from corpusforge.tasks.engines.scoring import common_prefix

_SEED_MODULUS = 0xFFFFFFFF  # llama.cpp reads seed 0xFFFFFFFF as "random": never pass it
_SCORE_BATCH = 128  # logits rows per decode when scoring: caps memory for 262k vocabularies
_POOLINGS = ("last", "mean")  # RepresentRequest.pooling: llama.cpp's LAST and MEAN pooling


class LlamaCppEngine:
    def __init__(self, config: LlamaCppEngineConfig) -> None:
        self.config = config
        self.profile = get_profile(config.model)
        self.path = self.profile.path()
        self._model_id = f"llamacpp:{self.profile.name}@{file_sha256(self.path)[:16]}"
        self._lock = threading.Lock()
        self._grammars: dict[str, Any] = {}
        self._generator: Any = self._load()
        self._scorer: Any = None
        self._embedders: dict[str, Any] = {}  # pooling -> embedding context

    @property
    def model_id(self) -> str:
        return self._model_id

    def capabilities(self) -> Capabilities:
        return Capabilities(generate=True, structured_output=True, seed=True, score=True,
                            represent=True, represent_poolings=_POOLINGS,
                            max_concurrency=1)

    # ------------------------------------------------------------ generate
    def generate(self, request: GenerateRequest) -> GenerateResult:
        started = time.perf_counter()
        grammar = self._grammar(request.json_schema)
        texts: list[str] = []
        reasons: list[str] = []
        usage = Usage()
        with self._lock:
            self._require_open()
            for i in range(request.n):
                seed = (request.seed + i) % _SEED_MODULUS
                self._generator.reset()  # no KV reuse: same request -> same text, any order
                out = _mapped(self._complete, request, seed, grammar)
                choice = out["choices"][0]
                # A transcript turn ends with the separator before the next turn marker.
                texts.append(choice["message"]["content"] if self.profile.chat
                             else choice["text"].rstrip())
                reasons.append(choice.get("finish_reason") or "stop")
                usage = usage + Usage(prompt_tokens=out["usage"]["prompt_tokens"],
                                      completion_tokens=out["usage"]["completion_tokens"])
        return GenerateResult(texts=tuple(texts), usage=usage, model=self.model_id,
                              finish_reasons=tuple(reasons),
                              latency_s=time.perf_counter() - started)

    def _complete(self, request: GenerateRequest, seed: int, grammar: Any) -> dict[str, Any]:
        s = request.sampling
        penalty = next(p for p in (s.repeat_penalty, self.config.repeat_penalty,
                                   self.profile.repeat_penalty) if p is not None)
        common: dict[str, Any] = dict(temperature=s.temperature, top_p=s.top_p,
                                      max_tokens=s.max_tokens, seed=seed,
                                      repeat_penalty=penalty, grammar=grammar)
        if self.profile.chat:
            return self._generator.create_chat_completion(
                messages=[m.model_dump() for m in request.messages], stop=list(s.stop),
                **common)
        return self._generator.create_completion(
            prompt=render_transcript(request.messages),
            stop=list(s.stop) + list(TRANSCRIPT_STOP), **common)

    def _grammar(self, schema: dict[str, Any] | None) -> Any:
        """A GBNF grammar for the schema. No silent fallback to 'any JSON' (llama-cpp-python's
        response_format does that): a schema it cannot compile is a configuration error."""
        if schema is None:
            return None
        key = ordered_json(schema)  # property order changes the grammar
        if key not in self._grammars:
            import llama_cpp
            from llama_cpp import LlamaGrammar, llama_grammar

            try:
                gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(schema))
                self._grammars[key] = LlamaGrammar.from_string(gbnf, verbose=False)
            except Exception as err:
                raise FatalEngineError(f"llama.cpp cannot compile the JSON schema: {err}"
                                       ) from err
            # The conversion does not check its output; a broken grammar would only print
            # to stderr when sampling starts and then constrain nothing. Ask llama.cpp now.
            sampler = llama_cpp.llama_sampler_init_grammar(
                self._generator._model.vocab, gbnf.encode(), b"root")
            if not sampler:
                del self._grammars[key]
                raise FatalEngineError("llama.cpp rejects the grammar compiled from the JSON "
                                       f"schema (unsupported construct?): {json.dumps(schema)}")
            llama_cpp.llama_sampler_free(sampler)
        return self._grammars[key]

    # ------------------------------------------------------------ score
    def score(self, request: ScoreRequest) -> ScoreResult:
        """log P(continuation | prompt), summed over the continuation's tokens (and with
        `per_token` each token's log-probability, in order).

        prompt+continuation is tokenized as one text (as the model would see it); the
        scored tokens are those after the longest common prefix with the prompt's own
        tokens. When a token straddles the boundary (tokenizers may merge the prompt's last
        characters with the continuation's first) it counts towards the continuation.
        """
        logprobs: list[float] = []
        per_token: list[tuple[float, ...]] = []
        evaluated = 0
        with self._lock:
            self._require_open()
            if self._scorer is None:
                self._scorer = self._load(logits_all=True, n_batch=_SCORE_BATCH)
            llm = self._scorer
            prompt_ids = llm.tokenize(request.prompt.encode("utf-8"), add_bos=True,
                                      special=True)
            if not prompt_ids:
                raise ValueError("score needs a non-empty prompt (this model adds no BOS)")
            for continuation in request.continuations:
                ids = llm.tokenize((request.prompt + continuation).encode("utf-8"),
                                   add_bos=True, special=True)
                if len(ids) > llm.n_ctx():
                    raise RowTooLongError(f"{len(ids)} tokens exceed the context of "
                                          f"{llm.n_ctx()}")
                start = max(1, common_prefix(prompt_ids, ids))
                llm.reset()
                _mapped(llm.eval, ids)
                evaluated += len(ids)
                logits = np.asarray(llm.scores[start - 1:len(ids) - 1], dtype=np.float64)
                targets = np.asarray(ids[start:], dtype=np.int64)
                values = _log_softmax(logits)[np.arange(len(targets)), targets]
                logprobs.append(float(values.sum()))
                per_token.append(tuple(float(v) for v in values))
        return ScoreResult(logprobs=tuple(logprobs),
                           token_counts=tuple(len(v) for v in per_token),
                           token_logprobs=tuple(per_token) if request.per_token else None,
                           usage=Usage(prompt_tokens=evaluated), model=self.model_id)

    # ------------------------------------------------------------ represent
    def represent(self, request: RepresentRequest) -> RepresentResult:
        """The prompt's final hidden state: llama.cpp's `t_embd`, i.e. the output of the last
        transformer block after the model's final RMS norm (the input of the LM head),
        pooled by llama.cpp itself: "last" takes the last token's, "mean" the mean over all
        the prompt's tokens (the BOS token too, for models that add one). Raw, not
        L2-normalised; length n_embd."""
        with self._lock:
            self._require_open()
            llm = self._embedder(request.pooling)
            n_tokens = len(llm.tokenize(request.prompt.encode("utf-8")))
            if n_tokens > llm.n_batch:
                raise RowTooLongError(f"{n_tokens} tokens exceed the context of {llm.n_batch}")
            vector = _mapped(llm.embed, request.prompt, truncate=False)
        return RepresentResult(vector=tuple(float(v) for v in vector),
                               usage=Usage(prompt_tokens=n_tokens), model=self.model_id)

    def _embedder(self, pooling: str) -> Any:
        """The embedding context for `pooling`, loaded on first use (under the lock). The
        whole prompt goes in one batch: llama.cpp pools within a batch."""
        if pooling not in self._embedders:
            import llama_cpp

            pooling_type = {"last": llama_cpp.LLAMA_POOLING_TYPE_LAST,
                            "mean": llama_cpp.LLAMA_POOLING_TYPE_MEAN}[pooling]
            self._embedders[pooling] = self._load(embedding=True, pooling_type=pooling_type,
                                                  n_batch=self.config.n_ctx,
                                                  n_ubatch=self.config.n_ctx)
        return self._embedders[pooling]

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        with self._lock:
            for llm in (self._generator, self._scorer, *self._embedders.values()):
                if llm is not None:
                    llm.close()
            self._generator = self._scorer = None
            self._embedders.clear()

    def _require_open(self) -> None:
        if self._generator is None:
            raise FatalEngineError("engine is closed")

    def _load(self, **kwargs: Any) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError as err:
            raise FatalEngineError("llama-cpp-python is not installed") from err
        try:
            return Llama(model_path=str(self.path), n_ctx=self.config.n_ctx,
                         n_threads=self.config.n_threads,
                         n_threads_batch=self.config.n_threads, seed=0, verbose=False,
                         **kwargs)
        except Exception as err:
            raise FatalEngineError(f"llama.cpp could not load {self.path}: {err}") from err


def _mapped(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call into llama.cpp, mapping its failures once to an error kind."""
    try:
        return fn(*args, **kwargs)
    except EngineError:
        raise
    except ValueError as err:
        if "exceed context window" in str(err) or "exceed batch size" in str(err):
            raise RowTooLongError(str(err)) from err
        raise EngineError(f"llama.cpp rejected the request: {err}") from err
    except (RuntimeError, OSError, MemoryError) as err:
        raise FatalEngineError(f"llama.cpp failed: {err}") from err


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
