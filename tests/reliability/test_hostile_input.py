"""Hostile input: a catalogue of bad calls, each refused clearly without changing anything,
and property-based fuzzing of record validation and of the query translator.

Every case in :mod:`tests.reliability.hostile_cases` runs against the same small store (per
backend): its logical content -- the log, live and removed records, domain models, memory
objects, the blob files with the hashes of their bytes, and the folders under the root -- is
snapshotted before and after the call, and anything the call left staged would be committed
by a ``commit()`` right after it (which must find nothing to commit).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalstore_es import UnitOfWorkProvider
from signalstore_es.domain.values import MAX_RECORD_BYTES
from signalstore_es.errors import SignalStoreError
from signalstore_es.testing import vocabulary as vocab
from tests.conftest import BACKENDS, spike_times
from tests.reliability.harness import (
    StoreSpec,
    add_vocabulary,
    blob_dir,
    blob_files,
    blob_relative_path,
    opened,
    referenced_blobs,
)
from tests.reliability.hostile_cases import Case, all_cases


@attrs.frozen(kw_only=True)
class HostileStore:
    spec: StoreSpec
    provider: UnitOfWorkProvider
    project: str
    u1_file: Path  #: the blob file of array "u1", which the damage cases harm (and restore)


@pytest.fixture(scope="module", params=BACKENDS)
def hostile_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileStore]:
    """Vocabulary, Animal1, Probe1, a session, array u1, removed record Removed1, memory object 'kept'."""
    spec = _spec(request, tmp_path_factory)
    project = f"hostile{uuid.uuid4().hex[:10]}"
    with opened(spec, actor="tester") as provider:
        add_vocabulary(provider, project)
        with provider(project) as uow:
            uow.data.add(spike_times("u1"))
            uow.data.add(vocab.animal_record("Removed1"))
            uow.memory.add("animal", "kept", {"a": 1})
            uow.commit(message="contents")
            uow.data.remove("animal", "Removed1")
            uow.commit(message="a removal")
            (address, extension), = referenced_blobs(uow.log()).items()
        yield HostileStore(spec=spec, provider=provider, project=project,
                           u1_file=blob_dir(spec, project) / blob_relative_path(address, extension))
    if spec.backend == "mongo":
        from pymongo import MongoClient

        with MongoClient(spec.mongo_uri) as client:
            client.drop_database(project)


def _spec(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> StoreSpec:
    if request.param == "sqlite":
        root = str(tmp_path_factory.mktemp("hostile") / "store")
        return StoreSpec(backend="sqlite", root=root, blob_root=root)
    server = request.getfixturevalue("mongo_server")
    return StoreSpec(backend="mongo", mongo_uri=server.uri, blob_root=str(tmp_path_factory.mktemp("blobs")))


def snapshot(store: HostileStore) -> tuple[Any, ...]:
    """The store's logical content, as far as any call could change it."""
    with store.provider(store.project) as uow:
        logical = (uow.log(), uow.data.find(sort=[("schema_ref", 1), ("data_name", 1)]),
                   uow.data.list_marked_for_deletion(), uow.domain_models.find())
    memory = {project: {key: id(obj) for key, obj in objects.items()}
              for project, objects in store.provider._memory_store.items()}  # back door: no listing API
    folders = sorted(os.listdir(store.spec.blob_root))
    return (*logical, memory, blob_files(store.spec, store.project), folders)


@contextlib.contextmanager
def damaged_blob(store: HostileStore, damage: str | None) -> Iterator[None]:
    """Harm the file of "u1" for the duration of a case, then put its bytes back."""
    if damage is None:
        yield
        return
    original = store.u1_file.read_bytes()
    data = bytearray(original)
    if damage == "truncated":
        data = data[:len(data) // 2]
    elif damage == "emptied":
        data = bytearray()
    elif damage == "garbage":
        data = bytearray(os.urandom(len(data)))
    else:
        data[10 if damage == "header-flipped" else len(data) // 2] ^= 0xFF
    store.u1_file.chmod(0o644)
    store.u1_file.write_bytes(bytes(data))
    try:
        yield
    finally:
        store.u1_file.write_bytes(original)


CASES = all_cases()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_hostile_input_raises_a_clear_signal_store_error_and_changes_nothing(
        case: Case, hostile_store: HostileStore, request: pytest.FixtureRequest) -> None:
    bug = case.bug or (case.mongo_bug if hostile_store.spec.backend == "mongo" else None)
    if bug:
        request.applymarker(pytest.mark.xfail(strict=True, reason=bug))
    with damaged_blob(hostile_store, case.damage):
        before = snapshot(hostile_store)
        with hostile_store.provider(hostile_store.project) as uow:
            with pytest.raises(case.error) as raised:
                case.act(uow, hostile_store)
            left_staged = uow.commit(message="a hostile call may leave nothing staged")
        after = snapshot(hostile_store)
    says_what_failed = case.mentions.lower() in str(raised.value).lower()
    assert (says_what_failed, left_staged, after) == (True, None, before), str(raised.value)


def test_the_catalogue_holds_at_least_fifty_cases() -> None:
    assert len(CASES) >= 50


@pytest.fixture
def store_with_records(store: UnitOfWorkProvider, project: str) -> UnitOfWorkProvider:
    with store(project) as uow:
        uow.data.add(vocab.animal_record("Animal1", notes="first"))
        uow.data.add(vocab.animal_record("Animal2", notes="second", weight=21.5, weight_unit="g"))
        uow.data.add(vocab.session_record("2024-04-28-AM-Animal1"))
        uow.data.add(spike_times("u1"))
        uow.commit()
    return store


def test_a_record_just_under_the_size_limit_is_stored_and_read_back(store: UnitOfWorkProvider, project: str) -> None:
    """The limit leaves room for what the event and the views add (MongoDB: 16 MiB per document)."""
    notes = "x" * (MAX_RECORD_BYTES - 64 * 1024)
    with store(project) as uow:
        uow.data.add(vocab.animal_record("Large1", notes=notes))
        uow.commit(message="a record near the limit")
    with store(project) as uow:
        assert uow.data.get("animal", "Large1")["notes"] == notes
    assert store.verify(project).ok


# -- fuzzing ------------------------------------------------------------------------------------
_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8) | st.binary(max_size=4)
            | st.datetimes() | st.datetimes(timezones=st.timezones()) | st.complex_numbers(max_magnitude=10)
            | st.decimals(allow_nan=True) | st.just(object()))
