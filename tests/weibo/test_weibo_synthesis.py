"""Self-play rules re-checked on the published conversations of the slice run."""

from __future__ import annotations

from corpusforge.tasks.weibo.synthesis import BASELINE, GUIDED
from corpusforge.testkit import RecipeRun


def _graph(run: RecipeRun) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for e in run.tables["graph"].to_pylist():
        if e["split"] == "train":
            out.setdefault(e["source"], set()).add(e["target"])
    return out


def test_agent_keywords_get_strictly_closer_and_follow_the_graph(slice_run: RecipeRun) -> None:
    graph = _graph(slice_run)
    vocab = set(slice_run.tables["vocabulary"].column("keyword").to_pylist())
    played = [s for s in slice_run.tables["synthesized"].to_pylist() if s["agent"] == GUIDED]
    assert played
    choices = set()
    for s in played:
        turns = s["turns"]
        assert turns[0]["speaker"] == "user" and s["target"] in vocab
        assert s["target"] not in turns[0]["keywords"]
        for i, t in enumerate(turns[1:], start=1):
            assert t["speaker"] == ("agent" if i % 2 else "user")
            if t["speaker"] != "agent" or t["keyword"] is None:
                continue
            choices.add(t["choice"])
            best = max([u["similarity"] for u in turns[:i] if u["similarity"] is not None],
                       default=-1.0)
            assert t["keyword_similarity"] > best  # strictly closer than reached so far
            assert t["keyword"] in t["keywords"]  # the retrieved utterance contains it
            if t["choice"] == "graph":
                context = {k for u in turns[max(0, i - 2):i] for k in u["keywords"]}
                assert any(t["keyword"] in graph.get(c, ()) for c in context)
    assert "graph" in choices


def test_success_turns_and_limit(slice_run: RecipeRun) -> None:
    limit = slice_run.config.synthesis.max_turns
    for s in slice_run.tables["synthesized"].to_pylist():
        last_two = s["turns"][-2:]
        assert s["success"] == any(s["target"] in t["keywords"] for t in last_two)
        assert 1 <= s["turns_used"] <= limit
        if not s["success"]:
            assert s["turns_used"] == limit
        assert s["utterances_num"] == len(s["turns"]) == 1 + 2 * s["turns_used"]
        assert s["smoothness_proxy"] is None or -1.0001 <= s["smoothness_proxy"] <= 1.0001
        texts = [t["text"] for t in s["turns"][1:]]
        assert len(set(texts)) == len(texts)  # no retrieved utterance used twice


def test_guidance_beats_the_target_blind_baseline(slice_run: RecipeRun) -> None:
    rows = slice_run.tables["synthesized"].to_pylist()
    guided = [s for s in rows if s["agent"] == GUIDED]
    baseline = [s for s in rows if s["agent"] == BASELINE]
    assert len(guided) == len(baseline) == 40
    assert [(g["target"], g["start"]) for g in guided] == [
        (b["target"], b["start"]) for b in baseline]
    rate = sum(s["success"] for s in guided) / len(guided)
    assert rate >= 0.5 and rate > 2 * sum(s["success"] for s in baseline) / len(baseline)
