"""Teacher-forcing conventions every engine's `score` shares, so engines agree."""

from __future__ import annotations

from collections.abc import Sequence


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the shared leading run of two token-id sequences. A continuation's tokens
    start where prompt+continuation stops sharing the prompt's own tokens: a token that
    straddles the boundary (tokenizers may merge the prompt's last characters with the
    continuation's first) counts towards the continuation."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
