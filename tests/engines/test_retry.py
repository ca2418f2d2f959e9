from __future__ import annotations

import pytest

from corpusforge.tasks.engines.errors import (
    EngineError,
    FatalEngineError,
    RowTooLongError,
    TransientEngineError,
)
from corpusforge.tasks.engines.retry import RetryPolicy, call_with_retries


def test_delay_grows_exponentially_and_is_capped_without_jitter() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=5.0, jitter=0.0)
    assert [policy.delay(i) for i in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_stays_within_its_fraction() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=100.0, jitter=0.5)
    assert policy.delay(2, rng=lambda: 0.0) == 4.0
    assert policy.delay(2, rng=lambda: 0.999999) == pytest.approx(2.0, abs=1e-5)
    samples = {policy.delay(3) for _ in range(50)}
    assert all(4.0 <= s <= 8.0 for s in samples) and len(samples) > 1


def test_retry_after_wins_when_longer_but_is_capped() -> None:
    policy = RetryPolicy(base_delay_s=0.1, max_delay_s=3.0, jitter=0.0)
    assert policy.delay(0, retry_after=2.0) == 2.0
    assert policy.delay(0, retry_after=60.0) == 3.0
    assert policy.delay(4, retry_after=0.01) == 1.6


def test_retries_transient_errors_then_succeeds() -> None:
    sleeps: list[float] = []
    attempts = iter([TransientEngineError("503"), TransientEngineError("timeout"), "ok"])

    def fn() -> str:
        item = next(attempts)
        if isinstance(item, Exception):
            raise item
        return item

    policy = RetryPolicy(max_retries=5, base_delay_s=1.0, jitter=0.0)
    assert call_with_retries(fn, policy, sleep=sleeps.append) == "ok"
    assert sleeps == [1.0, 2.0]


def test_gives_up_after_max_retries_with_the_last_error() -> None:
    calls = []
    sleeps: list[float] = []

    def fn() -> None:
        calls.append(1)
        raise TransientEngineError(f"fail {len(calls)}")

    with pytest.raises(TransientEngineError, match="fail 4"):
        call_with_retries(fn, RetryPolicy(max_retries=3, jitter=0.0), sleep=sleeps.append)
    assert len(calls) == 4 and len(sleeps) == 3


@pytest.mark.parametrize("error", [FatalEngineError("401"), RowTooLongError("long"),
                                   EngineError("400"), KeyError("x")])
def test_non_retryable_errors_are_raised_at_once(error: Exception) -> None:
    calls = []

    def fn() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        call_with_retries(fn, RetryPolicy(max_retries=5), sleep=lambda _s: None)
    assert len(calls) == 1


def test_error_retry_after_attribute_is_honoured() -> None:
    sleeps: list[float] = []
    err = TransientEngineError("429")
    err.retry_after = 1.5  # type: ignore[attr-defined]
    attempts = iter([err, "ok"])

    def fn() -> str:
        item = next(attempts)
        if isinstance(item, Exception):
            raise item
        return item

    call_with_retries(fn, RetryPolicy(base_delay_s=0.1, jitter=0.0), sleep=sleeps.append)
    assert sleeps == [1.5]
