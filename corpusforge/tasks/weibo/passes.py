"""The corpus build as platform stages (recipe.py puts them in order).

segment (map)     tag every utterance (tagging.py)
candidates (glob) count keyword forms over every conversation; the candidate keywords,
                  one row each in rank order
mark (map)        per conversation: each utterance's candidate keywords, the filter
                  decision, the seeded split (side input: candidates); the filter step
                  quarantines what fails; `conversations` is published here
pools (global)    over the kept conversations in input order: the keyword counts of kept
                  conversations and the seeded, bounded utterance pools (pools.py)
instances (map)   per kept conversation: turn instances with negatives from its split's
                  pool, graph edges and co-occurrences (side inputs: candidates, pools);
                  `instances` is published here
world (global)    graph, vocabulary, embeddings, self-play, LLM-extension turns (build.py)

The map stages' steps call the chunk functions of chunks.py on one-row tables. Between
stages only bounded totals travel: candidates, pools (at most `pool_size` per split),
kept counts, and each conversation's edges and co-occurrences.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from corpusforge.schemas.weibo import SPLITS, WeiboConfig
from corpusforge.tasks.stages import GlobalStage, StageInput, StageOutput
from corpusforge.tasks.steps import MapStep, Row
from corpusforge.tasks.weibo import chunks
from corpusforge.tasks.weibo.build import finish
from corpusforge.tasks.weibo.keywords import Candidates, select_candidates
from corpusforge.tasks.weibo.pools import Pools, Utterance
from corpusforge.tasks.weibo.totals import CorpusResult

BATCH = 2000  # rows counted per call in the global stages


def _batches(rows: Any, size: int = BATCH) -> Any:
    it = iter(rows)
    while batch := list(itertools.islice(it, size)):
        yield batch


class CountCandidates(GlobalStage):
    """Candidate keywords: noun/verb/adjective forms of `min_chars`+ characters seen at
    least `min_count` times, the `drop_top` most frequent left out."""

    def __init__(self, name: str, config: WeiboConfig) -> None:
        super().__init__(name)
        self.config = config

    def run(self, inputs: StageInput, out: StageOutput) -> None:
        c = self.config
        counts: Counter[str] = Counter()
        conversations = utterances = 0
        for batch in _batches(inputs.rows()):
            counts.update(chunks.keyword_counts([r["segmented"] for r in batch],
                                                c.segmentation.segmenter, c.min_chars))
            conversations += len(batch)
            utterances += sum(len(r["turns"]) for r in batch)
        candidates = select_candidates(counts, c.min_count, c.drop_top)
        if not candidates.keywords:
            raise ValueError(
                f"no candidate keyword: no noun, verb or adjective of {c.min_chars}+ "
                f"characters occurs min_count={c.min_count} times in {utterances} "
                f"utterances (beyond the {c.drop_top} most frequent); a small corpus needs "
                "a lower min_count (the fixture: about 10)")
        for keyword, n in zip(candidates.keywords, candidates.counts, strict=True):
            out.emit({"row_id": f"kw:{keyword}", "keyword": keyword, "count": n}, parents=[])
        out.note(conversations=conversations, utterances=utterances,
                 candidates=len(candidates.keywords), eligible=candidates.eligible,
                 dropped_top=list(candidates.dropped))


def _index(sides: Mapping[str, Sequence[Row]]) -> dict[str, int]:
    return {r["keyword"]: i for i, r in enumerate(sides["candidates"])}


class Mark(MapStep):
    name = "weibo.mark"
    version = 1
    requires = ("segmented",)
    produces = ("keywords", "distinct_keywords", "filter_reason", "split")

    def __init__(self, config: WeiboConfig) -> None:
        c = config
        self.params = chunks.MarkParams(c.segmentation.segmenter, c.min_chars, c.min_keywords,
                                        c.seed, c.valid_fraction, c.test_fraction)
        self.index: dict[str, int] = {}

    def bind(self, sides: Mapping[str, Sequence[Row]]) -> None:
        self.index = _index(sides)

    def apply(self, row: Row) -> Row:
        table = chunks.segmented_table([row], [row["segmented"]])
        marked = chunks.mark_chunk(table, self.index, self.params).table
        return {**row, **{f: marked.column(f)[0].as_py() for f in self.produces}}


class BuildPools(GlobalStage):
    """Over the kept conversations, in input order: what each keyword counts in them and
    the seeded utterance pools (main output: every split's utterance pool; `firsts`: its
    start utterances; `kept`: the counts)."""

    outputs = ("firsts", "kept")

    def __init__(self, name: str, config: WeiboConfig) -> None:
        super().__init__(name)
        self.config = config

    def run(self, inputs: StageInput, out: StageOutput) -> None:
        pools = Pools(self.config.pool_size, self.config.seed)
        kept: Counter[str] = Counter()
        splits: Counter[str] = Counter()
        for row in inputs.rows():
            for utterance in row["keywords"]:
                kept.update(utterance)
            splits[row["split"]] += 1
            pools.add(row["row_id"], row["split"], row["turns"], row["keywords"])
        for output, reservoirs in ((None, pools.utterances), ("firsts", pools.firsts)):
            for split, reservoir in reservoirs.items():
                for i, u in enumerate(reservoir.items):
                    out.emit({"row_id": f"{output or 'pool'}:{split}:{i}", "split": split,
                              **_utterance_fields(u)}, parents=[], output=output)
        for keyword, n in kept.items():
            out.emit({"row_id": f"kept:{keyword}", "keyword": keyword, "count": n},
                     parents=[], output="kept")
        out.note(kept=sum(splits.values()), kept_by_split=dict(splits), pools=pools.stats())


def _utterance_fields(u: Utterance) -> dict[str, Any]:
    return {"ref": u.ref, "text": u.text, "keywords": list(u.keywords),
            "previous": list(u.previous), "previous_text": u.previous_text}


def _utterance(row: Row) -> Utterance:
    return Utterance(row["ref"], row["text"], tuple(row["keywords"]), tuple(row["previous"]),
                     row["previous_text"])


class Instances(MapStep):
    name = "weibo.instances"
    version = 1
    requires = ("split", "turns", "keywords")
    produces = ("instances", "instances_num", "edges", "cooc", "short_candidates")
    # what the world stage reads of each row (the instances themselves are published)
    stream = ("split", "instances_num", "edges", "cooc", "short_candidates")

    def __init__(self, config: WeiboConfig) -> None:
        self.params = chunks.InstanceParams(config.seed, config.negatives, config.max_source)
        self.index: dict[str, int] = {}
        self.negatives: dict[str, list[str]] = {}

    def bind(self, sides: Mapping[str, Sequence[Row]]) -> None:
        self.index = _index(sides)
        self.negatives = {s: [] for s in SPLITS}
        for r in sides["pools"]:
            self.negatives[r["split"]].append(r["text"])

    def apply(self, row: Row) -> Row:
        table = pa.table({"row_id": [row["row_id"]], "split": [row["split"]],
                          "turns": [row["turns"]], "keywords": [row["keywords"]]})
        res = chunks.instance_chunk(table, self.negatives, self.index, self.params)
        return {**row, "instances": res.table.to_pylist(), "instances_num": res.table.num_rows,
                "edges": {s: sorted(c.items()) for s, c in res.edges.items()},
                "cooc": sorted(res.cooc.items()), "short_candidates": res.short_candidates}


def instance_records(rows: list[Row]) -> dict[str, list[dict[str, Any]]]:
    return {"instances": [i for r in rows for i in r["instances"]]}


class World(GlobalStage):
    """The last derived tables from the totals of the earlier stages (build.py:finish)."""

    outputs = ("llm",)

    def __init__(self, name: str, config: WeiboConfig) -> None:
        super().__init__(name, ("instances", "candidates", "pools", "pools:firsts",
                                "pools:kept"))
        self.config = config

    def run(self, inputs: StageInput, out: StageOutput) -> None:
        started = time.perf_counter()
        edges: dict[str, Counter[int]] = {}
        cooc: Counter[int] = Counter()
        instances: Counter[str] = Counter()
        short = 0
        for row in inputs.rows("instances"):
            for split, pairs in row["edges"].items():
                edges.setdefault(split, Counter()).update(dict(pairs))
            cooc.update(dict(row["cooc"]))
            instances[row["split"]] += row["instances_num"]
            short += row["short_candidates"]
        keywords = [(r["keyword"], r["count"]) for r in inputs.rows("candidates")]
        candidates = Candidates(keywords=tuple(k for k, _ in keywords),
                                counts=tuple(n for _, n in keywords), dropped=(), eligible=0)
        pools = Pools(self.config.pool_size, self.config.seed)
        for stream, reservoirs in (("pools", pools.utterances),
                                   ("pools:firsts", pools.firsts)):
            for r in inputs.rows(stream):
                reservoirs[r["split"]].items.append(_utterance(r))
        kept = Counter({r["keyword"]: r["count"] for r in inputs.rows("pools:kept")})
        res = CorpusResult(candidates, kept, edges, cooc, pools,
                           timings_s={"totals": time.perf_counter() - started})
        facts = finish(res, self.config, _Sink(out))
        out.note(**facts, instances=sum(instances.values()),
                 instances_by_split=dict(instances), instances_short_of_negatives=short,
                 timings_s=res.timings_s)


class _Sink:
    def __init__(self, out: StageOutput) -> None:
        self.out = out

    def records(self, table: str, records: list[dict[str, Any]]) -> None:
        self.out.write(table, records)

    def llm_turn(self, row: Row) -> None:
        self.out.emit(row, parents=[], output="llm")  # made from the whole corpus
