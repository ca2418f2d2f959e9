"""What a corpus gives the platform. The generic flow (flows/pipeline.py) plans the run,
runs its stages on Ray (map stages in shards through the shard runner, global stages as
one task each: tasks/stages.py), validates and publishes; a corpus only says how to read
its inputs, which stages to run, and how finished rows become output tables.

A recipe of one map stage only gives `steps` and `project`; one of several stages
overrides `stages`.

A recipe is generic over its config model: the platform checks the config's type once
when the plan is built, and every method receives the corpus's own config.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import pyarrow as pa

from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.expectations.spec import ExpectationSuiteSpec
from corpusforge.schemas.quarantine import QuarantineRecord
from corpusforge.tasks.stages import MapStage, Stage
from corpusforge.tasks.steps import Row, Step


@dataclass
class InputBatch:
    """Rows carry a stable, unique `row_id`. `read` counts every input record seen, so that
    read == len(rows) + len(quarantined) always holds at this stage."""

    rows: list[Row]
    quarantined: list[QuarantineRecord] = field(default_factory=list)
    read: int = 0
    sources: list[str] = field(default_factory=list)


C = TypeVar("C", bound=CorpusConfig)


class Recipe(ABC, Generic[C]):
    name: ClassVar[str]
    config_model: ClassVar[type[CorpusConfig]]
    schema_version: ClassVar[int] = 1
    # Published tables (quarantine is added by the platform), each with its Arrow schema.
    table_schemas: ClassVar[dict[str, pa.Schema]]
    # The table whose rows account for the inputs: read == len(primary) + quarantined.
    primary_table: ClassVar[str]
    expectations: ClassVar[dict[str, ExpectationSuiteSpec]] = {}
    # True when steps do CPU-heavy work inside the shard task (APPS runs programs in
    # sandboxes): its tasks then keep a whole CPU each even while a server engine answers.
    cpu_bound_steps: ClassVar[bool] = False
    # Dataset card metadata.
    pretty_name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    languages: ClassVar[tuple[str, ...]] = ("en",)
    license: ClassVar[str] = "other"
    tags: ClassVar[tuple[str, ...]] = ()
    task_categories: ClassVar[tuple[str, ...]] = ("text-generation",)

    @abstractmethod
    def read_inputs(self, config: C) -> InputBatch:
        """All input records, or the first `config.limit` of them (good or bad, in file
        order), so that a quick try accounts for exactly what it read."""

    def stages(self, config: C) -> list[Stage]:
        """The recipe's stages, in order; by default one map stage of `steps` over the
        inputs, projected by `project`."""
        return [MapStage("rows", self.steps(config),
                         project=functools.partial(self.project, config=config))]

    def steps(self, config: C) -> list[Step]:
        """The steps of a one-map-stage recipe."""
        raise NotImplementedError(f"recipe {self.name!r} gives neither stages nor steps")

    def project(self, rows: list[Row], config: C) -> dict[str, list[dict[str, Any]]]:
        """Finished rows of one shard -> records of each published table."""
        raise NotImplementedError(f"recipe {self.name!r} gives neither stages nor project")

    def observe(self, notes: dict[str, dict[str, Any]]) -> None:
        """What each global stage noted at run time (`StageOutput.note`), stage name ->
        facts; called before `card_section` and `extra_files`."""

    def card_section(self, counts: dict[str, Any], config: C,
                     tables: dict[str, pa.Table]) -> str:
        """Corpus-specific markdown for the dataset card (method, caveats, distributions)."""
        return ""

    def extra_files(self, tables: dict[str, pa.Table], config: C) -> dict[str, bytes]:
        """Files published beside the Parquet tables ('/'-separated relative path -> bytes),
        e.g. a training file in the corpus's original line format, or a chart."""
        return {}
