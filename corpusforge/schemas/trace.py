"""TRACE / IOPO: configs, the constraint taxonomy, and the published tables.

The taxonomy is data (26 dimensions in 5 types) because three places must agree on it:
the expansion prompt that asks for constraints, the tables that record each constraint's
dimension with the label the released data uses, and the expectation that flags labels
outside it (the released evaluation set has two).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal, NamedTuple

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from corpusforge.schemas.base import StrictModel
from corpusforge.schemas.corpus import DEFAULT_ROLE, CorpusConfig
from corpusforge.schemas.engine_io import ChatMessage, SamplingParams

# The role of the steps that judge (quality control, response scoring): the paper judges
# with a separate, stronger model; unset, the generator judges itself (the card says so).
JUDGE_ROLE = "judge"
SCHEMA_VERSION = 1
MAX_CONSTRAINTS = 15  # the paper's range is 1-15 constraints per instruction
EditOp = Literal["add", "delete", "revise"]


# ---------------------------------------------------------------- taxonomy
class Dimension(NamedTuple):
    type: str   # one of CONSTRAINT_TYPES
    name: str   # English name, what the (English-only) small models are shown
    label: str  # the label used in the released data (levels2)
    hint: str   # one line for the expansion prompt


TAXONOMY: tuple[Dimension, ...] = (
    Dimension("Content", "Inclusion", "包含约束", "the answer must include given content"),
    Dimension("Content", "Numerical", "数值约束", "a number: length, count, range"),
    Dimension("Content", "Theme", "主题约束", "the answer must stay on a given theme"),
    Dimension("Content", "Value", "价值观约束", "the answer must respect a value or ethic"),
    Dimension("Content", "Exclusion", "排除约束", "the answer must not mention something"),
    Dimension("Content", "Privacy", "隐私约束", "the answer must protect personal data"),
    Dimension("Format", "Output format", "输出格式约束", "e.g. JSON, a table, one line"),
    Dimension("Format", "Text pattern", "文本样式约束", "e.g. bold titles, capital letters"),
    Dimension("Format", "Hierarchical structure", "层次化结构约束", "sections, headings"),
    Dimension("Format", "Citation", "引用和参考约束", "quote or cite a source"),
    Dimension("Format", "Numbering/list", "编号和列表约束", "a numbered or bulleted list"),
    Dimension("Format", "Grammar", "语法结构约束", "e.g. questions only, passive voice"),
    Dimension("Format", "Template", "模版约束", "follow a given template"),
    Dimension("Style", "Tone and style", "语气风格约束", "e.g. formal, humorous"),
    Dimension("Style", "Language characteristics", "语言特征约束", "e.g. metaphors, rhyme"),
    Dimension("Style", "Emotion", "情感情绪约束", "convey a given emotion"),
    Dimension("Style", "Multilingual", "多语言约束", "use or mix given languages"),
    Dimension("Situation", "Natural-language process background", "自然语言流程背景信息约束",
              "follow steps described in words"),
    Dimension("Situation", "Role-playing", "角色扮演约束", "answer as a given role"),
    Dimension("Situation", "Target audience", "受众目标约束", "write for a given audience"),
    Dimension("Situation", "Prior condition", "先验条件约束", "assume a given condition"),
    Dimension("Situation", "Table background", "表格背景信息约束", "use facts from a table"),
    Dimension("Situation", "Text background", "文本背景信息约束", "use facts from a text"),
    Dimension("Situation", "Markdown process background", "markdown流程背景信息约束",
              "follow steps given as markdown"),
    Dimension("Example", "Positive example", "正例约束", "imitate a given good example"),
    Dimension("Example", "Negative example", "负例约束", "avoid a given bad example"),
)
CONSTRAINT_TYPES = ("Content", "Format", "Style", "Situation", "Example")
DIMENSION_BY_LABEL: dict[str, Dimension] = {d.label: d for d in TAXONOMY}
DIMENSION_BY_NAME: dict[str, Dimension] = {d.name: d for d in TAXONOMY}
DIMENSION_LABELS: tuple[str, ...] = tuple(d.label for d in TAXONOMY)


def lookup_dimension(key: str) -> Dimension | None:
    """A dimension by released label or English name; None when outside the taxonomy."""
    return DIMENSION_BY_LABEL.get(key) or DIMENSION_BY_NAME.get(key)


# ---------------------------------------------------------------- configs
class ConstraintCount(StrictModel):
    """The distribution k is drawn from. Small by default: a 135M model cannot juggle 15."""

    min: int = Field(default=2, ge=1, le=MAX_CONSTRAINTS)
    max: int = Field(default=5, ge=1, le=MAX_CONSTRAINTS)
    weights: tuple[float, ...] | None = None  # one per k in min..max; None = uniform

    @model_validator(mode="after")
    def _check(self) -> ConstraintCount:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) > max ({self.max})")
        if self.weights is not None:
            if len(self.weights) != self.max - self.min + 1:
                raise ValueError(f"need {self.max - self.min + 1} weights (one per k in "
                                 f"{self.min}..{self.max}), got {len(self.weights)}")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be >= 0 and not all 0")
        return self


class TraceSampling(StrictModel):
    """Per-stage sampling: generation wants diversity, judging and QC want determinism."""

    expand: SamplingParams = SamplingParams(temperature=0.8, max_tokens=512)
    qc: SamplingParams = SamplingParams(temperature=0.2, max_tokens=512)
    respond: SamplingParams = SamplingParams(temperature=0.7, max_tokens=512)
    judge: SamplingParams = SamplingParams(temperature=0.0, max_tokens=768)
    iopo_edit: SamplingParams = SamplingParams(temperature=0.8, max_tokens=384)


class IopoConfig(StrictModel):
    enabled: bool = True
    operations: tuple[EditOp, ...] = ("add", "delete", "revise")
    max_operations: int = Field(default=3, ge=1, le=MAX_CONSTRAINTS)

    @field_validator("operations")
    @classmethod
    def _needs_add_or_revise(cls, ops: tuple[EditOp, ...]) -> tuple[EditOp, ...]:
        # y1 satisfies every constraint of x1, so it satisfies any subset: deletions alone
        # can never make y1 fail x2.
        if not {"add", "revise"} & set(ops):
            raise ValueError("operations need 'add' or 'revise': deleting alone cannot make "
                             "y1 fail x2")
        return tuple(dict.fromkeys(ops))


class TraceConfig(CorpusConfig):
    engine_roles: ClassVar[tuple[str, ...]] = (DEFAULT_ROLE, JUDGE_ROLE)
    corpus: Literal["trace"] = "trace"
    seeds_path: str | None = None  # a JSONL of seeds; None = the shipped seed set
    constraint_count: ConstraintCount = ConstraintCount()
    # Dimension label or English name -> weight; None = uniform over the taxonomy.
    dimension_weights: dict[str, float] | None = None
    sampling: TraceSampling = TraceSampling()
    iopo: IopoConfig = IopoConfig()

    @field_validator("dimension_weights")
    @classmethod
    def _known_dimensions(cls, w: dict[str, float] | None) -> dict[str, float] | None:
        if w is None:
            return None
        unknown = sorted(k for k in w if lookup_dimension(k) is None)
        if unknown:
            raise ValueError(f"dimensions outside the taxonomy: {unknown}")
        if any(v < 0 for v in w.values()) or sum(w.values()) <= 0:
            raise ValueError("dimension weights must be >= 0 and not all 0")
        labels = {k: d.label for k in w if (d := lookup_dimension(k)) is not None}
        if len(set(labels.values())) != len(w):
            raise ValueError("a dimension is weighted twice (by label and by name)")
        return {labels[k]: v for k, v in w.items()}


class TraceEvalSampling(StrictModel):
    respond: SamplingParams = SamplingParams(temperature=0.0, max_tokens=512)
    judge: SamplingParams = SamplingParams(temperature=0.0, max_tokens=768)


class TraceEvalConfig(CorpusConfig):
    """The benchmark: answer every item of an evaluation file, judge it. A relative
    `eval_path` is resolved against `data_root` (default: the working directory), so the
    same config runs from a checkout or a deployment without absolute paths."""

    engine_roles: ClassVar[tuple[str, ...]] = (DEFAULT_ROLE, JUDGE_ROLE)

    corpus: Literal["trace_eval"] = "trace_eval"
    eval_path: str = "../shared/fixtures/trace/trace_eval.jsonl"
    data_root: str = "."
    sampling: TraceEvalSampling = TraceEvalSampling()

    def resolved_eval_path(self) -> Path:
        path = Path(self.eval_path).expanduser()
        return path if path.is_absolute() else Path(self.data_root).expanduser() / path


# ---------------------------------------------------------------- input records
class TraceEvalItem(BaseModel):
    """One row of the released evaluation file (schema in specs/trace.md)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    messages: tuple[ChatMessage, ...]
    description: str
    constraints: str
    input: str  # "NULL" when absent
    constraints_num: int = Field(ge=1)
    constraints_splits: tuple[str, ...]
    levels2: tuple[str, ...]
    category: str = ""
    type: str = "trace"

    @model_validator(mode="after")
    def _consistent(self) -> TraceEvalItem:
        n = len(self.constraints_splits)
        if self.constraints_num != n or len(self.levels2) != n:
            raise ValueError(f"constraints_num {self.constraints_num}, {n} constraints_splits "
                             f"and {len(self.levels2)} levels2 must agree")
        if self.constraints != "\n".join(self.constraints_splits):
            raise ValueError("constraints is not the newline join of constraints_splits")
        if not any(m.role == "user" for m in self.messages):
            raise ValueError("messages has no user message")
        return self


