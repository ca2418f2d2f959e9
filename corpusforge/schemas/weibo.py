"""Weibo target-guided conversations (DKRN, AAAI 2020): config and published tables.

The defaults are the paper's (count threshold 2000, drop the 100 most frequent, keep
conversations with at least 8 distinct keywords, 90/5/5 split, 19 negatives, 9 source
utterances, 8 turns). Two are corpus-size dependent and must be lowered for small inputs:
`min_count` (2000 fits the ~916K-conversation CWC; the 16.6K-conversation fixture needs
about 10) — a threshold nothing reaches stops the run with a message saying so.
Anything marked "extension" is beyond the paper, labelled in the outputs, and off by default.

Accounting: every conversation read is one row of `conversations` (the primary table:
kept, with its split) or one quarantine row (a malformed line, or a conversation the
keyword filter rejected, with the reason), so read == conversations + quarantined.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
from pydantic import Field

from corpusforge.schemas.base import StrictModel
from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.engine_io import EngineConfig, LlamaCppEngineConfig, SamplingParams

SCHEMA_VERSION = 1
InputFormat = Literal["jsonl", "stc", "lccc"]
Segmenter = Literal["jieba", "thulac"]
SPLITS = ("train", "valid", "test")
KEYWORD_POS = ("n", "v", "a")  # noun, verb, adjective (THULAC's tags; jieba's are mapped)
SPEAKERS = ("user", "agent")
CHOICES = ("graph", "all_keywords", "none")  # where the agent's keyword came from
LLM_ROLES = ("agent", "user")
LLM_STATUSES = ("ok", "missing_keyword", "failed")


class SegmentationConfig(StrictModel):
    """`chunk_size` and `memo` change speed only but are fingerprinted (the platform's
    exclusion table is by field name); the segment stage's key names the segmenter only,
    so they do not re-tag."""

    segmenter: Segmenter = "jieba"
    chunk_size: int = Field(default=2000, ge=1,
                            description="conversations per segment shard (and per chunk of "
                                        "the corpus stage's passes)")
    # Tagged utterances remembered per worker process (an LRU; 0 = off). Tagging is
    # deterministic, so this changes speed only: real Weibo data repeats ~7% of
    # utterances ("哈哈", "谢谢"); a resampled benchmark input repeats nearly all of them.
    memo: int = Field(default=0, ge=0)


class SynthesisConfig(StrictModel):
    """Target-guided self-play. The agent picks keywords and retrieves responses as in the
    paper; `llm_agent` / `llm_user` are extensions (see tasks/weibo/llm.py)."""

    conversations: int = Field(default=200, ge=0)
    max_turns: int = Field(default=8, ge=1, description="agent+user exchanges")
    embedding_dim: int = Field(default=64, ge=2)
    retrieval_candidates: int = Field(default=200, ge=1)
    llm_agent: bool = False
    llm_user: bool = False
    few_shot: int = Field(default=3, ge=0, le=8)
    history: int = Field(default=4, ge=1, le=9)
    sampling: SamplingParams = SamplingParams(temperature=0.7, max_tokens=48,
                                              stop=("\n",))


class WeiboConfig(CorpusConfig):
    """`input_path` is resolved against `data_root` when relative (deployments run from the
    repository). For `stc` it is the post file; `responses_path` defaults to its name with
    'post' replaced by 'response'. `strip_spaces` (default: on for stc and lccc, whose
    text is segmented) removes the spaces a segmenter put next to CJK characters."""

    corpus: Literal["weibo"] = "weibo"
    # Used only by the LLM extensions: the Gemma base profile writes Chinese few-shot.
    engine: EngineConfig = Field(
        default_factory=lambda: LlamaCppEngineConfig(model="gemma3-270m"))
    input_path: str
    data_root: str = "."
    input_format: InputFormat = "jsonl"
    responses_path: str | None = None
    strip_spaces: bool | None = None
    reference_keywords_path: str | None = None
    segmentation: SegmentationConfig = SegmentationConfig()
    min_count: int = Field(default=2000, ge=1)
    drop_top: int = Field(default=100, ge=0)
    min_chars: int = Field(default=2, ge=1)
    min_keywords: int = Field(default=8, ge=1)
    valid_fraction: float = Field(default=0.05, ge=0.0, le=0.5)
    test_fraction: float = Field(default=0.05, ge=0.0, le=0.5)
    negatives: int = Field(default=19, ge=0)
    max_source: int = Field(default=9, ge=1)
    pool_size: int = Field(default=100_000, ge=100, description="utterances kept per split "
                           "for negatives and retrieval (reservoir; all when fewer)")
    synthesis: SynthesisConfig = SynthesisConfig()

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else Path(self.data_root).expanduser() / p

    def resolved_input_path(self) -> Path:
        return self.resolve(self.input_path)

    def strips_spaces(self) -> bool:
        return self.input_format != "jsonl" if self.strip_spaces is None else self.strip_spaces


# ---------------------------------------------------------------- Arrow schemas
def _f(name: str, typ: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, typ, nullable=nullable)


_STR, _INT, _F64, _BOOL = pa.string(), pa.int64(), pa.float64(), pa.bool_()
_STRS = pa.list_(pa.string())
_STRSS = pa.list_(pa.list_(pa.string()))

CONVERSATIONS_SCHEMA = pa.schema([
    _f("row_id", _STR), _f("source", _STR), _f("platform", _STR, True), _f("split", _STR),
    _f("turns", _STRS), _f("turns_num", _INT),
    _f("segmented", _STRS),  # per utterance: "word_tag word_tag ..." (the segmenter's tags)
    _f("keywords", _STRSS), _f("keywords_num", _INT),  # per utterance, `word_pos`
    _f("distinct_keywords", _INT), _f("schema_version", _INT),
])
INSTANCES_SCHEMA = pa.schema([
    _f("instance_id", _STR), _f("row_id", _STR), _f("split", _STR), _f("turn", _INT),
    _f("source", _STRS), _f("source_num", _INT),
    _f("context", _STRS), _f("keywords", _STRS), _f("keywords_num", _INT),
    _f("candidates", _STRS), _f("candidates_num", _INT), _f("gold_index", _INT),
])
VOCABULARY_SCHEMA = pa.schema([
    _f("keyword", _STR), _f("word", _STR), _f("pos", _STR), _f("rank", _INT),
    _f("count", _INT), _f("kept_count", _INT), _f("in_reference", _BOOL, True),
])
GRAPH_SCHEMA = pa.schema([
    _f("split", _STR), _f("source", _STR), _f("target", _STR), _f("count", _INT),
])
TURN_TYPE = pa.struct([
    _f("index", _INT), _f("speaker", _STR), _f("text", _STR),
    _f("keyword", _STR, True),  # the agent's chosen keyword; null on user turns
    _f("keywords", _STRS), _f("similarity", _F64, True),  # best keyword cosine to target
    _f("keyword_similarity", _F64, True),  # the chosen keyword's cosine to the target
    _f("choice", _STR, True), _f("retrieved_from", _STR, True),
])
SYNTHESIZED_SCHEMA = pa.schema([
    _f("synth_id", _STR), _f("target", _STR), _f("start", _STR),
    _f("turns", pa.list_(TURN_TYPE)), _f("utterances_num", _INT),
    _f("success", _BOOL), _f("turns_used", _INT), _f("smoothness_proxy", _F64, True),
    _f("agent", _STR),
])
LLM_TURNS_SCHEMA = pa.schema([
    _f("llm_id", _STR), _f("synth_id", _STR), _f("turn", _INT), _f("role", _STR),
    _f("keyword", _STR, True), _f("history", _STRS), _f("text", _STR, True),
    _f("status", _STR), _f("contains_keyword", _BOOL, True), _f("model", _STR, True),
    _f("error", _STR, True),
])
WEIBO_TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "conversations": CONVERSATIONS_SCHEMA,
    "instances": INSTANCES_SCHEMA,
    "vocabulary": VOCABULARY_SCHEMA,
    "graph": GRAPH_SCHEMA,
    "synthesized": SYNTHESIZED_SCHEMA,
    "llm_turns": LLM_TURNS_SCHEMA,
}
