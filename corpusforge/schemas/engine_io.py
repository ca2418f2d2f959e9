"""What crosses the engine boundary: engine configs, requests and results.

Every corpus talks to every engine through these types only, so a corpus runs on the
embedded llama.cpp engine, an OpenAI-compatible server or vLLM by changing config.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from corpusforge.schemas.base import StrictModel


# ---------------------------------------------------------------- engine configs
class LlamaCppEngineConfig(StrictModel):
    """llama.cpp in-process. `model` is a packaged profile name or a path to a .gguf file."""

    kind: Literal["llamacpp"] = "llamacpp"
    model: str = "smollm2"
    n_ctx: int = Field(default=4096, ge=256)
    n_threads: int | None = None
    # Profile defaults (e.g. repeat penalty for the Gemma base model) apply when unset.
    repeat_penalty: float | None = None

    def lacks(self, operation: str, needs: dict[str, Any]) -> str | None:
        """Why this engine cannot serve `operation` with `needs`, or None (it can)."""
        return _lacks(operation, needs, poolings=("last", "mean"))


class OpenAIEngineConfig(StrictModel):
    """Any OpenAI-compatible HTTP server (vLLM serve, llama.cpp server, hosted APIs)."""

    kind: Literal["openai"] = "openai"
    model: str
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = Field(default=8, ge=1)
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=5, ge=0)
    # How the server accepts a JSON schema: "json_schema" (OpenAI, vLLM) or
    # "json_object" (llama-cpp-python's server: {"type":"json_object","schema":...}).
    structured_output: Literal["json_schema", "json_object"] = "json_schema"
    # Sequences the server decodes at once, when known (a vLLM server's --max-num-seqs
    # times its replicas behind the URL). Unknown (None), each shard task keeps a CPU;
    # known, tasks share the driver's CPUs and enough run to keep that batch full.
    server_batch: int | None = Field(default=None, ge=1)

    def lacks(self, operation: str, needs: dict[str, Any]) -> str | None:
        """Scoring needs echoed prompt logprobs on /v1/completions, which the driver probes
        before the run (OpenAIEngine.capabilities); `represent` is not offered: an OpenAI
        server's /v1/embeddings does not say which layer or pooling it returns."""
        if operation == "represent":
            return ("an OpenAI-compatible server's /v1/embeddings does not say which layer "
                    "or pooling it returns, so it is not used as a hidden state")
        return _lacks(operation, needs, poolings=())

    def requests_per_task(self) -> int:
        """In-flight requests one shard task keeps."""
        return self.concurrency

    def batch_capacity(self) -> int | None:
        """None: the server's batch width is unknown."""
        return self.server_batch


class VLLMEngineConfig(StrictModel):
    """vLLM replicas on a Ray cluster, each a `vllm serve` process in vLLM's own Python
    environment (tasks/engines/vllm/). `model` is a packaged profile name (converted to a
    Hugging Face directory by `make vllm-install`), a model directory or a hub id."""

    kind: Literal["vllm"] = "vllm"
    model: str = "smollm2"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    max_model_len: int = Field(default=4096, ge=256)
    tensor_parallel_size: int = Field(default=1, ge=1)
    replicas: int = Field(default=1, ge=1)
    gpu_memory_utilization: float = Field(default=0.85, gt=0.0, le=1.0)
    max_num_seqs: int = Field(default=64, ge=1)
    # "auto": a GPU per tensor-parallel rank when the Ray cluster has GPUs, else CPU.
    device: Literal["auto", "cuda", "cpu"] = "auto"
    # KV cache of a CPU replica's server, an upper bound in GiB (lowered to what the node's
    # free memory holds, tasks/engines/vllm/memory.py), or "auto": as much as fits, up to
    # max_num_seqs full-length sequences.
    cpu_kvcache_gib: Annotated[float, Field(gt=0)] | Literal["auto"] = Field(
        default=1.0, description="KV cache on CPU builds: GiB at most, or 'auto'")
    # Interpreter of vLLM's environment; default $CORPUSFORGE_VLLM_PYTHON, else .venv-vllm.
    python_executable: str | None = None
    concurrency: int = Field(default=64, ge=1, description="in-flight requests per task; "
                             "as many as max_num_seqs keeps a replica's batch full")
    timeout_s: float = Field(default=600.0, gt=0)
    startup_timeout_s: float = Field(default=900.0, gt=0)
    max_retries: int = Field(default=3, ge=0)

    def lacks(self, operation: str, needs: dict[str, Any]) -> str | None:
        """represent: each replica's pooling server takes the LAST token only."""
        return _lacks(operation, needs, poolings=("last",))

    def requests_per_task(self) -> int:
        """In-flight requests one shard task keeps: `concurrency` for each replica."""
        return self.concurrency * self.replicas

    def batch_capacity(self) -> int:
        """Sequences the replicas decode at once; the run's in-flight requests must cover
        it for the batches to stay full."""
        return self.max_num_seqs * self.replicas