# ---------------------------------------------------------------- published records
class ShareGPTTurn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_: Literal["human", "gpt"] = Field(alias="from")
    value: str


class EditOperation(StrictModel):
    """One edit from x1 to x2. `index` is the 1-based x1 constraint it touches (None for
    add); `dimension` is a taxonomy label (None for delete, or a revise that keeps it)."""

    op: EditOp
    index: int | None = None
    dimension: str | None = None
    constraint: str | None = None


class TemplateVersion(StrictModel):
    name: str
    version: str


class InstructionRecord(StrictModel):
    row_id: str
    seed_id: str
    description: str
    input: str | None
    constraints: list[str]            # numbered "1. ..." like the released constraints_splits
    constraint_types: list[str]
    constraint_dimensions: list[str]  # released labels (levels2)
    constraints_num: int
    dimensions_num: int               # len(constraint_dimensions), for validation
    dimensions_off_taxonomy: int      # labels outside TAXONOMY, for validation
    planned_dimensions: list[str]
    user_message: str
    qc_verdict: str
    qc_problems: list[str]
    qc_reason: str
    generator_model: str
    response: str
    response_truncated: bool
    response_model: str
    constraint_scores: list[int]
    scores_num: int
    overall_score: float
    min_score: int
    judge_model: str
    sft_accepted: bool
    sft_reason: str
    iopo_status: str
    iopo_failure: str | None = None  # which IOPO step failed and why (status 'failed')
    template_versions: list[TemplateVersion]
    schema_version: int = SCHEMA_VERSION


