"""The Weibo (DKRN) recipe the generic platform runs.

read_inputs parses the input layout (bad lines quarantined or fatal). prepare is the
whole-corpus stage: segmentation runs as Ray tasks over chunks (the flow's Ray, or a
cluster), then counting, candidates, filter, split, instances, graph, embeddings and
self-play (build.py). The shards then apply the filter step (a rejected conversation is
quarantined with its reason) and, with the extension on, the LLM steps; `project` routes
rows to tables by kind. `conversations` is the primary table: read == kept conversations
+ quarantined (filtered + malformed lines).

Run-time facts of the corpus stage (timings, throughput) are kept on the instance for
the card; they are not in any row, because rows must not change between reruns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpusforge.schemas.expectations.weibo import WEIBO_EXPECTATIONS
from corpusforge.schemas.weibo import SCHEMA_VERSION, WEIBO_TABLE_SCHEMAS, WeiboConfig
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.steps import Row, Step
from corpusforge.tasks.weibo import card, tables
from corpusforge.tasks.weibo.build import StageReport, build_all
from corpusforge.tasks.weibo.executor import Executor, default_executor
from corpusforge.tasks.weibo.filter import FilterConversations
from corpusforge.tasks.weibo.ingest import read_conversations
from corpusforge.tasks.weibo.llm import LlmAgentTurn, LlmUserTurn
from corpusforge.tasks.weibo.report import build_report

SEGMENT_CACHE = "weibo-segments"


class WeiboRecipe(Recipe[WeiboConfig]):
    name = "weibo"
    config_model = WeiboConfig
    schema_version = SCHEMA_VERSION
    table_schemas = WEIBO_TABLE_SCHEMAS
    primary_table = "conversations"
    expectations = WEIBO_EXPECTATIONS
    pretty_name = "Weibo target-guided conversations (DKRN corpus construction)"
    summary = ("Chinese open-domain conversations prepared for target-guided conversation "
               "as in DKRN (AAAI 2020): segmented and POS-tagged utterances with candidate "
               "keywords, a seeded 90/5/5 split, turn-level retrieval instances with 19 "
               "negatives, the keyword vocabulary and per-split keyword transition graphs, "
               "and target-guided self-play conversations with success, turns and a "
               "smoothness proxy.")
    languages = ("zh",)
    tags = ("dialogue", "target-guided-conversation", "weibo", "keywords")
    task_categories = ("text-generation", "text-retrieval")

    def __init__(self, executor: Executor | None = None) -> None:
        self.executor = executor
        self.stage: StageReport | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Shard tasks carry the recipe to Ray workers: not the executor nor the report.
        return {"executor": None, "stage": None}

    def for_output(self, config: WeiboConfig, state_dir: Path) -> WeiboConfig:
        """Segmented chunks are cached under the output unless the config names another
        place, so a rerun does not tag again."""
        if config.segmentation.cache_dir is not None:
            return config
        cache = str(state_dir / "cache" / SEGMENT_CACHE)
        return config.model_copy(update={
            "segmentation": config.segmentation.model_copy(update={"cache_dir": cache})})

    def read_inputs(self, config: WeiboConfig) -> InputBatch:
        return read_conversations(config)

    def prepare(self, batch: InputBatch, config: WeiboConfig) -> InputBatch:
        rows, self.stage = build_all(batch.rows, config,
                                     self.executor or default_executor())
        return InputBatch(rows=rows, quarantined=batch.quarantined, read=batch.read,
                          sources=batch.sources)

    def steps(self, config: WeiboConfig) -> list[Step]:
        c = config
        out: list[Step] = [FilterConversations(c.min_keywords)]
        if c.synthesis.llm_agent:
            out.append(LlmAgentTurn(c.synthesis))
        if c.synthesis.llm_user:
            out.append(LlmUserTurn(c.synthesis))
        return out

    def project(self, rows: list[Row], config: WeiboConfig) -> dict[str, list[dict[str, Any]]]:
        return tables.project_rows(rows)

    def report(self, tables_: dict[str, pa.Table], config: WeiboConfig) -> dict[str, Any]:
        return build_report(tables_, config, self.stage)

    def card_section(self, counts: dict[str, Any], config: WeiboConfig,
                     tables_: dict[str, pa.Table]) -> str:
        return card.report_markdown(self.report(tables_, config))

    def extra_files(self, tables_: dict[str, pa.Table], config: WeiboConfig) -> dict[str, bytes]:
        report = self.report(tables_, config)
        return {card.REPORT_JSON: (json.dumps(report, indent=2, ensure_ascii=False)
                                   + "\n").encode(),
                card.REPORT_MD: card.report_markdown(report).encode()}
