"""Fixtures of the reliability tests: the store as child processes see it, and how they start."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.harness import StoreSpec


@pytest.fixture
def store_spec(backend_name: str, tmp_path: Any, request: pytest.FixtureRequest) -> StoreSpec:
    """The store of the ``provider``/``store`` fixtures, described for another process."""
    if backend_name == "sqlite":
        root = str(tmp_path / "store")
        return StoreSpec(backend="sqlite", root=root, blob_root=root)
    server = request.getfixturevalue("mongo_server")
    (tmp_path / "blobs").mkdir(exist_ok=True)
    return StoreSpec(backend="mongo", mongo_uri=server.uri, blob_root=str(tmp_path / "blobs"))


@pytest.fixture(scope="session")
def process_context() -> Any:
    """``forkserver`` children, forked from a server that imported the library once.

    A fresh interpreter per child (``spawn``) would cost a second of imports per crash trial;
    the fork server gives clean children (no inherited connections or threads) in milliseconds.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.reliability.harness", "tests.reliability.writers",
                                    "tests.reliability.crash_child"])
    return context


@pytest.fixture
def drop_mongo_projects(backend_name: str, request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Projects a test creates besides ``project``; their databases are dropped afterwards (Mongo)."""
    created: list[str] = []
    client = request.getfixturevalue("mongo_client") if backend_name == "mongo" else None
    yield created
    for name in created if client is not None else ():
        client.drop_database(name)