class SftRecord(StrictModel):
    row_id: str
    seed_id: str
    messages: list[ChatMessage]  # system, user, assistant
    constraints: list[str]
    constraint_dimensions: list[str]
    constraint_scores: list[int]
    constraints_num: int
    scores_num: int
    overall_score: float
    min_score: int
    generator_model: str
    judge_model: str


class IopoRecord(StrictModel):
    row_id: str
    seed_id: str
    description: str
    input: str | None
    x1: str
    x2: str
    x1_constraints: list[str]
    x2_constraints: list[str]
    x1_constraint_dimensions: list[str]
    x2_constraint_dimensions: list[str]
    y1: str
    y2: str
    edit_operations: list[EditOperation]
    y1_x1_scores: list[int]
    y1_x1_overall: float
    y2_x2_scores: list[int]
    y2_x2_overall: float
    y1_x2_scores: list[int]
    y1_x2_overall: float
    y1_x2_min_score: int
    y2_x2_min_score: int
    y2_x1_scores: list[int] | None  # None when y2 was not judged against x1
    y2_x1_overall: float | None


class IopoShareGPTRecord(StrictModel):
    """The released layout: 'chosen' is y1 and 'rejected' is y2 (answers to x1 and x2),
    not good and bad. Drop `row_id` to get the released JSON exactly."""

    row_id: str
    conversations: list[ShareGPTTurn]
    chosen: ShareGPTTurn
    rejected: ShareGPTTurn


