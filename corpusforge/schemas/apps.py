"""APPS+: configs, the input record, reason codes and the published tables.

Reason codes are data because three places must agree on them: the verification that
emits them, the expectation suites that check them, and the card that counts them.

Accounting: every problem read becomes one row of `verification` (the primary table) or
a quarantine row (a malformed line, or a problem the sandbox itself could not run), so
read == verification + quarantined. `problems` (verified) and `rejects` (with reasons)
split `verification` exactly; `tests`, `executions` and `curriculum` hang off a
problem's row id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from corpusforge.schemas.base import StrictModel
from corpusforge.schemas.corpus import CorpusConfig
from corpusforge.schemas.engine_io import SamplingParams

SCHEMA_VERSION = 1
DIFFICULTIES = ("introductory", "interview", "competition")

# Why a problem is rejected. `test` / `solution` in a reason name the test or solution.
REJECT_REASONS: dict[str, str] = {
    "bad_input_output": "input_output is missing or not APPS JSON",
    "no_tests": "no usable test case",
    "no_solution": "no reference solution",
    "compile_error": "every solution fails to compile (or to define fn_name)",
    "runtime_error": "a solution raises on a test no verified solution passes",
    "timeout": "a solution exceeds the time limit on a test",
    "memory_limit": "a solution exceeds the memory limit on a test",
    "limit_exceeded": "a solution exceeds another sandbox limit (output, processes)",
    "wrong_output": "a solution's output differs from the expected output of a test",
    "nondeterministic_output": "a solution's output changes between two runs",
    "special_judge": "several answers are valid; exact-match tests cannot grade it",
}
# What happens to a test. Kept tests are published; the others carry a reason.
TEST_FATES = ("kept", "corrected", "dropped", "generated", "generated_dropped")
TEST_REASONS: dict[str, str] = {
    "verified": "every verified solution passes it",
    "unverified": "the problem has no verified solution",
    "majority_correction": "all trusted solutions agree on another output; corrected",
    "duplicate": "the same input and expected output as an earlier test",
    "no_expected_output": "an input without an expected output, or the reverse",
    "capped": "beyond verify.max_tests",
    "agreed": "a generated input on which all verified solutions agree",
    "invalid_input": "a generated input that is not valid for the problem's format",
    "duplicate_input": "a generated input equal to an existing one",
    "solution_error": "a verified solution fails to run on a generated input",
    "solutions_disagree": "verified solutions give different outputs on a generated input",
    "nondeterministic": "a verified solution's output changes between runs",
    "output_not_json": "the agreed return value cannot be stored as APPS JSON",
}
STATUSES = ("verified", "rejected")


# ---------------------------------------------------------------- configs
class SandboxConfig(StrictModel):
    """Per-test limits and isolation. Results depend on the limits, so they enter the
    fingerprint (hence `time_limit_s`, not a name the fingerprint ignores)."""

    time_limit_s: float = Field(default=4.0, gt=0, le=60)  # CPU time, as the reference's 4 s
    wall_factor: float = Field(default=3.0, ge=1)
    memory_mb: int = Field(default=1024, ge=64)
    output_mb: int = Field(default=32, ge=1)
    nproc: int = Field(default=32, ge=4)
    disk_mb: int = Field(default=64, ge=8)
    isolation: Literal["auto", "namespaces", "rlimits"] = "auto"
    allow_weak_isolation: bool = False


class VerifyConfig(StrictModel):
    runs: Literal[1, 2] = 2  # two runs (different hash and random seeds) detect drift
    # A solution is trusted (its outputs count as votes) when it passes at least this
    # share of the original tests and behaves the same in both runs.
    trust_fraction: float = Field(default=0.5, ge=0.0, le=1.0)
    repair_min_agree: int = Field(default=2, ge=1)  # trusted solutions needed to correct
    # "apps": the reference harness's comparison cascade; "exact": line-wise equality.
    comparison: Literal["apps", "exact"] = "apps"
    max_tests: int | None = Field(default=None, ge=1)


class AugmentConfig(StrictModel):
    enabled: bool = True
    proposals: int = Field(default=4, ge=1, le=16)
    max_solutions: int = Field(default=5, ge=1)  # verified solutions that vote
    max_input_chars: int = Field(default=2000, ge=1)
    question_chars: int = Field(default=1500, ge=200)  # prompt cost on small CPU models
    sampling: SamplingParams = SamplingParams(temperature=0.8, max_tokens=256)


class CurriculumConfig(StrictModel):
    stages: int = Field(default=4, ge=1, le=32)


class AppsConfig(CorpusConfig):
    """A relative `input_path` is resolved against `data_root` (default: the working
    directory). The input is APPS JSONL, a Parquet file, or a Hugging Face layout dir."""

    corpus: Literal["apps"] = "apps"
    input_path: str = "../shared/fixtures/apps/problems.jsonl"
    data_root: str = "."
    sandbox: SandboxConfig = SandboxConfig()
    verify: VerifyConfig = VerifyConfig()
    augment: AugmentConfig = AugmentConfig()
    curriculum: CurriculumConfig = CurriculumConfig()

    def resolved_input_path(self) -> Path:
        path = Path(self.input_path).expanduser()
        return path if path.is_absolute() else Path(self.data_root).expanduser() / path


# ---------------------------------------------------------------- input record
class AppsProblem(BaseModel):
    """One APPS record. `solutions` and `input_output` are JSON text in APPS (and in the
    Hugging Face release); already-decoded values are accepted too."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    problem_id: int
    question: str
    solutions: str | list[str] | None = None
    input_output: str | dict[str, Any] | None = None
    difficulty: str = ""
    url: str | None = None
    starter_code: str | None = None
    meta: dict[str, Any] | None = None
    split: str | None = None  # where the split is a column rather than meta.apps_split

    @model_validator(mode="after")
    def _question(self) -> AppsProblem:
        if not self.question.strip():
            raise ValueError("question is empty")
        return self


