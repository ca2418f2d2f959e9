"""The expectation suites run on real output: everything passes, and they catch breakage."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from corpusforge.schemas.expectations.ada import ADA_EXPECTATIONS
from corpusforge.tasks.validate import ValidationGateError, validate_tables
from tests.ada.support import fixture, run_local


def _validate(tables: dict[str, pa.Table], read: int) -> object:
    return validate_tables(tables, ADA_EXPECTATIONS, read_count=read, max_reject_fraction=0.0,
                           already_quarantined=0, derivation_key="k",
                           primary_table="sentences")


def test_real_output_passes_and_a_broken_row_is_quarantined() -> None:
    run = run_local(fixture("rest15"), limit=120)
    report = _validate(run.tables, run.read)
    assert report.summary["success"] and not report.quarantined
    # one augmented row whose pattern lost a pair: quarantined by validation, not published
    aug = run.tables["augmented"]
    broken = aug.set_column(aug.schema.get_field_index("pattern_len"), "pattern_len",
                            pc.add(aug.column("pattern_len"),
                                   pa.array([1] + [0] * (aug.num_rows - 1))))
    report = validate_tables({**run.tables, "augmented": broken}, ADA_EXPECTATIONS,
                             read_count=run.read, max_reject_fraction=1.0,
                             already_quarantined=0, derivation_key="k",
                             primary_table="sentences")
    assert report.tables["augmented"].num_rows == aug.num_rows - 1
    assert report.quarantined[0].step == "validate:augmented"


def test_duplicate_sentence_ids_stop_the_publish() -> None:
    run = run_local(fixture("rest15"), limit=30)
    doubled = pa.concat_tables([run.tables["sentences"]] * 2)
    with pytest.raises(ValidationGateError, match="row_id"):
        _validate({**run.tables, "sentences": doubled}, 2 * run.read)