class IopoDpoRecord(StrictModel):
    """TRL's conversational preference layout. One pair gives up to two records: for x2,
    chosen y2 and rejected y1 (y1 was judged to fail x2); for x1, chosen y1 and rejected
    y2, only when y2 was judged to fail x1 — otherwise y2 is no rejection for x1. Both
    carry the pair's row id (every derived table shares its instruction's id, so the
    platform drops them with it) and are told apart by `direction`."""

    row_id: str  # the pair's (instruction's) row id: (row_id, direction) is unique
    direction: Literal["x1", "x2"]
    prompt: list[ChatMessage]  # system + user
    chosen: list[ChatMessage]  # one assistant message
    rejected: list[ChatMessage]


class TraceEvalResult(StrictModel):
    row_id: str
    category: str
    description: str
    input: str | None
    constraints: list[str]
    constraint_dimensions: list[str]
    constraints_num: int
    dimensions_num: int
    dimensions_off_taxonomy: int
    user_message: str
    response: str
    response_truncated: bool
    response_model: str
    constraint_scores: list[int]
    scores_num: int
    overall_score: float
    min_score: int
    all_constraints_10: bool
    judge_model: str
    template_versions: list[TemplateVersion]


# ---------------------------------------------------------------- Arrow schemas
def _f(name: str, typ: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, typ, nullable=nullable)


_STR, _INT, _FLOAT, _BOOL = pa.string(), pa.int64(), pa.float64(), pa.bool_()
_STRS, _INTS = pa.list_(pa.string()), pa.list_(pa.int64())
_CHAT = pa.list_(pa.struct([_f("role", _STR), _f("content", _STR)]))
_TURN = pa.struct([_f("from", _STR), _f("value", _STR)])
_TEMPLATES = pa.list_(pa.struct([_f("name", _STR), _f("version", _STR)]))
_EDIT = pa.struct([_f("op", _STR), _f("index", _INT, True), _f("dimension", _STR, True),
                   _f("constraint", _STR, True)])