_KEYS = st.sampled_from(["notes", "session_notes", "duration", "data_name", "schema_ref", "version_timestamp",
                         "has_file", "time_of_save", "_blob", "_key", "$where", "a.b", "", "__class__"]) \
    | st.text(max_size=6) | st.integers(-3, 3)
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3)
                       | st.tuples(inner) | st.frozensets(st.integers(), max_size=2), max_leaves=12)
FUZZ = settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                         HealthCheck.too_slow])


@FUZZ
@given(attrs_=st.dictionaries(_KEYS, _VALUES, max_size=4))
def test_random_attrs_through_add_are_stored_or_refused_with_a_signal_store_error(
        store: UnitOfWorkProvider, project: str, attrs_: dict[Any, Any]) -> None:
    record = {**vocab.session_record("fuzzed-session"), **attrs_}
    with store(project) as uow, contextlib.suppress(SignalStoreError):  # anything else fails the test
        uow.data.add(record)


_FILTER_KEYS = st.sampled_from(
    ["data_name", "schema_ref", "age", "notes", "animal_data_ref.data_name", "tags.0", "$and", "$or", "$nor",
     "$not", "$eq", "$ne", "$gt", "$lte", "$in", "$nin", "$exists", "$regex", "$options", "$size", "$all",
     "$elemMatch", "$type", "$where", "$function", "$expr", "$text", "$mod", "$comment", ""]) | st.text(max_size=4)
_FILTER_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6)
    | st.datetimes() | st.datetimes(timezones=st.timezones()) | st.just(object()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_FILTER_KEYS, inner, max_size=3), max_leaves=10)


_FIELDS = st.sampled_from(["data_name", "schema_ref", "age", "notes", "tags", "animal_data_ref.data_name",
                           "tags.0", "time_of_save", "version_timestamp", "_blob.address"])
_OPERATORS = st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex",
                              "$options", "$size", "$all", "$elemMatch", "$type", "$not", "$mod", "$where"])
_CONDITIONS = _FILTER_VALUES | st.dictionaries(_OPERATORS, _FILTER_VALUES, min_size=1, max_size=2)
_SHAPED_FILTERS = st.recursive(
    st.dictionaries(_FIELDS, _CONDITIONS, max_size=2),
    lambda inner: st.dictionaries(st.sampled_from(["$and", "$or", "$nor"]), st.lists(inner, max_size=2),
                                  min_size=1, max_size=1), max_leaves=6)


@FUZZ
@given(filter_=st.dictionaries(_FILTER_KEYS, _FILTER_VALUES, max_size=3) | _SHAPED_FILTERS,
       as_of=st.sampled_from([None, 1, 2]))
def test_random_filters_through_find_return_a_list_or_raise_a_signal_store_error(
        store_with_records: UnitOfWorkProvider, project: str, filter_: dict[Any, Any], as_of: int | None) -> None:
    with store_with_records(project) as uow:
        try:
            found: Any = uow.data.find(filter_, as_of=as_of)
        except SignalStoreError:
            found = []
    assert isinstance(found, list)


def test_sql_looking_strings_in_a_filter_are_plain_data(store_with_records: UnitOfWorkProvider, project: str) -> None:
    with store_with_records(project) as uow:
        found = uow.data.find({"data_name": "x' OR '1'='1"}) + uow.data.find({"notes": '"); DROP TABLE commits; --'})
        everything = uow.data.find()
    assert (found, len(everything)) == ([], 4)
