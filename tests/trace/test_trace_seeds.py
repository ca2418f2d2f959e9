"""The shipped seed set and user seed files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from trace_support import EVAL_FILE, eval_rows

from corpusforge.tasks.inputs import InputError
from corpusforge.tasks.trace.seeds import load_seeds
from tests.conftest import fixture_path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "corpusforge" / "tasks" / "trace" / "data" / "seeds.jsonl"


def test_shipped_seeds_are_real_and_traceable() -> None:
    batch = load_seeds()
    assert 30 <= len(batch.rows) <= 50 and batch.quarantined == []
    assert len({r["row_id"] for r in batch.rows}) == len(batch.rows)
    with_input = sum(r["input"] is not None for r in batch.rows)
    assert 0 < with_input < len(batch.rows)
    by_id = {r["id"]: r for r in eval_rows()}
    for seed in batch.rows:
        source = by_id[seed["seed_source"].split("#id=")[1]]
        assert seed["description"] == source["description"].strip()
        assert seed["input"] == (None if source["input"] == "NULL" else source["input"])


def test_derive_script_reproduces_the_shipped_file(tmp_path: Path, monkeypatch) -> None:
    source = fixture_path(EVAL_FILE)
    spec = importlib.util.spec_from_file_location("derive", REPO / "scripts/derive_trace_seeds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "seeds.jsonl"
    monkeypatch.setattr(sys, "argv", ["derive", "--source", str(source), "--out", str(out)])
    module.main()
    assert out.read_bytes() == SHIPPED.read_bytes()


def test_user_seed_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text('{"id": 7, "description": "Write a haiku", "extra": true}\n'
                    '{"description": "Sort these", "input": "3 1 2"}\n', encoding="utf-8")
    rows = load_seeds(path).rows
    assert [(r["row_id"], r["seed_id"], r["input"]) for r in rows] == [
        ("7", "7", None), ("mine:2", "mine:2", "3 1 2")]


def test_bad_seed_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"description": "ok"}\n{"description": "  "}\n{"input": "x"}\n',
                    encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:2: field 'description'.*blank"):
        load_seeds(path)
    batch = load_seeds(path, on_bad_rows="quarantine")
    assert batch.read == 3 and len(batch.rows) == 1
    assert [q.source.rsplit(":", 1)[1] for q in batch.quarantined] == ["2", "3"]


def test_limit_applies_to_seeds() -> None:
    assert load_seeds(limit=5).read == 5