INSTRUCTIONS_SCHEMA = pa.schema([
    _f("row_id", _STR), _f("seed_id", _STR), _f("description", _STR),
    _f("input", _STR, True), _f("constraints", _STRS), _f("constraint_types", _STRS),
    _f("constraint_dimensions", _STRS), _f("constraints_num", _INT),
    _f("dimensions_num", _INT), _f("dimensions_off_taxonomy", _INT),
    _f("planned_dimensions", _STRS), _f("user_message", _STR), _f("qc_verdict", _STR),
    _f("qc_problems", _STRS), _f("qc_reason", _STR), _f("generator_model", _STR),
    _f("response", _STR), _f("response_truncated", _BOOL), _f("response_model", _STR),
    _f("constraint_scores", _INTS), _f("scores_num", _INT), _f("overall_score", _FLOAT),
    _f("min_score", _INT), _f("judge_model", _STR), _f("sft_accepted", _BOOL),
    _f("sft_reason", _STR), _f("iopo_status", _STR), _f("iopo_failure", _STR, True),
    _f("template_versions", _TEMPLATES),
    _f("schema_version", _INT),
])
SFT_SCHEMA = pa.schema([
    _f("row_id", _STR), _f("seed_id", _STR), _f("messages", _CHAT), _f("constraints", _STRS),
    _f("constraint_dimensions", _STRS), _f("constraint_scores", _INTS),
    _f("constraints_num", _INT), _f("scores_num", _INT), _f("overall_score", _FLOAT),
    _f("min_score", _INT), _f("generator_model", _STR), _f("judge_model", _STR),
])
IOPO_SCHEMA = pa.schema([
    _f("row_id", _STR), _f("seed_id", _STR), _f("description", _STR), _f("input", _STR, True),
    _f("x1", _STR), _f("x2", _STR), _f("x1_constraints", _STRS), _f("x2_constraints", _STRS),
    _f("x1_constraint_dimensions", _STRS), _f("x2_constraint_dimensions", _STRS),
    _f("y1", _STR), _f("y2", _STR), _f("edit_operations", pa.list_(_EDIT)),
    _f("y1_x1_scores", _INTS), _f("y1_x1_overall", _FLOAT),
    _f("y2_x2_scores", _INTS), _f("y2_x2_overall", _FLOAT),
    _f("y1_x2_scores", _INTS), _f("y1_x2_overall", _FLOAT),
    _f("y1_x2_min_score", _INT), _f("y2_x2_min_score", _INT),
    _f("y2_x1_scores", _INTS, True), _f("y2_x1_overall", _FLOAT, True),
])
IOPO_SHAREGPT_SCHEMA = pa.schema([
    _f("row_id", _STR), _f("conversations", pa.list_(_TURN)), _f("chosen", _TURN),
    _f("rejected", _TURN),
])
IOPO_DPO_SCHEMA = pa.schema([
    _f("row_id", _STR), _f("direction", _STR), _f("prompt", _CHAT),
    _f("chosen", _CHAT), _f("rejected", _CHAT),
])
TRACE_EVAL_SCHEMA = pa.schema([
    _f("row_id", _STR), _f("category", _STR), _f("description", _STR), _f("input", _STR, True),
    _f("constraints", _STRS), _f("constraint_dimensions", _STRS), _f("constraints_num", _INT),
    _f("dimensions_num", _INT), _f("dimensions_off_taxonomy", _INT), _f("user_message", _STR),
    _f("response", _STR), _f("response_truncated", _BOOL), _f("response_model", _STR),
    _f("constraint_scores", _INTS), _f("scores_num", _INT), _f("overall_score", _FLOAT),
    _f("min_score", _INT), _f("all_constraints_10", _BOOL), _f("judge_model", _STR),
    _f("template_versions", _TEMPLATES),
])

TRACE_TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "instructions": INSTRUCTIONS_SCHEMA,
    "sft": SFT_SCHEMA,
    "iopo": IOPO_SCHEMA,
    "iopo_sharegpt": IOPO_SHAREGPT_SCHEMA,
    "iopo_dpo": IOPO_DPO_SCHEMA,
}
TRACE_EVAL_TABLE_SCHEMAS: dict[str, pa.Schema] = {"trace_eval": TRACE_EVAL_SCHEMA}
TABLE_MODELS: dict[str, type[BaseModel]] = {
    "instructions": InstructionRecord,
    "sft": SftRecord,
    "iopo": IopoRecord,
    "iopo_sharegpt": IopoShareGPTRecord,
    "iopo_dpo": IopoDpoRecord,
    "trace_eval": TraceEvalResult,
}
