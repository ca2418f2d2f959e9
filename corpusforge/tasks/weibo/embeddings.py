"""Keyword embeddings trained on the corpus: PPMI of keyword co-occurrence, factorised
to a few dimensions (the count-based counterpart of word2vec, Levy & Goldberg 2014).

The agent needs "closer to the target" for Chinese keywords, and the packaged MiniLM is
English-only; co-occurrence in the training split's conversations (same utterance, or
adjacent utterances) is what "related enough to lead towards" means in this corpus.
Context counts are smoothed with exponent 0.75 as in word2vec. The factorisation is a
dense eigen-decomposition of the K x K matrix (K ~ 2,000 keywords: seconds); rows are
L2-normalised, so cosine is a dot product. A keyword that never co-occurs has a zero
vector (cosine 0 to everything). Deterministic: no random projection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

SMOOTHING = 0.75


class KeywordEmbeddings:
    def __init__(self, keywords: Sequence[str], vectors: np.ndarray) -> None:
        self.keywords = tuple(keywords)
        self.index = {k: i for i, k in enumerate(self.keywords)}
        self.vectors = vectors.astype(np.float32)

    def has_vector(self, keyword: str) -> bool:
        i = self.index.get(keyword)
        return i is not None and bool(np.any(self.vectors[i]))

    def similarity(self, a: str, b: str) -> float:
        ia, ib = self.index.get(a), self.index.get(b)
        if ia is None or ib is None:
            return 0.0
        return float(self.vectors[ia] @ self.vectors[ib])

    def similarities(self, target: str) -> np.ndarray:
        """Cosine of every keyword to `target` (zeros when it has no vector)."""
        i = self.index.get(target)
        if i is None:
            return np.zeros(len(self.keywords), dtype=np.float32)
        return self.vectors @ self.vectors[i]

    def mean(self, keywords: Sequence[str]) -> np.ndarray | None:
        """Normalised mean vector of an utterance's keywords; None without any vector."""
        rows = [self.vectors[self.index[k]] for k in keywords if k in self.index]
        if not rows:
            return None
        v = np.mean(rows, axis=0)
        norm = float(np.linalg.norm(v))
        return v / norm if norm > 0 else None


def ppmi(cooc: Counter[int], k: int) -> np.ndarray:
    """Symmetric K x K PPMI from counts keyed min * K + max."""
    m = np.zeros((k, k), dtype=np.float64)
    if cooc:
        keys = np.fromiter(cooc.keys(), dtype=np.int64, count=len(cooc))
        vals = np.fromiter(cooc.values(), dtype=np.float64, count=len(cooc))
        rows, cols = keys // k, keys % k
        m[rows, cols] = vals
        m[cols, rows] = vals
    total = m.sum()
    if total == 0:
        return m
    row = m.sum(axis=1)
    ctx = row ** SMOOTHING
    ctx = ctx / ctx.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log((m / total) / np.outer(row / total, ctx))
    pmi[~np.isfinite(pmi)] = 0.0
    return np.maximum(pmi, 0.0)


def positive_factor(m: np.ndarray, dim: int) -> np.ndarray:
    """X with X X^T the best rank-`dim` positive semi-definite approximation of the
    symmetric m: the eigenvectors of its largest positive eigenvalues, scaled by their
    square roots. (An SVD would also keep the large negative directions that a PPMI
    matrix's zero diagonal creates, and those push co-occurring keywords apart.)"""
    values, vectors = np.linalg.eigh(m)
    top = np.argsort(values)[::-1][:dim]
    top = top[values[top] > 0]
    out = np.zeros((m.shape[0], dim))
    out[:, :len(top)] = vectors[:, top] * np.sqrt(values[top])
    return out


def train_embeddings(keywords: Sequence[str], cooc: Counter[int],
                     dim: int) -> KeywordEmbeddings:
    k = len(keywords)
    m = ppmi(cooc, k)
    d = max(1, min(dim, k - 1))
    if not m.any():
        return KeywordEmbeddings(keywords, np.zeros((k, d)))
    vectors = positive_factor(m, d)
    vectors[~m.any(axis=1)] = 0.0  # no co-occurrence: no direction, not rounding noise
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return KeywordEmbeddings(keywords, vectors)
