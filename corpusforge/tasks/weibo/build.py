"""From the corpus passes' totals to the last derived tables.

`finish` is the work of the recipe's `world` stage (passes.py): the vocabulary and the
transition graphs, the keyword embeddings, the self-play conversations and the LLM
extension's turn rows ("llm:" ids, which no input line can have), handed to a `Sink`.
The scale benchmark (bench.py) uses the same pieces after its own passes.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from corpusforge.schemas.weibo import WeiboConfig
from corpusforge.tasks.steps import Row
from corpusforge.tasks.weibo.embeddings import KeywordEmbeddings, train_embeddings
from corpusforge.tasks.weibo.graph import adjacency, edge_records
from corpusforge.tasks.weibo.keywords import overlap, read_reference
from corpusforge.tasks.weibo.llm_rows import llm_turn_rows
from corpusforge.tasks.weibo.retrieval import RetrievalIndex
from corpusforge.tasks.weibo.synthesis import World, play, sample_tasks, smoothness
from corpusforge.tasks.weibo.totals import CorpusResult

_SYNTH = ("synth_id", "target", "start", "turns", "utterances_num", "success", "turns_used",
          "smoothness_proxy", "agent")
class Sink(Protocol):
    def records(self, table: str, records: list[dict[str, Any]]) -> None: ...

    def llm_turn(self, row: Row) -> None: ...


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


def finish(res: CorpusResult, config: WeiboConfig, sink: Sink) -> dict[str, Any]:
    """Everything after the passes: vocabulary and graph tables, the keyword embeddings,
    self-play and the LLM extension's turns, handed to `sink`; the facts for the report."""
    reference = (read_reference(config.resolve(config.reference_keywords_path))
                 if config.reference_keywords_path else None)
    sink.records("vocabulary", vocabulary_records(res, reference))
    sink.records("graph", edge_records(res.edges, res.candidates.keywords))
    started = time.perf_counter()
    world = make_world(res, config)
    res.timings_s["embeddings"] = time.perf_counter() - started
    started = time.perf_counter()
    synthesized = synthesize(res, config, world)
    res.timings_s["synthesis"] = time.perf_counter() - started
    sink.records("synthesized", [{k: s[k] for k in _SYNTH} for s in synthesized])
    for r in llm_turn_rows(synthesized, res, config):
        sink.llm_turn(r)
    return {"reference_overlap": overlap(res.candidates.keywords, reference).to_json()
            if reference is not None else None,
            "corpus_smoothness_proxy": corpus_smoothness(world.emb, res),
            "keywords_with_vector": int(np.count_nonzero(np.any(world.emb.vectors, axis=1)))}
