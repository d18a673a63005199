"""Shared fixtures: the store under test (embedded SQLite and MongoDB), vocabulary, arrays.

How the MongoDB tests find a server (the same fixture serves every Mongo test):
1. ``SIGNALSTORE_TEST_MONGO_URI``; 2. testcontainers' ``mongo`` image when a Docker engine
answers; 3. a local FerretDB 1.24 (``scripts/install_ferretdb.sh``) started on a free loopback
port; 4. otherwise the Mongo tests are skipped, unless ``SIGNALSTORE_REQUIRE_MONGO=1`` (CI)
turns that into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import fsspec
import numpy as np
import pytest
import xarray as xr
from fsspec.implementations.dirfs import DirFileSystem
from hypothesis import settings

from signalstore_es import UnitOfWorkProvider
from signalstore_es.testing import vocabulary as vocab

BACKENDS = ["sqlite", pytest.param("mongo", marks=pytest.mark.mongo)]

# CI runs the same examples every time (a property failure there must be reproducible, not
# luck); developers' runs explore new examples. Either way shrinking is bounded in time.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.mongo_server import find_mongo_server

    with find_mongo_server(tmp_path_factory) as server:
        if server is None:
            message = ("no MongoDB-protocol server found: set SIGNALSTORE_TEST_MONGO_URI, start a "
                       "Docker engine, or run scripts/install_ferretdb.sh")
            if os.environ.get("SIGNALSTORE_REQUIRE_MONGO") == "1":
                pytest.fail(message + " (SIGNALSTORE_REQUIRE_MONGO=1 forbids skipping)")
            pytest.skip(message)
        yield server


@pytest.fixture
def mongo_client(mongo_server: Any) -> Iterator[Any]:
    from pymongo import MongoClient

    client: Any = MongoClient(mongo_server.uri, serverSelectionTimeoutMS=10_000)
    yield client
    client.close()


@pytest.fixture
def project() -> str:
    """A fresh project (database) name per test, so tests never see each other's data."""
    return f"p{uuid.uuid4().hex[:12]}"


def make_provider(backend: str, tmp_path: Any, request: pytest.FixtureRequest, **options: Any) -> UnitOfWorkProvider:
    if backend == "sqlite":
        return UnitOfWorkProvider.embedded(tmp_path / "store", **options)
    client = request.getfixturevalue("mongo_client")
    (tmp_path / "blobs").mkdir(exist_ok=True)
    filesystem = DirFileSystem(str(tmp_path / "blobs"), fsspec.filesystem("file"))
    return UnitOfWorkProvider(mongo_client=client, filesystem=filesystem, memory_store={}, **options)


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def provider(backend_name: str, tmp_path: Any, request: pytest.FixtureRequest,
             project: str) -> Iterator[UnitOfWorkProvider]:
    created = make_provider(backend_name, tmp_path, request, actor="tester")
    yield created
    created.close()
    if backend_name == "mongo":
        request.getfixturevalue("mongo_client").drop_database(project)


@pytest.fixture
def second_provider(backend_name: str, tmp_path: Any, request: pytest.FixtureRequest) -> Iterator[UnitOfWorkProvider]:
    """Another provider (its own connection) on the same store, as another process would be."""
    created = make_provider(backend_name, tmp_path, request, actor="other")
    yield created
    created.close()


@pytest.fixture
def store(provider: UnitOfWorkProvider, project: str) -> UnitOfWorkProvider:
    """A provider whose project already holds the example vocabulary."""
    with provider(project) as uow:
        for model in vocab.all_models():
            uow.domain_models.add(model)
        uow.commit(message="vocabulary")
    return provider


def spike_times(data_name: str = "unit7", n: int = 100, seed: int = 0,
                session: str = "2024-04-28-AM-Animal1") -> xr.DataArray:
    values = np.sort(np.random.default_rng(seed).uniform(0, 600, n))
    attrs = vocab.spike_times_attrs(data_name, session=session, animal="Animal1", n_spikes=n)
    return xr.DataArray(values, dims=["spike_idx"], name=data_name, attrs=attrs)
