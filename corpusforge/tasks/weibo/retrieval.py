"""Responses by retrieval from the corpus, for both sides of self-play.

As in the paper, the agent does not write text: it picks a keyword, then retrieves a
corpus utterance that contains it and fits the dialogue. The user simulator is the paper's
retrieval agent without a target: it answers with the best-matching corpus response not
used yet. "Fits" is scored with the keyword embeddings: a candidate whose *preceding*
utterance resembles the current last utterance (context matching, the classic retrieval
chatbot), plus, for the agent, the candidate's own resemblance to it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import numpy as np

from corpusforge.tasks.weibo.embeddings import KeywordEmbeddings
from corpusforge.tasks.weibo.pools import Utterance


class RetrievalIndex:
    def __init__(self, utterances: Sequence[Utterance], emb: KeywordEmbeddings,
                 max_candidates: int, seed: int) -> None:
        self.utterances = list(utterances)
        self.emb = emb
        self.max_candidates = max_candidates
        self.rng = random.Random(f"{seed}\x1fretrieval")
        order = list(range(len(self.utterances)))
        self.rng.shuffle(order)  # which candidates a keyword keeps must not favour a source
        self.by_keyword: dict[str, list[int]] = {}
        self.by_previous: dict[str, list[int]] = {}
        for i in order:
            u = self.utterances[i]
            for k in u.keywords:
                self.by_keyword.setdefault(k, []).append(i)
            for k in u.previous:
                self.by_previous.setdefault(k, []).append(i)
        dim = emb.vectors.shape[1]
        self.own = np.zeros((len(self.utterances), dim), dtype=np.float32)
        self.prev = np.zeros((len(self.utterances), dim), dtype=np.float32)
        for i, u in enumerate(self.utterances):
            for matrix, kws in ((self.own, u.keywords), (self.prev, u.previous)):
                v = emb.mean(kws)
                if v is not None:
                    matrix[i] = v

    def has_response(self, keyword: str, used: set[int]) -> bool:
        return any(i not in used for i in self.by_keyword.get(keyword, ()))

    def _best(self, candidates: Iterable[int], query: np.ndarray | None, used: set[int],
              own_weight: float) -> int | None:
        ids = [i for i in dict.fromkeys(candidates) if i not in used][:self.max_candidates]
        if not ids:
            return None
        if query is None:
            return ids[0]
        scores = self.prev[ids] @ query + own_weight * (self.own[ids] @ query)
        return ids[int(np.argmax(scores))]

    def agent_response(self, keyword: str, last: Sequence[str], used: set[int]) -> int | None:
        """An unused utterance containing `keyword` that best follows `last`'s keywords."""
        return self._best(self.by_keyword.get(keyword, ()), self.emb.mean(last), used, 1.0)

    def user_response(self, last: Sequence[str], used: set[int]) -> tuple[int | None, str]:
        """The simulator: the best unused corpus answer to an utterance with keywords
        `last`, or a random unused utterance when no answer shares a keyword."""
        candidates = [i for k in last for i in self.by_previous.get(k, ())]
        best = self._best(candidates, self.emb.mean(last), used, 0.0)
        if best is not None:
            return best, "retrieval"
        free = [i for i in range(len(self.utterances)) if i not in used]
        return (self.rng.choice(free), "random") if free else (None, "none")
