"""Reading APPS problems from JSONL, Parquet and a Hugging Face layout, keyed by split."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apps_support import PROBLEMS, TESTS_ONLY, fixture_rows

from corpusforge.schemas.apps import AppsConfig
from corpusforge.tasks.apps.inputs import read_problems
from corpusforge.tasks.inputs import InputError


def read(path: Path, **kw: object):
    return read_problems(AppsConfig(input_path=str(path), **kw))  # type: ignore[arg-type]


def test_fixture_keys_are_split_and_id() -> None:
    batch = read(PROBLEMS)
    assert batch.read == 110 == len(batch.rows) and not batch.quarantined
    ids = [r["row_id"] for r in batch.rows]
    assert len(set(ids)) == 110
    assert "train/3068" in ids and any(i.startswith("test/") for i in ids)
    assert batch.rows[0]["source"] == f"{PROBLEMS}:1"


def test_colliding_ids_without_a_split_are_told_apart_by_question() -> None:
    batch = read(TESTS_ONLY)
    assert batch.read == 258 == len(batch.rows)
    collided = [r["row_id"] for r in batch.rows if "~" in r["row_id"]]
    assert len(collided) == 2 and all(r.startswith("unknown/") for r in collided)


def test_exact_repeats_and_bad_lines_are_quarantined(tmp_path: Path) -> None:
    rows = fixture_rows()[:2]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join([json.dumps(rows[0]), "{not json", json.dumps(rows[1]),
                               json.dumps(rows[0])]) + "\n")
    with pytest.raises(InputError, match=r"p.jsonl:2"):
        read(path)
    batch = read(path, on_bad_rows="quarantine")
    assert batch.read == 4 and len(batch.rows) == 2
    assert sorted(q.error_kind for q in batch.quarantined) == ["bad_input", "bad_input"]
    assert any("appears twice" in q.message for q in batch.quarantined)


def test_limit_counts_records_read(tmp_path: Path) -> None:
    assert read(PROBLEMS, limit=5).read == 5


def test_parquet_and_hugging_face_layout(tmp_path: Path) -> None:
    rows = fixture_rows()[:6]
    for r in rows:
        r.pop("meta")  # the HF release has no meta: the split comes from the file name
    layout = tmp_path / "apps"
    (layout / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows[:3]), layout / "data" / "train-00000-of-00001.parquet")
    (layout / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[3:]))
    batch = read(layout)
    assert batch.read == 6
    splits = sorted({r["row_id"].split("/")[0] for r in batch.rows})
    assert splits == ["test", "train"]
    one = read(layout / "data" / "train-00000-of-00001.parquet", limit=2)
    assert [r["row_id"] for r in one.rows] == [f"train/{r['problem_id']}" for r in rows[:2]]
