"""Reading the three layouts: row ids, normalisation, limits, and bad lines reported with
file and line (or quarantined, keeping read == rows + bad lines)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpusforge.schemas.weibo import WeiboConfig
from corpusforge.tasks.inputs import InputError
from corpusforge.tasks.weibo.ingest import read_conversations
from tests.conftest import fixture_path
from tests.weibo.support import LCCC, STC_POST, STC_RESPONSE, ZH, zh_records


def _config(path: Path, **kw: object) -> WeiboConfig:
    return WeiboConfig.model_validate({"input_path": str(path), **kw})


def test_fixture_jsonl_rows_and_limit() -> None:
    batch = read_conversations(_config(fixture_path(ZH), limit=50))
    assert batch.read == len(batch.rows) == 50 and not batch.quarantined
    first = zh_records()[0]
    assert batch.rows[0] == {"row_id": first["id"], "source": first["source"],
                             "platform": first["platform"], "turns": first["turns"]}


def test_whole_fixture_reads_with_empty_turns_kept() -> None:
    batch = read_conversations(_config(fixture_path(ZH)))
    assert batch.read == len(batch.rows) == 16_643
    # STC-3 helpdesk turns that were images are empty: kept, the conversation is not bad
    assert sum(any(not t for t in r["turns"]) for r in batch.rows) == 42


def _bad_file(tmp_path: Path) -> Path:
    good = {"id": "a", "turns": ["你好", "你好呀"]}
    lines = [json.dumps(good, ensure_ascii=False).encode(),
             b'{"id": "b", "turns": ["only one"]}',
             b'{"id": "c", "turns": ["\xe4\xbd", "x"]}',
             b'{"id": "d", "turns": ["a", "b"',
             b"",
             json.dumps(good).encode(),
             b'{"turns": ["no id", "uses the line"]}']
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_bad_lines_fail_with_file_and_line(tmp_path: Path) -> None:
    path = _bad_file(tmp_path)
    with pytest.raises(InputError) as e:
        read_conversations(_config(path))
    assert str(e.value) == (f"{path}:2: a conversation needs two non-empty utterances, "
                            "found 1 of 1")


def test_bad_lines_quarantined_with_reasons(tmp_path: Path) -> None:
    path = _bad_file(tmp_path)
    batch = read_conversations(_config(path, on_bad_rows="quarantine"))
    assert [r["row_id"] for r in batch.rows] == ["a", "bad:7"]
    by_source = {q.source: q.message for q in batch.quarantined}
    assert set(by_source) == {f"{path}:{n}" for n in (2, 3, 4, 6)}
    assert by_source[f"{path}:3"].startswith("not UTF-8: byte 0xe4")
    assert by_source[f"{path}:4"].startswith("truncated JSON")
    assert by_source[f"{path}:6"] == "duplicate id 'a' (first on line 1)"
    assert batch.read == len(batch.rows) + len(batch.quarantined) == 6  # blank line skipped
    limited = read_conversations(_config(path, on_bad_rows="quarantine", limit=3))
    assert limited.read == 3 and len(limited.rows) == 1 and len(limited.quarantined) == 2


def test_stc_line_aligned_files() -> None:
    batch = read_conversations(_config(fixture_path(STC_POST), input_format="stc"))
    expected = [r["turns"] for r in zh_records() if r["source"] == "stc_weibo_sample"]
    assert batch.read == 1000 and batch.rows[0]["row_id"] == "stc_weibo_train_post:1"
    assert sum(r["turns"] == e for r, e in zip(batch.rows, expected, strict=True)) == 999
    assert fixture_path(STC_RESPONSE).is_file()  # found by name: post -> response


def test_stc_misaligned_files_fail(tmp_path: Path) -> None:
    posts, responses = tmp_path / "x_post", tmp_path / "x_response"
    posts.write_text("一 二\n三 四\n", encoding="utf-8")
    responses.write_text("五 六\n", encoding="utf-8")
    with pytest.raises(InputError, match="2 posts but 1 responses"):
        read_conversations(_config(posts, input_format="stc"))


def test_lccc_pairs_and_a_line_without_tab(tmp_path: Path) -> None:
    batch = read_conversations(_config(fixture_path(LCCC), input_format="lccc", limit=2))
    assert batch.rows[1]["turns"] == ["我也要去健身懒半年了", "我一直懒现在终于动起来了"]
    bad = tmp_path / "pairs.txt"
    bad.write_text("你 好\t你 好 呀\n没 有 制 表 符\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"{bad}:2: expected tab-separated utterances"):
        read_conversations(_config(bad, input_format="lccc"))
    kept = read_conversations(_config(bad, input_format="lccc", strip_spaces=False,
                                      on_bad_rows="quarantine"))
    assert kept.rows[0]["turns"] == ["你 好", "你 好 呀"] and kept.read == 2
