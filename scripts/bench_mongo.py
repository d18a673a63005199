"""Row 11 of ``scripts/bench.py``: rows 5-7 against a MongoDB-protocol server, measured
against raw pymongo (``insert_many``, ``insert_one``, ``find_one``) on the same server: 11.5
adds its batch with ``add_many``, 11.5a with a loop of ``add`` (as row 5 and 5a do).

The server is ``--mongo-uri`` if given, else ``$SIGNALSTORE_TEST_MONGO_URI``, else a local
FerretDB started the way the test suite does (``tests/mongo_server.py``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import fsspec
from bench_common import Sizes, Timings, Workspace, log
from bench_records import add_vocabulary
from fsspec.implementations.dirfs import DirFileSystem
from pymongo import MongoClient
from pymongo.write_concern import WriteConcern

from signalstore_es import UnitOfWorkProvider

#: the store's default write concern (majority, journaled); the raw baseline uses the same
RAW_WRITE_CONCERN = WriteConcern("majority", j=True)


@contextlib.contextmanager
def mongo_server(uri: str | None) -> Iterator[tuple[str, str]]:
    """Yield ``(uri, kind)`` of a server, starting FerretDB when no URI is known."""
    uri = uri or os.environ.get("SIGNALSTORE_TEST_MONGO_URI")
    if uri:
        yield uri, "uri"
        return
    from pathlib import Path  # noqa: PLC0415

    from tests.mongo_server import find_ferretdb, run_ferretdb  # noqa: PLC0415 - repo helper

    binary = find_ferretdb()
    if binary is None:
        raise SystemExit("no MongoDB server: pass --mongo-uri, set SIGNALSTORE_TEST_MONGO_URI, or "
                         "install FerretDB with scripts/install_ferretdb.sh")
    with tempfile.TemporaryDirectory(prefix="bench-ferretdb-") as workdir, \
            run_ferretdb(binary, Path(workdir)) as server:
        log(f"started FerretDB ({binary}) at {server.uri}")
        yield server.uri, "ferretdb"


class MongoTarget:
    """The MongoDB backend, measured against raw pymongo on the same server."""

    label = "mongo"
    prefix = "11."
    batch_ratio = 0.3  #: >= 0.3x raw insert_many throughput
    batch_min_rate = 0  #: no absolute target on MongoDB
    single_ratio = 0.3

    def __init__(self, work: Workspace, client: MongoClient, kind: str) -> None:
        self.work = work
        self.client = client
        self.kind = kind
        self._counter = 0
        self._databases: list[str] = []

    def _name(self, label: str) -> str:
        self._counter += 1
        name = f"bench_{os.getpid()}_{label}_{self._counter}"
        self._databases.append(name)
        return name

    def new_store(self, label: str) -> tuple[UnitOfWorkProvider, str, str]:
        root = self.work.fresh(label)
        filesystem = DirFileSystem(root, fsspec.filesystem("file"))
        provider = UnitOfWorkProvider(mongo_client=self.client, filesystem=filesystem, memory_store={})
        project = self._name(label)
        add_vocabulary(provider, project)
        return provider, project, root

    def drop(self, provider: UnitOfWorkProvider, project: str, root: str) -> None:
        provider.close()
        self.client.drop_database(project)
        self.work.remove(root)

    def _raw_collection(self, label: str) -> Any:
        database = self.client.get_database(self._name(label), write_concern=RAW_WRITE_CONCERN)
        database.command("ping")
        return database

    # row 11.5
    batch_baseline = "pymongo insert_many (w=majority, j=True)"

    def baseline_batch(self, records: list[dict[str, Any]], timed: Timings, name: str) -> None:
        database = self._raw_collection("raw_batch")
        documents = copy.deepcopy(records)
        database["records"].insert_one({"warm": True})  # create the collection outside the timing
        try:
            with timed(name):
                database["records"].insert_many(documents, ordered=True)
        finally:
            self.client.drop_database(database.name)

    # row 11.6
    single_baseline = "pymongo insert_one per document (w=majority, j=True)"

    def baseline_single(self, records: list[dict[str, Any]], timed: Timings, name: str) -> None:
        database = self._raw_collection("raw_single")
        documents = copy.deepcopy(records)
        database["records"].insert_one({"warm": True})
        try:
            with timed(name):
                for document in documents:
                    database["records"].insert_one(document)
        finally:
            self.client.drop_database(database.name)

    # row 11.7
    find_baseline = "pymongo find_one on the records view collection"

    def raw_finder(self, provider: UnitOfWorkProvider, project: str, root: str) -> tuple[Any, dict[str, Any]]:
        collection = self.client[project]["records"]

        def find(schema_ref: str, data_name: str) -> list[Any]:
            found = collection.find_one({"schema_ref": schema_ref, "data_name": data_name})
            return [] if found is None else [found]

        return find, {"server": self.kind,
                      "server_version": self.client.server_info().get("version", "?")}

    def close(self) -> None:
        for name in self._databases:
            with contextlib.suppress(Exception):
                self.client.drop_database(name)


def mongo_rows(sizes: Sizes, work: Workspace, profile: Any, uri: str | None, *, batch: bool = True,
               single: bool = True, find: bool = True) -> list[Any]:
    """Rows 11.5 and 11.5a (``batch``), 11.6 (``single``) and 11.7 (``find``)."""
    from bench_records import query_rows, write_rows  # noqa: PLC0415

    sizes = dataclasses.replace(sizes, commits=sizes.mongo_commits, find_records=sizes.mongo_find_records,
                                find_queries=sizes.mongo_find_queries,
                                build_batch=sizes.mongo_find_records)  # one commit: adds check an empty view
    with mongo_server(uri) as (server_uri, kind):
        client: MongoClient = MongoClient(server_uri, serverSelectionTimeoutMS=10_000)
        target = MongoTarget(work, client, kind)
        try:
            rows = write_rows(target, sizes, profile, batch=batch, single=single)
            if find:
                rows += query_rows(target, sizes, profile, with_rebuild=False)
            for row in rows:
                row.extra["server"] = kind
            return rows
        finally:
            target.close()
            client.close()
