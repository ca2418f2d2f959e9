"""One retry loop for every remote engine: exponential backoff with jitter, capped.

Only `errors.RETRYABLE` kinds are retried; everything else (fatal, row too long, a parse
problem) is raised at once, because retrying it would only cost time. Jitter spreads the
retries of many Ray workers that hit the same overloaded server at the same moment.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from corpusforge.tasks.engines.errors import RETRYABLE

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """`max_retries` retries after the first attempt (0 = try once)."""

    max_retries: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    jitter: float = 0.5  # fraction of the delay drawn at random: delay * (1 - jitter * U[0,1))

    def delay(self, retry_index: int, rng: Callable[[], float] = random.random,
              retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry_index` (0-based).

        A server's Retry-After wins when it asks for longer, but never beyond `max_delay_s`.
        """
        backoff = min(self.max_delay_s, self.base_delay_s * (2.0 ** retry_index))
        backoff *= 1.0 - self.jitter * rng()
        if retry_after is not None:
            backoff = max(backoff, retry_after)
        return min(backoff, self.max_delay_s)


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
    describe: str = "engine call",
) -> T:
    """Call `fn` until it succeeds, raises a non-retryable error, or retries run out.

    The last retryable error is re-raised unchanged, so callers (and Prefect's task retry
    above them) still see a retryable kind. An error may carry `retry_after` (seconds).
    """
    attempt = 0
    while True:
        try:
            return fn()
        except RETRYABLE as err:
            if attempt >= policy.max_retries:
                raise
            wait = policy.delay(attempt, rng, getattr(err, "retry_after", None))
            log.warning("%s failed (%s); retry %d/%d in %.2fs", describe, err, attempt + 1,
                        policy.max_retries, wait)
            sleep(wait)
            attempt += 1
