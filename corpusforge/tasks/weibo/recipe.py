"""The Weibo (DKRN) recipe the generic platform runs: the corpus build as stages.

read_inputs parses the input layout (bad lines quarantined or fatal). Then (passes.py):
`segment` tags every utterance (its key names only the tagger, so other settings reuse
its work); `candidates` counts keyword forms over all of it; `mark` gives each
conversation its keywords, filter decision and split, quarantines the filtered ones with
their reason and publishes `conversations`; `pools` fills the seeded utterance pools over
the kept ones; `instances` builds the turn instances and publishes them; `world` builds
the graph, vocabulary, embeddings and self-play; `llm` runs the extension's steps on the
turns `world` emits. `conversations` is the primary table: read == kept conversations +
quarantined (filtered + malformed lines).

Run-time facts of the stages (timings, throughput) reach the card as the stages' notes
(`observe`); they are not in any row, because rows must not change between reruns.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from corpusforge.schemas.expectations.weibo import WEIBO_EXPECTATIONS
from corpusforge.schemas.weibo import SCHEMA_VERSION, WEIBO_TABLE_SCHEMAS, WeiboConfig
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.stages import MapStage, Stage
from corpusforge.tasks.steps import Step
from corpusforge.tasks.weibo import card, passes, tables
from corpusforge.tasks.weibo.build import StageReport
from corpusforge.tasks.weibo.filter import FilterConversations
from corpusforge.tasks.weibo.ingest import read_conversations
from corpusforge.tasks.weibo.llm import LlmAgentTurn, LlmUserTurn
from corpusforge.tasks.weibo.report import build_report
from corpusforge.tasks.weibo.tagging import Segment


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

    def __init__(self) -> None:
        self.stage: StageReport | None = None
        self.tagging: dict[str, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Tasks carry the recipe to Ray workers: not the run's facts.
        return {"stage": None, "tagging": None}

    def read_inputs(self, config: WeiboConfig) -> InputBatch:
        return read_conversations(config)

    def stages(self, config: WeiboConfig) -> list[Stage]:
        llm: list[Step] = []
        if config.synthesis.llm_agent:
            llm.append(LlmAgentTurn(config.synthesis))
        if config.synthesis.llm_user:
            llm.append(LlmUserTurn(config.synthesis))
        wide = config.segmentation.chunk_size  # rows per shard of the cheap map stages
        return [
            MapStage("segment", [Segment(config.segmentation.segmenter,
                                         config.segmentation.memo)],
                     max_shard_rows=wide, config_fields=("segmentation.segmenter",)),
            passes.CountCandidates("candidates", config),
            MapStage("mark", [passes.Mark(config), FilterConversations(config.min_keywords)],
                     reads="segment", sides=("candidates",), max_shard_rows=wide,
                     project=tables.conversation_records),
            passes.BuildPools("pools", config),
            MapStage("instances", [passes.Instances(config)], reads="mark",
                     sides=("candidates", "pools"), max_shard_rows=wide,
                     project=passes.instance_records, stream_fields=passes.Instances.stream),
            passes.World("world", config),
            MapStage("llm", llm, reads="world:llm", project=tables.llm_turn_records)]

    def observe(self, notes: dict[str, dict[str, Any]]) -> None:
        """The report's facts from the stages' notes (none before a run)."""
        if "world" not in notes:
            self.stage = None
            return
        world = {k: v for k, v in notes["world"].items() if k != "timings_s"}
        stats = {**notes.get("candidates", {}), **notes.get("pools", {}), **world}
        timings = {name: n["elapsed_s"] for name, n in notes.items() if "elapsed_s" in n}
        self.stage = StageReport(stats, {**timings, **notes["world"].get("timings_s", {})})
        self.tagging = notes.get("segment")

    def report(self, tables_: dict[str, pa.Table], config: WeiboConfig) -> dict[str, Any]:
        return build_report(tables_, config, self.stage, self.tagging)

    def card_section(self, counts: dict[str, Any], config: WeiboConfig,
                     tables_: dict[str, pa.Table]) -> str:
        return card.report_markdown(self.report(tables_, config))

    def extra_files(self, tables_: dict[str, pa.Table], config: WeiboConfig) -> dict[str, bytes]:
        report = self.report(tables_, config)
        return {card.REPORT_JSON: (json.dumps(report, indent=2, ensure_ascii=False)
                                   + "\n").encode(),
                card.REPORT_MD: card.report_markdown(report).encode()}
