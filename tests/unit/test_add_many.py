"""``uow.data.add_many``: a batch gives what a loop of ``add`` gives, all or nothing, with one
existence query per chunk of keys (every backend)."""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Iterator
from typing import Any

import fsspec
import pytest
from fsspec.implementations.dirfs import DirFileSystem
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalstore_es import (
    AlreadyExistsError,
    ArgumentTypeError,
    ReadOnlyError,
    SignalStoreError,
    UnitOfWorkProvider,
    ValidationError,
)
from signalstore_es.api import records as rows
from signalstore_es.api.staging import StagedRecordAdd
from signalstore_es.testing import vocabulary as vocab
from tests.conftest import spike_times

# -- a loop of add and add_many, side by side ------------------------------------------------

#: the pool of names a generated batch draws from: small, so that batches repeat names, hit
#: committed and removed keys, and keys staged before the batch
NAMES = ("s0", "s1", "s2", "s3", "s4")
_EXAMPLES = itertools.count()


def _record(kind: str, name: str) -> Any:
    """One object of a generated batch: valid, or invalid in one of the ways add refuses."""
    makers = {
        "valid": lambda: vocab.session_record(name, animal="Animal1"),
        "bad value": lambda: vocab.session_record(name, animal="Animal1", session_date=5),
        "unknown property": lambda: vocab.session_record(name, animal="Animal1", colour="red"),
        "bad name": lambda: vocab.session_record(name + "__x", animal="Animal1"),
        "no schema_ref": lambda: vocab.session_record(name, animal="Animal1", schema_ref=vocab.OMIT),
        "has_file lie": lambda: vocab.session_record(name, animal="Animal1", has_file=True),
        "bad version": lambda: vocab.session_record(name, animal="Animal1", version_timestamp=5),
        "not a record": lambda: 5,
    }
    return makers[kind]()


KINDS = st.sampled_from(["valid"] * 6 + ["bad value", "unknown property", "bad name", "no schema_ref",
                                         "has_file lie", "bad version", "not a record"])
BATCHES = st.lists(st.tuples(KINDS, st.sampled_from(NAMES)), max_size=8)


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except SignalStoreError as err:
        return "error", err


def _loop(uow: Any, batch: list[Any], versioning_on: bool) -> tuple[str, Any]:
    """What a loop of add does: the keys, or (index of the failing object, its error)."""
    keys = []
    for index, obj in enumerate(batch):
        status, value = _outcome(lambda obj=obj: uow.data.add(obj, versioning_on=versioning_on))
        if status == "error":
            return "error", (index, value)
        keys.append(value)
    return "ok", keys


def _staged(uow: Any) -> list[tuple[Any, ...]]:
    """What the unit of work holds staged, with commit-time versions (placeholders) blanked."""
    out = []
    for op in uow._context.staging.operations:
        if isinstance(op, StagedRecordAdd):
            key = op.key if not op.is_stamped_at_commit else (op.key.schema_ref, op.key.data_name, "stamped")
            out.append(("add", key, op.record, op.blob, op.is_stamped_at_commit))
        else:
            out.append(("other", op.key))
    return out


def _unstamped_text(error: Exception) -> str:
    """An error message with commit-time version placeholders (the time of the call) blanked."""
    return re.sub(r"\d{4}-\d\d-\d\dT[0-9:.]+\+00:00", "<stamp>", str(error))


def _unstamped(keys: list[Any], versioning_on: bool) -> list[Any]:
    return [(k.schema_ref, k.data_name) if versioning_on else k for k in keys]


def _prepare_state(store: Any, project: str, prefix: str, committed: set[str], removed: set[str]) -> None:
    with store(project) as uow:
        for name in sorted(committed | removed):
            uow.data.add(vocab.session_record(prefix + name, animal="Animal1"))
        uow.commit()
        for name in sorted(removed):
            uow.data.remove("session", prefix + name)
        uow.commit()


def _before_the_batch(uow: Any, prefix: str, staged_add: str | None, staged_remove: str | None,
                      versioning_on: bool, committed: set[str]) -> None:
    """Work the unit of work did before the batch: an add of one name, a remove of another."""
    if staged_add is not None:
        _outcome(lambda: uow.data.add(vocab.session_record(prefix + staged_add, animal="Animal1"),
                                      versioning_on=versioning_on))
    if staged_remove is not None and staged_remove in committed:
        uow.data.remove("session", prefix + staged_remove)


def _with_prefix(batch: list[tuple[str, str]], prefix: str) -> list[Any]:
    return [_record(kind, prefix + name) for kind, name in batch]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=BATCHES, versioning_on=st.booleans(), committed=st.sets(st.sampled_from(NAMES)),
       removed=st.sets(st.sampled_from(NAMES)), staged_add=st.none() | st.sampled_from(NAMES),
       staged_remove=st.none() | st.sampled_from(NAMES))
