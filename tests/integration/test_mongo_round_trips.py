"""Round trips of the MongoDB backend: how many commands a commit sends, counted with a
pymongo ``CommandListener``, and that the checkpoints it saves late are still right.

The bounds are counts of commands, never timings. A commit of one record needs at most
seven (``uow.commit()`` only): the head read (none when the committer knows the head from
its previous commit), the commit document, one read of the checkpoints, one read of the
rows it touches, one insert per view collection it changes (current rows and their
history) and one write of every checkpoint. A batch needs no more, whatever its size, as
long as it fits one document (no staged chunks) and adds new rows.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.implementations.dirfs import DirFileSystem
from pymongo import MongoClient, monitoring
from pymongo.errors import AutoReconnect

from projections import BUILTIN_PROJECTORS, ProjectionRunner
from signalstore_es import UnitOfWorkProvider
from signalstore_es.adapters.mongo import MongoBackend, views
from signalstore_es.adapters.mongo import backend as backend_module
from signalstore_es.adapters.mongo.views import BULK_SIZE, MongoViewWriter
from signalstore_es.domain.events import RecordRemoved
from signalstore_es.domain.keys import RecordKey
from signalstore_es.errors import BackendUnavailableError, ViewsBehindError
from signalstore_es.testing import vocabulary
from signalstore_es.testing.contracts import chain, record_added

pytestmark = pytest.mark.mongo

#: uow.commit() of one new record (see the module docstring)
SINGLE_RECORD_COMMANDS = 7
#: uow.commit() of a batch of new records that fits one commit document
BATCH_COMMANDS = 7
#: large enough to need several prefetch queries before they were merged (1,000 ids each)
BATCH_RECORDS = 1_500


class CommandLog(monitoring.CommandListener):
    """Records ``(command, collection)`` of every command sent while :attr:`on` is set."""

    def __init__(self) -> None:
        self.on = False
        self.commands: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.on:
            self.commands.append((event.command_name, str(event.command.get(event.command_name))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def count(self, action: Any) -> Counter[tuple[str, str]]:
        """The commands ``action()`` sends, by (command, collection)."""
        self.commands.clear()
        self.on = True
        try:
            action()
        finally:
            self.on = False
        return Counter(self.commands)


@pytest.fixture(scope="module")
def listener() -> CommandLog:
    return CommandLog()


@pytest.fixture(scope="module")
def client(mongo_server: Any, listener: CommandLog) -> Iterator[MongoClient[Any]]:
    created: MongoClient[Any] = MongoClient(mongo_server.uri, serverSelectionTimeoutMS=10_000,
                                            event_listeners=[listener])
    yield created
    created.close()


@pytest.fixture
def project(client: MongoClient[Any]) -> Iterator[str]:
    name = f"r{uuid.uuid4().hex[:12]}"
    yield name
    client.drop_database(name)


@pytest.fixture
def provider(client: MongoClient[Any], tmp_path: Path, project: str) -> Iterator[UnitOfWorkProvider]:
    filesystem = DirFileSystem(str(tmp_path), fsspec.filesystem("file"))
    created = UnitOfWorkProvider(mongo_client=client, filesystem=filesystem, memory_store={})
    with created(project) as uow:
        for model in vocabulary.all_models():
            uow.domain_models.add(model)
        uow.commit(message="vocabulary")
    yield created
    created.close()


def session(name: str) -> dict[str, Any]:
    return vocabulary.session_record(name, animal="Animal1", session_notes="counted")


def commit_one(uow: Any, name: str) -> None:
    uow.data.add(session(name))
    uow.commit()


def commands_of_commit(listener: CommandLog, uow: Any) -> Counter[tuple[str, str]]:
    """The commands of ``uow.commit()`` alone (what was staged before is not counted)."""
    return listener.count(uow.commit)


# -- counting ------------------------------------------------------------------------------------
def test_a_single_record_commit_sends_at_most_seven_commands(provider, project, listener):
    with provider(project) as uow:
        commit_one(uow, "warm-up")  # the first commit of a backend creates the log's indexes
        uow.data.add(session("counted"))
        sent = commands_of_commit(listener, uow)
    assert sum(sent.values()) <= SINGLE_RECORD_COMMANDS, sent
    assert sent[("find", "events")] <= 1, sent  # the head, if the committer asks; never the predecessor
    assert (sent[("find", "checkpoints")], sent[("update", "checkpoints")]) == (1, 1), sent


def test_commands_per_commit_do_not_grow_with_the_log(provider, project, listener):
    with provider(project) as uow:
        commit_one(uow, "warm-up")
        uow.data.add(session("early"))
        early = commands_of_commit(listener, uow)
        for n in range(10):
            commit_one(uow, f"filler-{n}")
        uow.data.add(session("late"))
        late = commands_of_commit(listener, uow)
    assert late == early


def test_a_batch_commit_sends_as_many_commands_as_a_single_one(provider, project, listener):
    with provider(project) as uow:
        commit_one(uow, "warm-up")
        for n in range(BATCH_RECORDS):
            uow.data.add(session(f"batch-{n:05d}"))
        sent = commands_of_commit(listener, uow)
    assert sum(sent.values()) <= BATCH_COMMANDS, sent
    assert sent[("find", "records")] == 1, sent  # one prefetch query for every row it adds


def test_catching_up_views_that_are_up_to_date_sends_two_commands(client, project, listener):
    backend, runner = MongoBackend(client, project), ProjectionRunner(BUILTIN_PROJECTORS)
    for commit in chain((record_added("s1"),), (record_added("s2"),)):
        backend.append(commit, runner)
    sent = listener.count(lambda: backend.catch_up(runner))
    assert sent == Counter({("find", "checkpoints"): 1, ("find", "events"): 1})


def test_an_append_after_reading_the_head_does_not_read_the_predecessor_again(client, project, listener):
    backend, runner = MongoBackend(client, project), ProjectionRunner(BUILTIN_PROJECTORS)
    first, second, third = chain((record_added("s1"),), (record_added("s2"),), (record_added("s3"),))
    backend.append(first, runner)
    backend.append(second, runner)  # seen: its own previous commit
    backend.head()
    sent = listener.count(lambda: backend.append(third, runner))  # seen: the head just read
    assert sent[("find", "events")] == 0, sent


@pytest.mark.parametrize(("ferretdb", "bulks"), [(False, 1), (True, -(-30 // BULK_SIZE))])
def test_changes_of_many_rows_go_in_one_bulk_per_collection_except_on_ferretdb(
        client, project, listener, monkeypatch, ferretdb, bulks):
    monkeypatch.setattr(backend_module, "is_ferretdb", lambda _client: ferretdb)
    backend, runner = MongoBackend(client, project), ProjectionRunner(BUILTIN_PROJECTORS)
    names = [f"s{n:02d}" for n in range(30)]
    adding, removing = chain(tuple(record_added(name) for name in names),
                             tuple(RecordRemoved(key=RecordKey(schema_ref="session", data_name=name), generation=1)
                                   for name in names))
    backend.append(adding, runner)
    sent = listener.count(lambda: backend.append(removing, runner))
    assert (sent[("update", "records")], sent[("update", "record_versions")]) == (bulks, bulks), sent
    removed = [row["data_name"] for row in backend.find_rows("records", {}) if row["time_of_removal"] is not None]
    assert sorted(removed) == names


# -- checkpoints saved late are still right ------------------------------------------------------
def checkpoints(client: MongoClient[Any], project: str) -> dict[str, int]:
    return {d["_id"]: d["seq"] for d in client[project]["checkpoints"].find()}


def test_an_append_saves_every_views_checkpoint(client, project):
    backend, runner = MongoBackend(client, project), ProjectionRunner(BUILTIN_PROJECTORS)
    for commit in chain((record_added("s1"),), (record_added("s2"),)):
        backend.append(commit, runner)
    assert checkpoints(client, project) == dict.fromkeys(runner.views, 2)


def test_a_replay_that_fails_keeps_the_checkpoints_saved_along_the_way(client, project, monkeypatch):
    backend, runner = MongoBackend(client, project), ProjectionRunner(BUILTIN_PROJECTORS)
    for commit in chain(*[(record_added(f"s{n}"),) for n in range(1, 6)]):
        backend.append(commit, runner)
    monkeypatch.setattr(views, "CHECKPOINT_EVERY", 2)
    set_checkpoint = MongoViewWriter.set_checkpoint

    def lost_at_seq_5(self: MongoViewWriter, view: str, seq: int) -> None:
        if seq == 5:
            raise AutoReconnect("connection closed")
        set_checkpoint(self, view, seq)

    monkeypatch.setattr(MongoViewWriter, "set_checkpoint", lost_at_seq_5)
    with pytest.raises(BackendUnavailableError):
        backend.rebuild(runner)
    # saved before commits 3 and 5 were fed; commit 5 never got its checkpoint
    assert checkpoints(client, project) == dict.fromkeys(runner.views, 4)


def test_views_whose_checkpoints_were_not_saved_are_caught_up(client, project, monkeypatch):
    backend, runner = MongoBackend(client, project), ProjectionRunner(BUILTIN_PROJECTORS)
    first, second = chain((record_added("s1"),), (record_added("s2"),))
    backend.append(first, runner)

    def lost_connection(self: MongoViewWriter) -> None:
        raise AutoReconnect("connection closed")

    with monkeypatch.context() as patched:
        patched.setattr(MongoViewWriter, "save_checkpoints", lost_connection)
        with pytest.raises(ViewsBehindError):
            backend.append(second, runner)  # its rows are written, its checkpoints are not
    assert checkpoints(client, project) == dict.fromkeys(runner.views, 1)
    backend.catch_up(runner)
    assert checkpoints(client, project) == dict.fromkeys(runner.views, 2)
    assert sorted(r["data_name"] for r in backend.find_rows("records", {})) == ["s1", "s2"]
