"""ADA (adaptive data augmentation for aspect sentiment quad prediction): config and tables.

The parameters are the paper's (alpha, beta, R) with its published defaults; the pass and
partner-try limits are the paper's fixed numbers, exposed only so tests can shrink them.
Everything marked "extension" is beyond the paper and off by default or clearly labelled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
from pydantic import Field, field_validator

from corpusforge.schemas.base import StrictModel
from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.engine_io import SamplingParams

SCHEMA_VERSION = 1
NULL_TERM = "NULL"  # an implicit aspect or opinion
SENTIMENTS = ("positive", "negative", "neutral")
# The ASQP restaurant categories in the order the authors' category prior lists them.
REST_CATEGORIES = (
    "location general", "food prices", "food quality", "food general", "ambience general",
    "service general", "restaurant prices", "drinks prices", "restaurant miscellaneous",
    "drinks quality", "drinks style_options", "restaurant general", "food style_options",
)
Method = Literal["ada", "oversample"]


class ParaphraseConfig(StrictModel):
    """Extension, not in the paper: an LLM rewrites each concatenated pair as one text; the
    rewrite is kept only if every non-NULL quad term still occurs in it. `candidates`
    samples are asked for in one request and the first valid one is kept, so a bad sample
    costs no row (a pair is never dropped: without a valid rewrite it keeps its text)."""

    enabled: bool = False
    candidates: int = Field(default=3, ge=1, le=8)
    sampling: SamplingParams = SamplingParams(temperature=0.7, max_tokens=192)


class AdaConfig(CorpusConfig):
    """`input_path` is a training file in the `text####[[a, c, s, o], ...]` format; a
    relative path is resolved against `data_root` (deployments run from the repository)."""

    corpus: Literal["ada"] = "ada"
    input_path: str
    data_root: str = Field(default=".", description="where a relative input path is found")
    # "oversample" is the baseline: the same counting rule, duplicating the two sentences
    # instead of concatenating them.
    method: Method = Field(default="ada", description="ada (concatenate pairs) or oversample "
                           "(the baseline)")
    alpha: float = Field(default=0.05, ge=0.0, description="rank decay")
    beta: float = Field(default=0.5, ge=0.0, description="target floor")
    rounds: float = Field(default=1.0, gt=0.0, description="R: targets scale with R * n_max")
    max_passes: int = Field(default=20, ge=1, description="augmentation passes at most")
    max_tries: int = Field(default=1000, ge=1, description="pair draws per target at most")
    # Category names appended to the input for the category prior; None = the 13 ASQP
    # restaurant categories when the data uses only those, else the data's own, sorted.
    prior_categories: tuple[str, ...] | None = None
    # Whole-dataset work happens in the driver; shards only project (or paraphrase).
    shard_size: int = Field(default=512, ge=1)
    paraphrase: ParaphraseConfig = ParaphraseConfig()

    @field_validator("prior_categories")
    @classmethod
    def _distinct(cls, names: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if names is not None and (not names or len(set(names)) != len(names)
                                  or any(not n.strip() for n in names)):
            raise ValueError("prior_categories must be distinct, non-empty names")
        return names

    def resolved_input_path(self) -> Path:
        path = Path(self.input_path).expanduser()
        return path if path.is_absolute() else Path(self.data_root).expanduser() / path


# ---------------------------------------------------------------- Arrow schemas
def _f(name: str, typ: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, typ, nullable=nullable)


_STR, _INT = pa.string(), pa.int64()
_STRS, _INTS = pa.list_(pa.string()), pa.list_(pa.int64())
# Character spans [start, end) of the terms in the text; null for NULL or unlocatable terms.
QUAD_TYPE = pa.struct([
    _f("aspect", _STR), _f("category", _STR), _f("sentiment", _STR), _f("opinion", _STR),
    _f("aspect_start", _INT, True), _f("aspect_end", _INT, True),
    _f("opinion_start", _INT, True), _f("opinion_end", _INT, True),
])
PATTERN_TYPE = pa.list_(pa.struct([_f("aspect", _INT), _f("opinion", _INT)]))

_LABELLED = [
    _f("text", _STR), _f("quads", pa.list_(QUAD_TYPE)), _f("quads_num", _INT),
    _f("pattern", PATTERN_TYPE), _f("pattern_key", _STR), _f("pattern_len", _INT),
    _f("categories", _STRS), _f("unlocated_terms", _STRS), _f("unlocated_num", _INT),
    _f("respaced_num", _INT), _f("line", _STR),
]
SENTENCES_SCHEMA = pa.schema([
    _f("row_id", _STR), _f("line_no", _INT), *_LABELLED, _f("pattern_rank", _INT),
    _f("category_ranks", _INTS), _f("schema_version", _INT),
])
AUGMENTED_SCHEMA = pa.schema([
    _f("aug_id", _STR), _f("method", _STR), _f("pass_no", _INT), *_LABELLED,
    _f("source_row_ids", _STRS), _f("source_line_nos", _INTS), _f("source_pattern_keys", _STRS),
    _f("sources_num", _INT), _f("paraphrase", _STR, True), _f("paraphrase_status", _STR),
    _f("paraphrase_missing", _STRS), _f("paraphrase_model", _STR, True),
    _f("paraphrase_error", _STR, True),
    _f("schema_version", _INT),
])
# One row per line of the augmented training file, in file order: the T5-side formats.
TRAINING_SCHEMA = pa.schema([
    _f("example_id", _STR), _f("origin", _STR), _f("text", _STR),
    _f("category_prior_input", _STR), _f("syntax_target", _STR), _f("paraphrase_target", _STR),
])
ADA_TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "sentences": SENTENCES_SCHEMA,
    "augmented": AUGMENTED_SCHEMA,
    "training": TRAINING_SCHEMA,
}
PARAPHRASE_STATUSES = ("disabled", "not_applicable", "kept", "missing_terms", "empty",
                       "failed")