# ---------------------------------------------------------------- Arrow schemas
def _f(name: str, typ: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, typ, nullable=nullable)


_STR, _INT, _FLOAT, _BOOL = pa.string(), pa.int64(), pa.float64(), pa.bool_()
_STRS, _INTS = pa.list_(pa.string()), pa.list_(pa.int64())
REASON = pa.struct([_f("code", _STR), _f("test", _INT, True), _f("solution", _INT, True),
                    _f("detail", _STR)])
TEST = pa.struct([_f("index", _INT), _f("origin", _STR), _f("input", _STR),
                  _f("output", _STR), _f("corrected", _BOOL),
                  _f("original_output", _STR, True)])
_PROBLEM_ID = [_f("row_id", _STR), _f("problem_id", _INT), _f("split", _STR),
               _f("difficulty", _STR)]

VERIFICATION_SCHEMA = pa.schema([
    *_PROBLEM_ID, _f("status", _STR), _f("primary_reason", _STR, True),
    _f("reasons", pa.list_(REASON)), _f("reasons_num", _INT), _f("call_based", _BOOL),
    _f("solutions_total", _INT), _f("solutions_verified", _INT),
    _f("verified_solutions", _INTS), _f("solution_passed", _INTS),
    _f("tests_before", _INT), _f("tests_kept", _INT), _f("tests_corrected", _INT),
    _f("tests_dropped", _INT), _f("tests_generated", _INT), _f("tests_after", _INT),
    _f("tests_consistent", _BOOL), _f("special_judge", _BOOL),
    _f("special_judge_evidence", _STR), _f("nondeterministic", _BOOL),
    _f("proposals", _INT), _f("proposal_note", _STR), _f("max_cpu_s", _FLOAT),
    _f("max_peak_rss_kb", _INT), _f("curriculum_pairs", _INT), _f("step_failures", _STRS),
    _f("source", _STR),
])
PROBLEMS_SCHEMA = pa.schema([
    *_PROBLEM_ID, _f("question", _STR), _f("solutions", _STR), _f("input_output", _STR),
    _f("starter_code", _STR), _f("url", _STR, True), _f("fn_name", _STR, True),
    _f("tests", pa.list_(TEST)), _f("tests_before", _INT), _f("tests_after", _INT),
    _f("tests_corrected", _INT), _f("tests_generated", _INT),
    _f("solutions_verified", _INT), _f("special_judge", _BOOL), _f("nondeterministic", _BOOL),
])
REJECTS_SCHEMA = pa.schema([
    *_PROBLEM_ID, _f("primary_reason", _STR), _f("reason_codes", _STRS),
    _f("reasons", pa.list_(REASON)), _f("reasons_num", _INT), _f("solution_passed", _INTS),
    _f("tests_before", _INT), _f("special_judge", _BOOL), _f("question", _STR),
    _f("solutions", _STR), _f("input_output", _STR),
])
TESTS_SCHEMA = pa.schema([
    _f("row_id", _STR), _f("test_index", _INT), _f("origin", _STR), _f("fate", _STR),
    _f("reason", _STR), _f("input", _STR), _f("expected", _STR),
    _f("original_expected", _STR, True), _f("results", _INTS),
])
EXECUTIONS_SCHEMA = pa.schema([
    _f("row_id", _STR), _f("solution", _INT), _f("test_index", _INT), _f("origin", _STR),
    _f("run", _INT), _f("result", _INT), _f("status", _STR), _f("wall_s", _FLOAT),
    _f("cpu_s", _FLOAT), _f("peak_rss_kb", _INT), _f("error", _STR),
])
CURRICULUM_SCHEMA = pa.schema([
    _f("row_id", _STR), _f("solution", _INT), _f("stage", _INT), _f("stages", _INT),
    _f("cut_line", _INT), _f("cut_kind", _STR), _f("prefix", _STR), _f("completion", _STR),
    _f("prefix_lines", _INT), _f("completion_lines", _INT), _f("reassembles", _BOOL),
])

APPS_TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "verification": VERIFICATION_SCHEMA,
    "problems": PROBLEMS_SCHEMA,
    "rejects": REJECTS_SCHEMA,
    "tests": TESTS_SCHEMA,
    "executions": EXECUTIONS_SCHEMA,
    "curriculum": CURRICULUM_SCHEMA,
}
