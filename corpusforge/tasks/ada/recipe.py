"""The ADA recipe the generic platform runs, in two stages.

read_inputs parses the training file (bad lines quarantined or fatal). `augment` is a
global stage, because the method's counts span the whole dataset: it annotates and ranks
every sentence, runs the augmentation, writes the `sentences` table (and their `training`
rows) and emits each augmented row with its source sentences as parents. `pairs` is a map
stage over the augmented rows: it projects them into `augmented` and `training`, after,
with the paraphrase extension, rewriting the concatenated pairs through the engine. The
original sentences are the primary table, so read == sentences + quarantined lines.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from corpusforge.schemas.ada import ADA_TABLE_SCHEMAS, SCHEMA_VERSION, AdaConfig
from corpusforge.schemas.expectations.ada import ADA_EXPECTATIONS
from corpusforge.tasks.ada import card, tables
from corpusforge.tasks.ada.build import build_rows
from corpusforge.tasks.ada.chart import distribution_svg
from corpusforge.tasks.ada.paraphrase import Paraphrase
from corpusforge.tasks.ada.parsing import read_quad_file
from corpusforge.tasks.inputs import READ_STEP
from corpusforge.tasks.recipe import InputBatch, Recipe
from corpusforge.tasks.stages import GlobalStage, MapStage, Stage, StageInput, StageOutput
from corpusforge.tasks.steps import Step


class AdaRecipe(Recipe[AdaConfig]):
    name = "ada"
    config_model = AdaConfig
    schema_version = SCHEMA_VERSION
    table_schemas = ADA_TABLE_SCHEMAS
    primary_table = "sentences"
    expectations = ADA_EXPECTATIONS
    pretty_name = "ADA-augmented aspect sentiment quads"
    summary = ("An aspect sentiment quad prediction (ASQP) training set balanced over quad "
               "patterns and aspect categories by Adaptive Data Augmentation (ICASSP 2024, "
               "arXiv 2401.06394): pairs of training sentences concatenated under a "
               "counting rule, published in the original line format and as Parquet.")
    tags = ("absa", "aspect-sentiment-quad-prediction", "data-augmentation")

    def read_inputs(self, config: AdaConfig) -> InputBatch:
        c = config
        return read_quad_file(c.resolved_input_path(), on_bad_rows=c.on_bad_rows,
                              limit=c.limit)

    def stages(self, config: AdaConfig) -> list[Stage]:
        steps: list[Step] = [Paraphrase(config.paraphrase)] if config.paraphrase.enabled else []
        return [Augment("augment", config),
                MapStage("pairs", steps, project=tables.augmented_records)]

    def card_section(self, counts: dict[str, Any], config: AdaConfig,
                     tables_: dict[str, pa.Table]) -> str:
        c = config
        report = tables.report_from_tables(tables_, c, _bad_lines(tables_))
        paraphrase = tables.paraphrase_counts(tables_) if c.paraphrase.enabled else None
        return card.report_markdown(report, seed=c.seed, paraphrase=paraphrase)

    def extra_files(self, tables_: dict[str, pa.Table], config: AdaConfig) -> dict[str, bytes]:
        c = config
        report = tables.report_from_tables(tables_, c, _bad_lines(tables_))
        files = {
            card.TRAIN_FILE: tables.training_file(tables_),
            card.REPORT_FILE: (json.dumps(report.to_json(), indent=2, ensure_ascii=False)
                               + "\n").encode(),
            card.CHART_FILE: distribution_svg(report).encode(),
        }
        if c.paraphrase.enabled:
            files[card.PARAPHRASED_FILE] = tables.training_file(tables_, paraphrased=True)
        return files


class Augment(GlobalStage):
    """Every sentence read -> the published sentences and the augmented rows."""

    def __init__(self, name: str, config: AdaConfig) -> None:
        super().__init__(name)
        self.config = config

    def run(self, inputs: StageInput, out: StageOutput) -> None:
        originals = list(inputs.rows())
        built = build_rows(originals, self.config)
        for table, records in tables.sentence_records(built.originals).items():
            out.write(table, records)
        for row, sources in zip(built.augmented, built.sources, strict=True):
            out.emit(row, parents=[originals[i] for i in sources])


def _bad_lines(tables_: dict[str, pa.Table]) -> int:
    quarantine = tables_.get("quarantine")
    if quarantine is None:
        return 0
    return sum(step == READ_STEP for step in quarantine.column("step").to_pylist())
