"""Backend failures mapped once to an error kind.

The shard runner decides what to do from the class alone: retryable errors go back to the
retry loop (and then to Prefect's task retry); fatal ones stop the run with their message;
`RowTooLongError` quarantines only the row that caused it.
"""

from __future__ import annotations


class EngineError(Exception):
    retryable: bool = False


class TransientEngineError(EngineError):
    """Timeouts, connection resets, 429 / 5xx: worth trying again after a backoff."""

    retryable = True


class FatalEngineError(EngineError):
    """Dead engine, authentication, a model that does not exist, a bad engine config."""


class UnsupportedOperation(FatalEngineError):
    """The engine cannot do this operation (see capabilities())."""


class RowTooLongError(EngineError):
    """The prompt does not fit the model's context: a property of the row, not the engine."""


RETRYABLE: tuple[type[EngineError], ...] = (TransientEngineError,)
