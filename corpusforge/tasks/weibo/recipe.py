"""The Weibo (DKRN) recipe the generic platform runs, in three stages.

read_inputs parses the input layout (bad lines quarantined or fatal). `corpus` is the
whole-corpus global stage: segmentation runs as Ray tasks over chunks (the flow's Ray, or
a cluster), then counting, candidates, filter, split, instances, graph, embeddings and
self-play (build.py); it writes the derived tables and emits the conversations, and the
LLM extension's turns on its `llm` output. `conversations` applies the filter step (a
rejected conversation is quarantined with its reason) and publishes the kept ones; `llm`
runs the extension's steps on the turns. `conversations` is the primary table: read ==
kept conversations + quarantined (filtered + malformed lines).

Run-time facts of the corpus stage (timings, throughput) reach the card as the stage's
notes (`observe`); they are not in any row, because rows must not change between reruns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpusforge.schemas.expectations.weibo import WEIBO_EXPECTATIONS
from corpusforge.schemas.lineage import LINEAGE, with_lineage
from corpusforge.schemas.weibo import SCHEMA_VERSION, WEIBO_TABLE_SCHEMAS, WeiboConfig
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.stages import GlobalStage, MapStage, Stage, StageInput, StageOutput
from corpusforge.tasks.steps import Row, Step
from corpusforge.tasks.weibo import card, tables
from corpusforge.tasks.weibo.build import StageReport, build_all
from corpusforge.tasks.weibo.executor import Executor, default_executor
from corpusforge.tasks.weibo.filter import FilterConversations
from corpusforge.tasks.weibo.ingest import read_conversations
from corpusforge.tasks.weibo.llm import LlmAgentTurn, LlmUserTurn
from corpusforge.tasks.weibo.report import build_report

SEGMENT_CACHE = "weibo-segments"


class CorpusStage(GlobalStage):
    """The streaming corpus stage over every conversation read (build.py)."""

    outputs = ("llm",)
    # It hands the segmentation chunks to Ray tasks of its own and waits on them.
    cpus = 0.0

    def __init__(self, name: str, config: WeiboConfig, executor: Executor | None) -> None:
        super().__init__(name)
        self.config, self.executor = config, executor

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "executor": None}

    def run(self, inputs: StageInput, out: StageOutput) -> None:
        sink = _Sink(out)
        rows = ({k: v for k, v in r.items() if k != LINEAGE} for r in inputs.rows())
        report = build_all(rows, self.config, self.executor or default_executor(), sink)
        out.note(stats=report.stats, timings_s=report.timings_s)


class _Sink:
    def __init__(self, out: StageOutput) -> None:
        self.out = out

    def conversation(self, row: Row) -> None:
        self.out.emit(with_lineage(row))  # the input row itself: its id is the input's

    def records(self, table: str, records: list[dict[str, Any]]) -> None:
        self.out.write(table, records)

    def llm_turn(self, row: Row) -> None:
        self.out.emit(row, parents=[], output="llm")  # made from the whole corpus


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
        # Tasks carry the recipe to Ray workers: not the executor nor the report.
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

    def stages(self, config: WeiboConfig) -> list[Stage]:
        llm: list[Step] = []
        if config.synthesis.llm_agent:
            llm.append(LlmAgentTurn(config.synthesis))
        if config.synthesis.llm_user:
            llm.append(LlmUserTurn(config.synthesis))
        return [CorpusStage("corpus", config, self.executor),
                MapStage("conversations", [FilterConversations(config.min_keywords)],
                         project=tables.conversation_records),
                MapStage("llm", llm, reads="corpus:llm", project=tables.llm_turn_records)]

    def observe(self, notes: dict[str, dict[str, Any]]) -> None:
        facts = notes.get("corpus")
        self.stage = StageReport(facts["stats"], facts["timings_s"]) if facts else None

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