def test_add_many_does_what_a_loop_of_add_does_or_nothing(store, project, backend_name, batch, versioning_on,
                                                          committed, removed, staged_add, staged_remove):
    if backend_name == "mongo" and next(_EXAMPLES) % 3:
        return  # a third of the examples on a server: each costs several round trips
    prefix = f"e{next(_EXAMPLES)}-"  # every example has names of its own in the shared project
    removed = removed - committed
    _prepare_state(store, project, prefix, committed, removed)
    with store(project) as uow:
        _before_the_batch(uow, prefix, staged_add, staged_remove, versioning_on, committed)
        before = _staged(uow)
        looped = _loop(uow, _with_prefix(batch, prefix), versioning_on)
        after_loop = _staged(uow)
        uow.rollback()
        _before_the_batch(uow, prefix, staged_add, staged_remove, versioning_on, committed)
        assert _staged(uow) == before
        status, result = _outcome(lambda: uow.data.add_many(_with_prefix(batch, prefix), versioning_on=versioning_on))
        if looped[0] == "ok":
            assert status == "ok", result
            assert _unstamped(result, versioning_on) == _unstamped(looped[1], versioning_on)
            assert _staged(uow) == after_loop
        else:
            index, error = looped[1]
            assert status == "error"
            assert type(result) is type(error)
            assert result.batch_index == index
            assert f"add_many object [{index}]" in str(result)
            assert _unstamped_text(error) in _unstamped_text(result)
            assert _staged(uow) == before  # all or nothing


# -- all or nothing, and errors that name the object --------------------------------------------


def test_a_failing_object_stages_nothing_and_the_error_names_its_index_and_key(store, project):
    with store(project) as uow:
        uow.data.add(vocab.session_record("before", animal="Animal1"))
        batch = [vocab.session_record(f"s{i}", animal="Animal1") for i in range(3)]
        batch.append(vocab.session_record("s9", animal="Animal1", session_date="yesterday"))
        with pytest.raises(ValidationError) as raised:
            uow.data.add_many(batch)
        assert str(raised.value).startswith("add_many object [3] ('session', 's9', 0): record ('session', 's9')")
        assert "nothing of the batch was staged" in str(raised.value)
        assert raised.value.batch_index == 3
        assert [op.key.data_name for op in uow._context.staging.operations] == ["before"]
        assert not uow.data.exists("session", "s0")
        assert uow.commit().event_count == 1


def test_an_object_that_cannot_be_keyed_is_named_by_its_index(store, project):
    with store(project) as uow:
        batch = [vocab.session_record("s0", animal="Animal1"), {"schema_ref": "session"}]
        with pytest.raises(ValidationError, match=r"^add_many object \[1\]: record has no 'data_name'"):
            uow.data.add_many(batch)
        assert len(uow._context.staging) == 0


def test_the_first_failure_in_batch_order_wins_across_kinds_of_failure(store, project):
    """A key clash at index 1 is reported before a parse failure at index 2 (as in a loop)."""
    with store(project) as uow:
        batch = [vocab.session_record("s0", animal="Animal1"), vocab.session_record("s0", animal="Animal1"),
                 {"schema_ref": "session"}]
        with pytest.raises(AlreadyExistsError, match=r"^add_many object \[1\] \('session', 's0', 0\)") as raised:
            uow.data.add_many(batch)
        assert raised.value.key.data_name == "s0"


def test_a_key_repeated_in_the_batch_or_committed_already_exists(store, project):
    with store(project) as uow:
        uow.data.add_many([vocab.session_record("s0", animal="Animal1")])
        uow.commit()
        with pytest.raises(AlreadyExistsError, match=r"object \[0\].*already exists"):
            uow.data.add_many([vocab.session_record("s0", animal="Animal1")])
        with pytest.raises(AlreadyExistsError, match="already staged in this unit of work"):
            uow.data.add_many([vocab.session_record("s1", animal="Animal1")] * 2, versioning_on=True)
        keys = uow.data.add_many([vocab.session_record("s0", animal="Animal1")], versioning_on=True)
        assert keys[0].is_versioned
        assert uow.commit().event_count == 1


def test_a_key_removed_in_this_unit_of_work_can_be_added_again_in_a_batch(store, project):
    with store(project) as uow:
        uow.data.add(vocab.session_record("s0", animal="Animal1"))
        uow.commit()
        uow.data.remove("session", "s0")
        uow.data.add_many([vocab.session_record("s0", animal="Animal1", session_notes="again")])
        assert uow.data.get("session", "s0")["session_notes"] == "again"
        uow.commit()
        assert [r["session_notes"] for r in uow.data.find({"data_name": "s0"})] == ["again"]


# -- what add_many accepts ---------------------------------------------------------------------


