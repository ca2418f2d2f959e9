"""Map a function over a stream of chunks, in order, with a bounded number in flight.

The corpus stage streams: a chunk is read, sent to a worker, and its result written by
the driver before more than `max_in_flight` chunks are outstanding, so memory does not
grow with the input. On Ray (the flow's own Ray, or a cluster when one is configured)
each chunk is one task; without Ray the same functions run in this process, which is
what the unit tests use. Large read-only data shared by every task (keyword set, negative
pools) is put in the object store once and fetched once per worker process (`shared`).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    workers: int

    def share(self, value: Any) -> Any: ...

    def map(self, fn: Callable[..., R], chunks: Iterable[Any], *args: Any) -> Iterator[R]: ...


class LocalExecutor:
    workers = 1

    def share(self, value: Any) -> Any:
        return _Shared(value)

    def map(self, fn: Callable[..., R], chunks: Iterable[Any], *args: Any) -> Iterator[R]:
        for chunk in chunks:
            yield fn(chunk, *args)


class _Shared:
    """A value handed to tasks by reference (see `shared`)."""

    def __init__(self, value: Any = None, ref: Any = None) -> None:
        self.value, self.ref = value, ref


_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()
_CACHE_ENTRIES = 4


def shared(handle: _Shared) -> Any:
    """The value behind a handle; on a Ray worker fetched from the object store once per
    process (the handle's object id is the key), not once per task."""
    if handle.ref is None:
        return handle.value
    import ray

    key = handle.ref.hex()
    with _cache_lock:
        if key not in _cache:
            while len(_cache) >= _CACHE_ENTRIES:  # oldest first: earlier passes' data
                _cache.pop(next(iter(_cache)))
            _cache[key] = ray.get(handle.ref)
        return _cache[key]


class RayExecutor:
    def __init__(self, max_in_flight: int | None = None, num_cpus: float = 1) -> None:
        import ray

        self._ray = ray
        self.workers = max(1, int(ray.available_resources().get("CPU", 1) // num_cpus))
        self.max_in_flight = max_in_flight or 2 * self.workers
        self.num_cpus = num_cpus
        self._remote: dict[Callable[..., Any], Any] = {}

    def share(self, value: Any) -> Any:
        # Inside a wrapper object, Ray passes the ObjectRef itself instead of resolving it.
        return _Shared(ref=self._ray.put(value))

    def map(self, fn: Callable[..., R], chunks: Iterable[Any], *args: Any) -> Iterator[R]:
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._ray.remote(num_cpus=self.num_cpus, max_retries=2)(fn)
            self._remote[fn] = remote
        pending: collections.deque[Any] = collections.deque()
        for chunk in chunks:
            pending.append(remote.remote(chunk, *args))
            if len(pending) >= self.max_in_flight:
                yield self._ray.get(pending.popleft())
        while pending:
            yield self._ray.get(pending.popleft())


def default_executor() -> Executor:
    """Ray when this process is connected to it (inside the flow), else in-process."""
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is a platform dependency
        return LocalExecutor()
    return RayExecutor() if ray.is_initialized() else LocalExecutor()
