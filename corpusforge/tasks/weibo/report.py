"""The run report (report.json, and the numbers of the card), computed from the published
tables, so it describes exactly what was published after validation. Run-time facts the
tables cannot hold (timings, tagging throughput, pool sampling) come from the corpus
stage's StageReport."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa

from corpusforge.schemas.weibo import SPLITS, WeiboConfig
from corpusforge.tasks.inputs import READ_STEP
from corpusforge.tasks.weibo.build import StageReport
from corpusforge.tasks.weibo.filter import FilterConversations
from corpusforge.tasks.weibo.keywords import overlap, read_reference
from corpusforge.tasks.weibo.segment import SEGMENTER_VERSIONS
from corpusforge.tasks.weibo.synthesis import BASELINE, GUIDED, summarise


def _filtered(quarantine: pa.Table | None) -> tuple[dict[str, int], int]:
    if quarantine is None:
        return {}, 0
    reasons: Counter[str] = Counter()
    bad = 0
    for step, message in zip(quarantine.column("step").to_pylist(),
                             quarantine.column("message").to_pylist(), strict=True):
        if step == FilterConversations.name:
            reasons[message.split(":", 1)[0]] += 1
        bad += step == READ_STEP
    return dict(reasons), bad


def _tagging(stats: dict[str, Any], tagging: dict[str, Any] | None) -> dict[str, Any]:
    if tagging is None:  # the benchmark: the corpus stage tagged in its own tasks
        return {"tagged_per_s_per_process": stats.get("tagged_per_s_per_process"),
                "processes": stats.get("segment_processes"), "shards": stats.get("chunks")}
    seconds = tagging["elapsed_s"]
    return {"tagged_per_s_per_process": stats.get("utterances", 0) / seconds
            if seconds else None, "processes": tagging["processes"],
            "shards": tagging["shards"]}


def build_report(tables: dict[str, pa.Table], config: WeiboConfig,
                 stage: StageReport | None,
                 tagging: dict[str, Any] | None = None) -> dict[str, Any]:
    """`stage`: the corpus stage's facts; `tagging`: the segment stage's (shards, seconds,
    processes), None when unknown."""
    conv = tables["conversations"].select(["split", "keywords"]).to_pylist()
    per_utt = [len(u) for c in conv for u in c["keywords"]]
    filtered, bad_lines = _filtered(tables.get("quarantine"))
    inst = tables["instances"].select(["split", "candidates_num"]).to_pylist()
    graph = Counter(tables["graph"].column("split").to_pylist())
    synth = tables["synthesized"].to_pylist()
    vocab = tables["vocabulary"].column("keyword").to_pylist()
    stats = stage.stats if stage else {}
    report: dict[str, Any] = {
        "segmenter": {"name": config.segmentation.segmenter,
                      "version": SEGMENTER_VERSIONS[config.segmentation.segmenter],
                      **_tagging(stats, tagging)},
        "conversations": {"kept": len(conv), "filtered": filtered,
                          "bad_lines": bad_lines,
                          "by_split": {s: sum(c["split"] == s for c in conv) for s in SPLITS}},
        "keywords": {"candidates": len(vocab), "eligible": stats.get("eligible"),
                     "dropped_top": stats.get("dropped_top"),
                     "per_utterance": sum(per_utt) / len(per_utt) if per_utt else None,
                     "min_count": config.min_count, "min_keywords": config.min_keywords},
        "instances": {"by_split": {s: sum(i["split"] == s for i in inst) for s in SPLITS},
                      "short_of_negatives": sum(i["candidates_num"] < 1 + config.negatives
                                                for i in inst)},
        "graph_edges": {s: graph.get(s, 0) for s in SPLITS},
        "reference_overlap": None,
        "synthesis": {
            "max_turns": config.synthesis.max_turns,
            GUIDED: summarise([s for s in synth if s["agent"] == GUIDED]),
            BASELINE: summarise([s for s in synth if s["agent"] == BASELINE]),
            "choices": dict(Counter(t["choice"] for s in synth if s["agent"] == GUIDED
                                    for t in s["turns"] if t["speaker"] == "agent")),
            "corpus_smoothness_proxy": stats.get("corpus_smoothness_proxy"),
            "keywords_with_vector": stats.get("keywords_with_vector")},
        "llm_extension": _llm(tables.get("llm_turns"), config),
        "pools": stats.get("pools"),
        "timings_s": {k: round(v, 3) for k, v in (stage.timings_s if stage else {}).items()},
    }
    if config.reference_keywords_path:
        ref = read_reference(config.resolve(config.reference_keywords_path))
        report["reference_overlap"] = overlap(vocab, ref).to_json()
    return report


def _llm(table: pa.Table | None, config: WeiboConfig) -> dict[str, Any]:
    s = config.synthesis
    out: dict[str, Any] = {"llm_agent": s.llm_agent, "llm_user": s.llm_user}
    if table is None or not table.num_rows:
        return out
    rows = table.select(["role", "status"]).to_pylist()
    for role in ("agent", "user"):
        statuses = Counter(r["status"] for r in rows if r["role"] == role)
        if statuses:
            out[role] = dict(statuses)
    return out