def test_a_batch_may_mix_records_and_data_objects_and_be_any_iterable(store, project):
    array = spike_times("u1", n=10)
    with store(project) as uow:
        keys = uow.data.add_many(obj for obj in [vocab.session_record("2024-04-28-AM-Animal1"), array])
        assert [k.data_name for k in keys] == ["2024-04-28-AM-Animal1", "u1"]
        receipt = uow.commit()
        loaded = uow.data.get("spike_times", "u1")
    assert receipt.event_count == 2
    assert loaded.values.tolist() == array.values.tolist()


def test_an_empty_batch_stages_nothing(store, project):
    with store(project) as uow:
        assert uow.data.add_many([]) == []
        assert uow.commit() is None


@pytest.mark.parametrize("batch", [vocab.session_record("s0"), "s0", b"s0", 5, spike_times("u1", n=3)],
                         ids=["a dict", "a str", "bytes", "an int", "a DataArray"])
def test_one_object_instead_of_a_batch_is_refused(store, project, batch):
    with store(project) as uow, pytest.raises(ArgumentTypeError, match="add_many takes an iterable of objects"):
        uow.data.add_many(batch)


def test_versioning_on_must_be_a_bool(store, project):
    with store(project) as uow, pytest.raises(ArgumentTypeError, match="versioning_on must be a bool"):
        uow.data.add_many([], versioning_on=1)


def test_a_read_only_view_refuses_add_many(store, project):
    with store(project) as uow, pytest.raises(ReadOnlyError):
        uow.as_of(1).data.add_many([vocab.session_record("s0")])


def test_add_many_logs_one_line_with_the_count(store, project, caplog):
    caplog.set_level(logging.INFO, logger="signalstore_es.api.data")
    with store(project) as uow:
        uow.data.add_many([vocab.session_record(f"s{i}", animal="Animal1") for i in range(3)])
    lines = [r for r in caplog.records if r.name == "signalstore_es.api.data"]
    assert [(r.msg, r.count, r.outcome) for r in lines] == [("data.add_many", 3, "ok")]


# -- one existence query per chunk ---------------------------------------------------------------


@pytest.fixture
def record_queries(store: Any, project: str, backend_name: str, request: pytest.FixtureRequest,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, list[str]]]:
    """(a provider, the queries it sends to the records view): on SQLite every
    ``find_rows("records", ...)``, on MongoDB every ``find`` command on ``records`` (a
    CommandListener on a client of its own)."""
    if backend_name == "sqlite":
        backend = store._backend(project)
        sent: list[str] = []
        original = backend.find_rows

        def counting(view: str, filter: Any, **options: Any) -> Any:
            if view == rows.VIEW:
                sent.append(repr(filter))
            return original(view, filter, **options)

        monkeypatch.setattr(backend, "find_rows", counting)
        yield store, sent
        return
    yield from _mongo_record_queries(request)


def _mongo_record_queries(request: pytest.FixtureRequest) -> Iterator[tuple[Any, list[str]]]:
    from pymongo import MongoClient, monitoring

    sent: list[str] = []

    class Listener(monitoring.CommandListener):
        def started(self, event: Any) -> None:
            if event.command_name == "find" and event.command.get("find") == rows.VIEW:
                sent.append(repr(event.command.get("filter")))

        def succeeded(self, event: Any) -> None: ...

        def failed(self, event: Any) -> None: ...

    server = request.getfixturevalue("mongo_server")
    client: Any = MongoClient(server.uri, serverSelectionTimeoutMS=10_000, event_listeners=[Listener()])
    blobs = request.getfixturevalue("tmp_path") / "listened"
    blobs.mkdir()
    provider = UnitOfWorkProvider(mongo_client=client, memory_store={},
                                  filesystem=DirFileSystem(str(blobs), fsspec.filesystem("file")))
    try:
        yield provider, sent
    finally:
        provider.close()
        client.close()


def test_keys_are_checked_with_one_query_per_chunk_not_per_record(record_queries, project):
    provider, sent = record_queries
    n = 2 * rows.KEYS_PER_QUERY + 7
    with provider(project) as uow:
        uow.data.add(vocab.session_record("s-0000003", animal="Animal1"))  # staged: decided without a query
        uow.commit()
        sent.clear()
        uow.data.add_many([vocab.session_record(f"s-{i:07d}", animal="Animal1") for i in range(4, n)])
        assert len(sent) == math.ceil((n - 4) / rows.KEYS_PER_QUERY)
        assert all("$in" in query for query in sent)
        with pytest.raises(AlreadyExistsError, match=r"object \[1\]"):
            uow.data.add_many([vocab.session_record("s-9999999", animal="Animal1"),
                               vocab.session_record("s-0000003", animal="Animal1")])
        sent.clear()
        uow.data.add(vocab.session_record("s-8888888", animal="Animal1"))
        assert len(sent) == 1  # add keeps its single-key probe
