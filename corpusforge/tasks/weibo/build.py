"""From the corpus stage's parts and totals to the rows the platform publishes.

`build_all` is the recipe's whole-dataset stage (Recipe.prepare): run the streaming
corpus stage on the conversations read, train the keyword embeddings, play the
self-play conversations, and turn everything into rows with a `kind`, which `project`
routes to the published tables. Conversation rows keep their input `row_id` (they are the
primary table's rows); derived rows get ids of their own ("inst:", "vocab:", "edge:",
"synth:", "llm:"), which no input line can have. A filtered conversation keeps its row
with its `filter_reason`, so the filter step quarantines it with the reason and
read == published + quarantined holds.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from corpusforge.schemas.weibo import WeiboConfig
from corpusforge.tasks.steps import Row
from corpusforge.tasks.weibo.corpus import CorpusResult, build_corpus
from corpusforge.tasks.weibo.embeddings import KeywordEmbeddings, train_embeddings
from corpusforge.tasks.weibo.executor import Executor
from corpusforge.tasks.weibo.graph import adjacency, edge_records
from corpusforge.tasks.weibo.keywords import overlap, read_reference
from corpusforge.tasks.weibo.llm_rows import llm_turn_rows
from corpusforge.tasks.weibo.retrieval import RetrievalIndex
from corpusforge.tasks.weibo.synthesis import World, play, sample_tasks, smoothness

CONVERSATION, INSTANCE, VOCAB, EDGE, SYNTH, LLM_TURN = (
    "conversation", "instance", "vocab", "edge", "synth", "llm_turn")


@dataclass
class StageReport:
    """Run-time facts about the corpus stage (timings, throughput, pools). Not part of any
    row: rows must be identical on a rerun, timings are not."""

    stats: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)


def vocabulary_records(res: CorpusResult, reference: set[str] | None) -> list[dict[str, Any]]:
    c = res.candidates
    return [{"keyword": k, "word": k.rpartition("_")[0], "pos": k.rpartition("_")[2],
             "rank": i + 1, "count": n, "kept_count": res.kept_counts.get(k, 0),
             "in_reference": None if reference is None else k in reference}
            for i, (k, n) in enumerate(zip(c.keywords, c.counts, strict=True))]


def make_world(res: CorpusResult, config: WeiboConfig) -> World:
    keywords = res.candidates.keywords
    emb = train_embeddings(keywords, res.cooc, config.synthesis.embedding_dim)
    index = RetrievalIndex(res.pools.utterances["train"].items, emb,
                           config.synthesis.retrieval_candidates, config.seed)
    prior = np.array([res.kept_counts.get(k, 0) for k in keywords], dtype=np.float64)
    return World(emb, index, adjacency(res.edges.get("train", Counter()), len(keywords)), prior)


def synthesize(res: CorpusResult, config: WeiboConfig, world: World) -> list[dict[str, Any]]:
    """Guided conversations, then the target-blind baseline on the same (target, start)."""
    # the paper plays from test-split starts; a small corpus's test split may have none
    firsts = res.pools.firsts["test"].items or res.pools.firsts["train"].items
    tasks = sample_tasks(world, firsts, config.synthesis.conversations, config.seed)
    s = config.synthesis
    guided = [play(world, f"synth-{i:06d}", t, start, s.max_turns)
              for i, (t, start) in enumerate(tasks, start=1)]
    baseline = [play(world, f"base-{i:06d}", t, start, s.max_turns, guided=False)
                for i, (t, start) in enumerate(tasks, start=1)]
    return guided + baseline


def corpus_smoothness(emb: KeywordEmbeddings, res: CorpusResult) -> float | None:
    """The proxy on real consecutive pairs of the training split, for reference."""
    pairs = [v for u in res.pools.utterances["train"].items
             if (v := smoothness(emb, [u.previous, u.keywords])) is not None]
    return float(np.mean(pairs)) if pairs else None


def build_all(rows: Iterable[Row], config: WeiboConfig, executor: Executor
              ) -> tuple[list[Row], StageReport]:
    with tempfile.TemporaryDirectory(prefix="corpusforge-weibo-") as tmp:
        res = build_corpus(rows, config, Path(tmp), executor)
        out = _conversation_rows(res) + _instance_rows(res)
        reference = (read_reference(config.resolve(config.reference_keywords_path))
                     if config.reference_keywords_path else None)
        out += [{"row_id": f"vocab:{v['keyword']}", "kind": VOCAB, **v}
                for v in vocabulary_records(res, reference)]
        out += [{"row_id": f"edge:{e['split']}:{e['source']}>{e['target']}", "kind": EDGE,
                 **e} for e in edge_records(res.edges, res.candidates.keywords)]
        started = time.perf_counter()
        world = make_world(res, config)
        res.timings_s["embeddings"] = time.perf_counter() - started
        started = time.perf_counter()
        synthesized = synthesize(res, config, world)
        res.timings_s["synthesis"] = time.perf_counter() - started
        out += [{"row_id": f"synth:{s['synth_id']}", "kind": SYNTH, **s} for s in synthesized]
        out += [{"kind": LLM_TURN, **r} for r in llm_turn_rows(synthesized, res, config)]
        stats = {**res.stats, "reference_overlap": overlap(res.candidates.keywords,
                                                           reference).to_json()
                 if reference is not None else None,
                 "dropped_top": list(res.candidates.dropped),
                 "corpus_smoothness_proxy": corpus_smoothness(world.emb, res),
                 "keywords_with_vector": int(np.count_nonzero(
                     np.any(world.emb.vectors, axis=1)))}
        return out, StageReport(stats, res.timings_s)


def _conversation_rows(res: CorpusResult) -> list[Row]:
    out = []
    for path in res.parts("conversations"):
        for r in pq.read_table(path).to_pylist():
            out.append({**r, "kind": CONVERSATION})
    return out


def _instance_rows(res: CorpusResult) -> list[Row]:
    out = []
    for path in res.parts("instances"):
        for r in pq.read_table(path).to_pylist():
            out.append({**r, "kind": INSTANCE, "conversation_id": r["row_id"],
                        "row_id": f"inst:{r['instance_id']}"})
    return out
