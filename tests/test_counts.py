"""read = published + quarantined holds for the inputs, whatever else gets quarantined."""

from __future__ import annotations

import pyarrow as pa
import pytest

from corpusforge.flows.pipeline import _counts
from corpusforge.schemas.quarantine import QuarantineRecord
from corpusforge.tasks.plan import RunPlan
from corpusforge.tasks.recipe import InputBatch
from corpusforge.tasks.shard import quarantine_table


def plan(read: int, ids: list[str]) -> RunPlan:
    return RunPlan(batch=InputBatch(rows=[], read=read), derivation_key="k", work_key="w",
                   shards=[], roles={}, identity={}, input_ids=frozenset(ids))


def q(row_id: str, step: str, kind: str) -> QuarantineRecord:
    return QuarantineRecord(row_id=row_id, step=step, error_kind=kind, message="m")


def table(ids: list[str]) -> pa.Table:
    return pa.table({"row_id": pa.array(ids, pa.string())})


def test_only_input_rows_account_for_the_read_count() -> None:
    quarantine = quarantine_table([
        q("f:3", "read_inputs", "bad_input"),          # a bad line: counts
        q("r2", "trace.qc", "rejected"),               # an input row: counts
        q("pair-9", "ada.paraphrase", "parse"),        # a row the recipe added: step only
        q("r1", "validate:sft", "validation"),         # a derived row: step only
        q("r4", "validate:instructions", "validation"),  # the primary row: counts
    ])
    counts = _counts(plan(5, ["r1", "r2", "r3", "r4"]),
                     {"instructions": table(["r1", "r3"]), "sft": table([])}, quarantine,
                     "instructions")
    assert (counts.read, counts.published, counts.quarantined) == (5, 2, 3)
    assert counts.quarantined_by_kind == {"bad_input": 1, "rejected": 1, "validation": 1}
    assert counts.quarantined_by_step["ada.paraphrase"] == 1
    assert counts.tables == {"instructions": 2, "sft": 0, "quarantine": 5}


def test_a_lost_row_is_an_error_not_a_silent_drop() -> None:
    with pytest.raises(RuntimeError, match="do not reconcile"):
        _counts(plan(3, ["r1", "r2", "r3"]), {"instructions": table(["r1"])},
                quarantine_table([q("r2", "s", "error")]), "instructions")