def _lacks(operation: str, needs: dict[str, Any], *, poolings: tuple[str, ...]) -> str | None:
    """Every engine here generates and scores; they differ in hidden states."""
    if operation in ("generate", "score"):
        return None
    if operation == "represent":
        pooling = needs.get("pooling", "last")
        if not poolings:
            return "it returns no hidden states"
        if pooling not in poolings:
            return f"it pools hidden states by {' or '.join(poolings)} only, not {pooling!r}"
        return None
    return f"it has no operation {operation!r}"


EngineConfig = Annotated[LlamaCppEngineConfig | OpenAIEngineConfig | VLLMEngineConfig,
                         Field(discriminator="kind")]


# ---------------------------------------------------------------- requests
class ChatMessage(StrictModel):
    role: Literal["system", "user", "assistant"]
    content: str


class SamplingParams(StrictModel):
    temperature: float = Field(default=0.7, ge=0.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(default=256, ge=1)
    repeat_penalty: float | None = None
    stop: tuple[str, ...] = ()


class GenerateRequest(StrictModel):
    """One chat completion. `seed` makes it reproducible; `json_schema` is enforced by the
    engine's constrained decoding, not checked afterwards."""

    messages: tuple[ChatMessage, ...]
    sampling: SamplingParams = SamplingParams()
    n: int = Field(default=1, ge=1)
    seed: int = 0
    json_schema: dict[str, Any] | None = None


class ScoreRequest(StrictModel):
    """Teacher forcing: log P(continuation | prompt) for each candidate continuation;
    `per_token` also returns each continuation token's log-probability."""

    prompt: str
    continuations: tuple[str, ...]
    per_token: bool = False


# How a hidden state is taken over the prompt's tokens: the last token's, or the mean.
Pooling = Literal["last", "mean"]


class RepresentRequest(StrictModel):
    """The last-layer hidden state of the prompt: its last token's (the default, the
    input of the LM head), or the mean over its tokens. No engine here exposes other
    layers (llama.cpp's API returns the final layer only)."""

    prompt: str
    pooling: Pooling = "last"


# ---------------------------------------------------------------- results
class Usage(StrictModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(prompt_tokens=self.prompt_tokens + other.prompt_tokens,
                     completion_tokens=self.completion_tokens + other.completion_tokens)


class GenerateResult(StrictModel):
    texts: tuple[str, ...]
    usage: Usage
    model: str
    finish_reasons: tuple[str, ...] = ()
    cached: bool = False
    latency_s: float = 0.0


class ScoreResult(StrictModel):
    logprobs: tuple[float, ...]  # summed over each continuation's tokens
    token_counts: tuple[int, ...]
    # With ScoreRequest.per_token: each continuation's token log-probabilities.
    token_logprobs: tuple[tuple[float, ...], ...] | None = None
    usage: Usage
    model: str
    cached: bool = False


class RepresentResult(StrictModel):
    vector: tuple[float, ...]
    usage: Usage
    model: str
    cached: bool = False


class Capabilities(StrictModel):
    generate: bool = True
    structured_output: bool = True
    seed: bool = True
    score: bool = False
    represent: bool = False
    represent_poolings: tuple[str, ...] = ()
    max_concurrency: int = 1
