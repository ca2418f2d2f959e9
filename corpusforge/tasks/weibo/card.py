"""The Weibo section of the dataset card (also published as report.md)."""

from __future__ import annotations

import json
from typing import Any

from corpusforge.tasks.weibo.synthesis import BASELINE, GUIDED

REPORT_JSON, REPORT_MD = "report.json", "report.md"
METHOD = (
    "Corpus construction of DKRN (Qin et al., \"Dynamic Knowledge Routing Network for "
    "Target-Guided Open-Domain Conversation\", AAAI 2020), after Tang et al. 2019: every "
    "utterance is segmented and POS-tagged; candidate keywords are nouns, verbs and "
    "adjectives of at least two characters whose corpus count reaches `min_count`, minus "
    "the 100 most frequent; conversations with fewer than `min_keywords` distinct "
    "keywords are dropped; the rest are split about 90/5/5 by a seeded hash of the "
    "conversation id. Every utterance i >= 2 with a keyword is a turn-level instance: up "
    "to 9 previous utterances as source, the gold utterance first among 20 candidates "
    "(19 negatives from the same split), the keywords of utterances i-2 and i-1 as "
    "context and its own keywords as target keywords. The transition graph counts an "
    "edge from each context keyword to each next keyword, per split.")
TAGGERS = (
    "Tagger choice, measured on the project machine (2 shared cores, real Weibo/LCCC "
    "utterances): THULAC 0.2.2, the DKRN authors' tool, is pure Python here, needs about "
    "1.3 GB per process and tags about 90-190 utterances/s per core — hours for a "
    "million conversations; jieba 0.42.1 `posseg` (HMM on) costs about 1.3 CPU-ms per "
    "utterance (700-1,150 utterances/s per core) in about 160 MB. On the fixture, "
    "THULAC's candidate list shares 1,097 keywords with the released one, jieba's 833 "
    "(min_count 10). jieba is the default; its tags are mapped to THULAC's "
    "noun/verb/adjective explicitly (n -> n; v, vn -> v; a, an -> a; proper nouns, "
    "adverbial uses and morphemes are not keywords). `segmentation.segmenter: thulac` "
    "runs THULAC instead.")
