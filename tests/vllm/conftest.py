"""The vLLM engine's tests run real `vllm serve` replicas from the vLLM environment
(`make test-vllm` installs it; without it they fail with the install hint, never skip).
One local Ray for the session; each module starts the replicas it needs and stops them,
so no more than a few vLLM processes are alive at once on a 2-core, 24 GB machine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import ray

from corpusforge.flows.ray_runner import local_init_kwargs


@pytest.fixture(scope="session")
def local_ray() -> Iterator[None]:
    ray.init(**local_init_kwargs())
    yield
    ray.shutdown()
