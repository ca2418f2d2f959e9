"""read = published + quarantined holds for the inputs, whatever else gets quarantined,
and through a fan-out: an input is published when a published row descends from it."""

from __future__ import annotations

import pyarrow as pa
import pytest

from corpusforge.schemas.quarantine import QuarantineRecord, quarantine_table
from corpusforge.storage.rows import LINEAGE_SCHEMA
from corpusforge.tasks.collect import count_inputs

NO_LINEAGE = LINEAGE_SCHEMA.empty_table()


def q(row_id: str, step: str, kind: str, inputs: list[str] | None = None) -> QuarantineRecord:
    return QuarantineRecord(row_id=row_id, step=step, error_kind=kind, message="m",
                            input_ids=inputs or [])


def table(ids: list[str]) -> pa.Table:
    return pa.table({"row_id": pa.array(ids, pa.string())})


def test_only_input_rows_account_for_the_read_count() -> None:
    quarantine = quarantine_table([
        q("f:3", "read_inputs", "bad_input"),          # a bad line: counts
        q("r2", "trace.qc", "rejected", ["r2"]),       # an input row: counts
        q("pair-9", "ada.paraphrase", "parse"),        # a row the recipe added: step only
        q("r1", "validate:sft", "validation"),         # derived from a published input
        q("r4", "validate:instructions", "validation"),  # the primary row: counts
    ])
    counts = count_inputs(5, {"r1", "r2", "r3", "r4"},
                          {"instructions": table(["r1", "r3"]), "sft": table([])}, quarantine,
                          NO_LINEAGE, "instructions")
    assert (counts.read, counts.published, counts.quarantined) == (5, 2, 3)
    assert counts.quarantined_by_kind == {"bad_input": 1, "rejected": 1, "validation": 1}
    assert counts.quarantined_by_step["ada.paraphrase"] == 1
    assert counts.tables == {"instructions": 2, "sft": 0, "quarantine": 5}


def test_a_fanned_out_input_is_published_once_and_a_filtered_one_is_accounted() -> None:
    # r1 fanned out into three rows (one of them quarantined), r2 was filtered, r3 fanned
    # out into two rows that both failed
    lineage = pa.Table.from_pylist(
        [{"row_id": f"r1~{i}", "stage": "s", "parents": ["r1"], "inputs": ["r1"]}
         for i in range(3)], schema=LINEAGE_SCHEMA)
    quarantine = quarantine_table([
        q("r1~2", "s.check", "rejected", ["r1"]), q("r2", "s.keep", "filtered", ["r2"]),
        q("r3~0", "s.check", "error", ["r3"]), q("r3~1", "s.check", "error", ["r3"])])
    counts = count_inputs(3, {"r1", "r2", "r3"}, {"rows": table(["r1~0", "r1~1"])},
                          quarantine, lineage, "rows")
    assert (counts.published, counts.quarantined) == (1, 2)
    assert counts.quarantined_by_kind == {"filtered": 1, "error": 1}
    assert counts.tables["rows"] == 2


def test_a_lost_row_is_an_error_not_a_silent_drop() -> None:
    with pytest.raises(RuntimeError, match="do not reconcile"):
        count_inputs(3, {"r1", "r2", "r3"}, {"instructions": table(["r1"])},
                     quarantine_table([q("r2", "s", "error", ["r2"])]), NO_LINEAGE,
                     "instructions")
