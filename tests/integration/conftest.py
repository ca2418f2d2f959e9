"""Fixtures for integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from corpusforge.flows.prefect_api import free_port, start_server, stop_server


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prefect server on 127.0.0.1 for the module's tests."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    proc = start_server(port, home / "server.log", home=home)
    url = f"http://127.0.0.1:{port}/api"
    try:
        yield url
    finally:
        stop_server(proc)
