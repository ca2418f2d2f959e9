"""The recipe end to end in-process on real multi-turn conversations: accounting, the
spec's corpus rules re-checked from the published tables, and reruns that reproduce."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from corpusforge.schemas.weibo import SPLITS, WEIBO_TABLE_SCHEMAS
from corpusforge.testkit import RecipeRun
from tests.weibo.conftest import SLICE, slice_config
from tests.weibo.support import run_local


def test_tables_and_accounting(slice_run: RecipeRun) -> None:
    t = slice_run.published
    assert {n: t[n].schema for n in WEIBO_TABLE_SCHEMAS} == WEIBO_TABLE_SCHEMAS
    q = t["quarantine"].to_pylist()
    # read = kept + filtered, each filtered conversation with its reason
    assert slice_run.read == SLICE == t["conversations"].num_rows + len(q)
    assert q and all(r["step"] == "weibo.filter" and r["error_kind"] == "rejected" for r in q)
    assert all(r["message"].startswith("too_few_keywords: ") and "min_keywords=8" in
               r["message"] for r in q)
    kept = set(t["conversations"].column("row_id").to_pylist())
    assert kept.isdisjoint(r["row_id"] for r in q)


def test_kept_conversations_meet_the_filter(slice_run: RecipeRun) -> None:
    vocab = set(slice_run.tables["vocabulary"].column("keyword").to_pylist())
    for c in slice_run.tables["conversations"].to_pylist():
        distinct = {k for utt in c["keywords"] for k in utt}
        assert len(distinct) == c["distinct_keywords"] >= 8 and distinct <= vocab
        assert c["split"] in SPLITS and len(c["segmented"]) == len(c["turns"])
        for text, segmented in zip(c["turns"], c["segmented"], strict=True):
            words = "".join(tok.rpartition("_")[0] for tok in segmented.split(" ") if tok)
            assert words == "".join(text.split())  # tokens cover the text exactly


def test_vocabulary_counts_are_the_corpus_counts(slice_run: RecipeRun) -> None:
    rows = slice_run.streams["segment"]  # every conversation read, kept or filtered
    counted: Counter[str] = Counter()
    for r in rows:
        for utt in r["segmented"]:
            for tok in utt.split(" "):
                word, _, tag = tok.rpartition("_")
                pos = {"n": "n", "vn": "v", "v": "v", "a": "a", "an": "a"}.get(tag)
                if pos and len(word) >= 2:
                    counted[f"{word}_{pos}"] += 1
    vocab = slice_run.tables["vocabulary"].to_pylist()
    eligible = sorted((c for c in counted.values() if c >= 3), reverse=True)
    assert [v["count"] for v in vocab] == eligible[20:]  # the 20 most frequent dropped
    assert all(v["count"] == counted[v["keyword"]] for v in vocab)
    kept = Counter(k for c in slice_run.tables["conversations"].to_pylist()
                   for utt in c["keywords"] for k in utt)
    assert all(v["kept_count"] == kept[v["keyword"]] for v in vocab)


def test_instances_negatives_come_from_the_same_split(slice_run: RecipeRun) -> None:
    conv = {c["row_id"]: c for c in slice_run.tables["conversations"].to_pylist()}
    by_split: dict[str, set[str]] = {}
    for c in conv.values():
        by_split.setdefault(c["split"], set()).update(t for t in c["turns"] if t)
    instances = slice_run.tables["instances"].to_pylist()
    assert instances
    for inst in instances:
        c = conv[inst["row_id"]]
        i = inst["turn"]
        assert inst["split"] == c["split"] and inst["candidates"][0] == c["turns"][i]
        assert inst["source"] == c["turns"][max(0, i - 9):i]
        assert inst["keywords"] == c["keywords"][i]
        assert set(inst["context"]) == set(c["keywords"][i - 2] + c["keywords"][i - 1])
        negatives = inst["candidates"][1:]
        assert len(set(negatives)) == len(negatives) and c["turns"][i] not in negatives
        assert set(negatives) <= by_split[c["split"]]
    expected = sum(1 for c in conv.values() for i in range(2, len(c["turns"]))
                   if c["keywords"][i])
    assert len(instances) == expected


def test_graph_is_the_instances_edges(slice_run: RecipeRun) -> None:
    edges: Counter[tuple[str, str, str]] = Counter()
    for inst in slice_run.tables["instances"].to_pylist():
        for a in inst["context"]:
            for b in inst["keywords"]:
                edges[(inst["split"], a, b)] += 1
    graph = {(g["split"], g["source"], g["target"]): g["count"]
             for g in slice_run.tables["graph"].to_pylist()}
    assert graph == dict(edges)


def test_report_and_card(slice_run: RecipeRun) -> None:
    report = slice_run.recipe.report(slice_run.published, slice_run.config)
    ov = report["reference_overlap"]
    vocab = slice_run.tables["vocabulary"].to_pylist()
    assert ov["shared"] == sum(v["in_reference"] for v in vocab) > 0
    assert ov["reference"] == 1753
    assert report["conversations"]["kept"] == slice_run.tables["conversations"].num_rows
    assert report["segmenter"]["name"] == "jieba"
    card = slice_run.recipe.card_section({}, slice_run.config, slice_run.published)
    assert "Tagger used: jieba" in card and "smoothness proxy" in card
    assert f"{ov['shared']:,} of our {ov['ours']:,}" in card


def test_rerun_is_identical(slice_run: RecipeRun, slice_dir: Path) -> None:
    """A rerun with another keyword threshold reuses the committed tagging (its shards are
    not rewritten) and reproduces the tagged rows; the same command reproduces it all."""
    work = slice_dir / "work"
    tagged = {p: p.stat().st_mtime_ns for p in work.glob("segment-*/shards/*")}
    assert tagged
    other = run_local(slice_config(slice_dir, min_count=4), work)
    assert {p: p.stat().st_mtime_ns for p in work.glob("segment-*/shards/*")} == tagged
    assert other.streams["segment"] == slice_run.streams["segment"]
    again = run_local(slice_config(slice_dir), work)
    assert again.recipe.stage is not None and again.recipe.tagging is not None
    assert again.streams == slice_run.streams
    assert all(again.tables[n].equals(t) for n, t in slice_run.tables.items())
