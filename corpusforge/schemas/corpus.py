"""Settings every corpus config shares. A corpus config subclasses CorpusConfig, adds its own
typed fields and a literal `corpus` name."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from corpusforge.schemas.base import StrictModel
from corpusforge.schemas.engine_io import EngineConfig, LlamaCppEngineConfig


class CorpusConfig(StrictModel):
    corpus: str
    engine: EngineConfig = Field(default_factory=LlamaCppEngineConfig)
    seed: int = 0
    limit: int | None = Field(default=None, ge=1, description="use only the first N inputs")
    # Inputs per shard, the unit of scheduling and resume. None: about 16 shards, at most
    # 64 rows each (tasks/plan.py), so small runs still use every worker.
    shard_size: int | None = Field(default=None, ge=1)
    max_parse_attempts: int = Field(default=3, ge=1)
    on_bad_rows: Literal["fail", "quarantine"] = "fail"
    # The publish gate: more rejected than this share of inputs stops the publish.
    max_reject_fraction: float = Field(default=1.0, ge=0.0, le=1.0)
    dataset_name: str | None = None  # defaults to the corpus name