SYNTHESIS = (
    "Target-guided self-play by retrieval, as in the paper's evaluation: a target keyword "
    "is sampled from the vocabulary and a start utterance from the corpus' first "
    "utterances. Each turn the agent considers the keywords the training split's graph "
    "reaches from the context (all keywords when none qualifies), keeps only those whose "
    "cosine to the target (keyword embeddings: PPMI of keyword co-occurrence in the "
    "training split, factorised to `synthesis.embedding_dim` dimensions) is strictly "
    "above the best reached so far, picks the one with the largest transition count "
    "(the corpus frequency when the graph offers none), and retrieves an unused corpus "
    "utterance containing it; "
    "the user is a retrieval simulator that knows no target. A conversation succeeds when "
    "the target is a keyword of one of the last two utterances within the turn limit "
    "(one turn = an agent utterance and a user reply). `smoothness_proxy` = mean cosine of "
    "the keyword embeddings of consecutive utterances — an automatic proxy, not the "
    "paper's human rating. The baseline plays the same targets and starts with a "
    "retrieval agent that ignores the target.")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def report_markdown(r: dict[str, Any]) -> str:
    seg, conv, kw = r["segmenter"], r["conversations"], r["keywords"]
    syn = r["synthesis"]
    guided, base = syn[GUIDED], syn[BASELINE]
    ov = r["reference_overlap"]
    lines = [
        "## Weibo target-guided conversations (DKRN)", "", METHOD, "",
        f"**Tagger used: {seg['name']} ({seg['version']})**; {_throughput(seg)} " + TAGGERS,
        "",
        "| corpus | value |", "|---|---|",
        f"| conversations kept | {conv['kept']:,} ({', '.join(f'{s} {n:,}' for s, n in conv['by_split'].items())}) |",  # noqa: E501
        f"| conversations filtered | {json.dumps(conv['filtered'])} |",
        f"| malformed input lines | {conv['bad_lines']} |",
        f"| min_count / min_keywords | {kw['min_count']} / {kw['min_keywords']} |",
        f"| candidate keywords | {kw['candidates']:,} (of {kw['eligible']} reaching "
        f"min_count, minus the {len(kw['dropped_top'] or [])} most frequent) |",
        f"| keywords per utterance (kept) | {_num(kw['per_utterance'])} |",
        f"| turn instances | {json.dumps(r['instances']['by_split'])}; "
        f"{r['instances']['short_of_negatives']} with fewer than 19 negatives |",
        f"| graph edges | {json.dumps(r['graph_edges'])} |",
        f"| negatives and responses drawn from | {_pools(r['pools'])} |", ""]
    if ov:
        lines += [f"**Candidate keywords vs the released DKRN list (candi_keyword.txt):** "
                  f"{ov['shared']:,} of our {ov['ours']:,} `word_pos` keywords are among "
                  f"its {ov['reference']:,} (recall {_pct(ov['recall'])}, precision "
                  f"{_pct(ov['precision'])}; {ov['shared_words']:,} shared ignoring the "
                  "POS). A different corpus, size, threshold and tagger make a partial "
                  "overlap expected.", ""]
    lines += [
        "### Target-guided synthesis", "", SYNTHESIS, "",
        "| agent | conversations | success rate | avg turns (successful) | avg turns (all) "
        "| smoothness proxy |", "|---|---:|---:|---:|---:|---:|",
        *(f"| {name} | {s['conversations']} | {_pct(s['success_rate'])} | "
          f"{_num(s['avg_turns_successful'])} | {_num(s['avg_turns_all'])} | "
          f"{_num(s['smoothness_proxy_mean'], 3)} |" for name, s in
          ((GUIDED, guided), (BASELINE, base))), "",
        f"Turn limit {syn['max_turns']}. Smoothness proxy of real consecutive utterances "
        f"(training split): {_num(syn['corpus_smoothness_proxy'], 3)}. Where the agent's "
        f"keywords came from: {json.dumps(syn['choices'])}. Keywords with an embedding: "
        f"{syn['keywords_with_vector']}.", "",
        *_extension(r["llm_extension"]), "", *_files()]
    return "\n".join(lines).rstrip() + "\n"


def _throughput(seg: dict[str, Any]) -> str:
    return (f"{_num(seg['tagged_per_s_per_process'], 0)} utterances/s per process, "
            f"{seg['shards']} shards over {seg['processes']} processes (when the segment "
            "stage ran; a rerun reuses its committed tagging).")


def _pools(pools: dict[str, Any] | None) -> str:
    if not pools:
        return "—"
    sampled = [s for s, p in pools.items() if p["sampled"]]
    if not sampled:
        return "every utterance of the split"
    return "; ".join(f"{s}: a uniform sample of {p['pooled']:,} of {p['utterances']:,}"
                     for s, p in pools.items() if p["sampled"])


def _extension(llm: dict[str, Any]) -> list[str]:
    head = "### Extension (not in the paper): LLM agent responses and LLM user simulator"
    if not (llm["llm_agent"] or llm["llm_user"]):
        return [head + " — off", "", "Not used in this version."]
    return [head, "", "For each turn of the target-guided conversations the configured "
            "engine wrote the agent's utterance (conditioned on the history and the turn's "
            "keyword) and/or the user's reply, few-shot from real corpus exchanges, in "
            "table `llm_turns`. The history is the retrieval conversation's (teacher "
            "forcing): the retrieval outputs above do not depend on the model. Statuses: "
            f"agent {json.dumps(llm.get('agent', {}))}, user "
            f"{json.dumps(llm.get('user', {}))}."]


def _files() -> list[str]:
    return ["### Tables and files", "",
            "- `conversations`: kept conversations with split, segmented text and keywords "
            "per utterance (`word_pos`). Filtered ones are in `quarantine` with the reason.",
            "- `instances`: turn-level instances (gold first: `gold_index` 0).",
            "- `vocabulary`: candidate keywords with corpus counts and counts in kept "
            "conversations; `graph`: edge list per split with counts.",
            "- `synthesized`: self-play conversations (target, turns with the agent's "
            "keyword, success, turns used, smoothness proxy), guided and baseline.",
            f"- `{REPORT_JSON}`, `{REPORT_MD}`: the numbers above, with stage timings."]
