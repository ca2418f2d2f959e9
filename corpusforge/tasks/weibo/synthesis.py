"""Target-guided self-play (the DKRN / Tang et al. 2019 evaluation, by retrieval).

A conversation starts from a corpus first utterance (the user's), with a target keyword
sampled from the vocabulary. Each turn is one agent utterance and one user reply:

- the agent's candidate keywords are those the training split's transition graph reaches
  from the context (the keywords of the last two utterances); among them only keywords
  strictly closer to the target than the best similarity reached so far qualify. The
  graph's counts play the paper's keyword predictor: the qualifying keyword with the
  largest transition count from the context wins (ties: corpus frequency, then
  similarity). With no reachable keyword, or none that qualifies, every keyword is a
  candidate and the corpus frequency predicts (choice "all_keywords"). The agent then
  retrieves an unused corpus utterance containing the keyword (retrieval.py);
- the user is the retrieval simulator, which knows no target.

The conversation stops after `max_turns` turns, or as soon as the target is a keyword of
one of the last two utterances (success). `smoothness_proxy` is the mean cosine between
the keyword embeddings of consecutive utterances: an automatic proxy, not the paper's
human smoothness rating. The same starts and targets are also played by a retrieval agent
that ignores the target (the baseline row of the report).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from corpusforge.tasks.weibo.embeddings import KeywordEmbeddings
from corpusforge.tasks.weibo.pools import Utterance
from corpusforge.tasks.weibo.retrieval import RetrievalIndex

EPS = 1e-6
GUIDED, BASELINE = "target_guided_retrieval", "retrieval_no_target"


@dataclass
class World:
    emb: KeywordEmbeddings
    index: RetrievalIndex
    graph: dict[int, dict[int, int]]  # keyword index -> next keyword index -> count
    prior: np.ndarray  # corpus count per keyword index


def smoothness(emb: KeywordEmbeddings, keyword_lists: Sequence[Sequence[str]]) -> float | None:
    vecs = [emb.mean(k) for k in keyword_lists]
    sims = [float(a @ b) for a, b in itertools.pairwise(vecs)
            if a is not None and b is not None]
    return float(np.mean(sims)) if sims else None


def choose_keyword(world: World, context: Sequence[str], sims: np.ndarray, best: float,
                   used: set[int]) -> tuple[str | None, str]:
    emb = world.emb
    weights: dict[int, int] = {}
    for c in context:
        for nxt, n in world.graph.get(emb.index[c], {}).items():
            weights[nxt] = weights.get(nxt, 0) + n
    for choice, pool in (("graph", list(weights)), ("all_keywords", range(len(emb.keywords)))):
        ok = [i for i in pool if sims[i] > best + EPS
              and world.index.has_response(emb.keywords[i], used)]
        if ok:
            pick = max(ok, key=lambda i: (weights.get(i, 0), world.prior[i], sims[i], -i))
            return emb.keywords[pick], choice
    return None, "none"


def _turn(index: int, speaker: str, u: Utterance, sims: np.ndarray, emb: KeywordEmbeddings,
          keyword: str | None = None, choice: str | None = None) -> dict[str, Any]:
    known = [float(sims[emb.index[k]]) for k in u.keywords if k in emb.index]
    return {"index": index, "speaker": speaker, "text": u.text, "keyword": keyword,
            "keywords": list(u.keywords), "similarity": max(known) if known else None,
            "keyword_similarity": float(sims[emb.index[keyword]]) if keyword else None,
            "choice": choice, "retrieved_from": u.ref}


def play(world: World, synth_id: str, target: str, start: Utterance, max_turns: int,
         guided: bool = True) -> dict[str, Any]:
    emb, idx = world.emb, world.index
    sims = emb.similarities(target)
    turns = [_turn(0, "user", start, sims, emb)]
    used: set[int] = set()
    best = max([t for t in [turns[0]["similarity"]] if t is not None], default=-1.0)
    success, used_turns = False, 0
    for turn in range(1, max_turns + 1):
        used_turns = turn
        last, context = turns[-1]["keywords"], [k for t in turns[-2:] for k in t["keywords"]]
        keyword, choice = (choose_keyword(world, context, sims, best, used) if guided
                           else (None, "none"))
        agent_id = idx.agent_response(keyword, last, used) if keyword else None
        if agent_id is None:
            agent_id, _ = idx.user_response(last, used)
            keyword, choice = None, "none" if guided else None
        if agent_id is None:
            break
        used.add(agent_id)
        turns.append(_turn(len(turns), "agent", idx.utterances[agent_id], sims, emb, keyword,
                           choice))
        user_id, _how = idx.user_response(turns[-1]["keywords"], used)
        if user_id is not None:
            used.add(user_id)
            turns.append(_turn(len(turns), "user", idx.utterances[user_id], sims, emb))
        best = max([best, *(t["similarity"] for t in turns[-2:] if t["similarity"] is not None)])
        success = any(target in t["keywords"] for t in turns[-2:])
        if success or user_id is None:  # reached, or the simulator has nothing left to say
            break
    return {"synth_id": synth_id, "target": target, "start": start.text, "turns": turns,
            "utterances_num": len(turns), "success": success, "turns_used": used_turns,
            "smoothness_proxy": smoothness(emb, [t["keywords"] for t in turns]),
            "agent": GUIDED if guided else BASELINE}


def sample_tasks(world: World, firsts: Sequence[Utterance], n: int, seed: int
                 ) -> list[tuple[str, Utterance]]:
    """(target, start) pairs: targets uniform over keywords the agent can reach at all (a
    vector and at least one retrievable utterance), starts uniform over the first
    utterances that do not already contain their target."""
    rng = random.Random(f"{seed}\x1fsynthesis")
    targets = [k for k in world.emb.keywords
               if world.emb.has_vector(k) and world.index.has_response(k, set())]
    tasks: list[tuple[str, Utterance]] = []
    while targets and firsts and len(tasks) < n:
        target = rng.choice(targets)
        starts = [u for u in firsts if target not in u.keywords]
        if starts:
            tasks.append((target, rng.choice(starts)))
        else:
            targets.remove(target)
    return tasks


def summarise(conversations: Sequence[dict[str, Any]]) -> dict[str, Any]:
    n = len(conversations)
    wins = [c for c in conversations if c["success"]]
    smooth = [c["smoothness_proxy"] for c in conversations if c["smoothness_proxy"] is not None]
    return {"conversations": n, "successes": len(wins),
            "success_rate": len(wins) / n if n else None,
            "avg_turns_successful": float(np.mean([c["turns_used"] for c in wins]))
            if wins else None,
            "avg_turns_all": float(np.mean([c["turns_used"] for c in conversations]))
            if n else None,
            "smoothness_proxy_mean": float(np.mean(smooth)) if smooth else None}
