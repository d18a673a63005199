"""``MongoBackend`` against a real MongoDB-protocol server (see ``tests/mongo_server.py``).

The storage contract (``tests/contract/test_mongo.py``) covers what every backend must do;
these tests cover what is particular to MongoDB: commits larger than a document, repair of a
crash between append and projection, idempotent projection, the query language, error
translation and the write concern. Back-door checks read the collections with pymongo.

Differences between FerretDB 1.24 (SQLite backend, used when no MongoDB is at hand) and
MongoDB found while writing these tests:

- ``go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`` builds a binary that
  panics at start-up (the module lacks the generated ``build/version/version.txt``);
  ``scripts/install_ferretdb.sh`` builds it from a copy of the module with that file written.
- A duplicate key error does not say which index refused the write (no ``keyPattern`` or
  ``keyValue`` in the details), so the backend asks the log whether its ``commit_id`` landed
  instead of reading the error.
- A multi-statement ``update``/``delete`` command (``bulk_write``) takes time quadratic in
  the number of statements: 50 updates take half a second, 100 time out after a minute.
  The view writer sends changed rows in bulks of ``BULK_SIZE`` (20).
- ``$elemMatch`` is unreliable: with fields of array elements (``{"units": {"$elemMatch":
  {"id": 2, "quality": "good"}}}``) it fails with "unknown operator: id"; with operators
  (``{"scores": {"$elemMatch": {"$gte": 80, "$lt": 85}}}``) it matches documents where
  different elements satisfy each condition; ``{"$elemMatch": {"id": {"$eq": 2}}}`` and an
  exact sub-document match (``{"units": {"id": 2, "quality": "good"}}``) match nothing. The
  ``$elemMatch`` test is therefore a strict xfail on FerretDB.
- One ``createIndexes`` command naming several indexes that all exist already crashes the
  connection (a panic in FerretDB: "slice bounds out of range"); the backend creates its
  indexes one per command.
- A unique index violated by an update or replace (not an insert) is reported as
  ``InternalError`` (code 1), not as a duplicate key error (code 11000).
- Projection operators such as ``{"events": {"$slice": 1}}`` are not implemented.
- Writing and reading tens of megabytes is about ten times slower than on MongoDB, which
  is why the >16 MiB commit is built once per module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
import pytest
from pymongo import MongoClient
from pymongo.errors import AutoReconnect

from projections import BUILTIN_PROJECTORS, ProjectionRunner
from signalstore_es.adapters.mongo import (
    CommitAlreadyLandedError,
    MongoBackend,
    ViewsBehindError,
    documents,
    write_concern_for,
)
from signalstore_es.adapters.mongo.documents import MAX_DOCUMENT_BYTES, encode_commit
from signalstore_es.adapters.mongo.views import MongoViewWriter
from signalstore_es.domain.commits import GENESIS_HASH, Commit, CommitDraft, commit_hash
from signalstore_es.domain.events import (
    BlobPurged,
    BlobRef,
    DomainModelAdded,
    DomainModelRemoved,
    Event,
    RecordAdded,
    RecordPurged,
    RecordRemoved,
    RecordRestored,
)
from signalstore_es.domain.keys import RecordKey
from signalstore_es.errors import (
    BackendUnavailableError,
    CommitOutcomeUnknownError,
    IntegrityError,
    ValidationError,
)
from signalstore_es.ports.storage import SeqTakenError

pytestmark = pytest.mark.mongo

T0 = datetime(2024, 4, 28, 9, 0, tzinfo=UTC)
BIG_BATCH = 30_000
FERRETDB_ELEM_MATCH = ("FerretDB 1.24 refuses $elemMatch on fields of array elements "
                       "('unknown operator: id') and matches other $elemMatch queries wrongly")
VIEW_COLLECTIONS = ("records", "record_versions", "domain_models", "domain_model_versions",
                    "purged_blobs", "purged_blob_versions")


class Log:
    """Seals drafts one after another into a hash chain."""

    def __init__(self) -> None:
        self.seq, self.prev_hash = 0, GENESIS_HASH

    def next(self, *events: Event) -> Commit:
        draft = CommitDraft(commit_id=str(uuid.uuid4()), committed_at=T0 + timedelta(seconds=self.seq + 1),
                            actor="tester", message=f"commit {self.seq + 1}", library_version="test",
                            events=events)
        commit = draft.seal(seq=self.seq + 1, prev_hash=self.prev_hash)
        self.seq, self.prev_hash = commit.seq, commit.hash
        return commit


def key(name: str, version: Any = 0) -> RecordKey:
    return RecordKey(schema_ref="spike_times", data_name=name, version_timestamp=version)


def blob(letter: str) -> BlobRef:
    return BlobRef(address="blake3:" + letter * 64, adapter="xarray.dataarray.netcdf", file_format="netcdf",
                   extension=".nc", size=1024, shape=(3, 4), dtype="float64")


def added(name: str, *, address: str | None = None, **record: Any) -> RecordAdded:
    fields = {"animal": "Animal1", "n_spikes": 12, "recorded_at": T0, "tags": ["a", name],
              "units": [{"id": 1, "quality": "good"}, {"id": 2, "quality": "noise"}],
              "stats": {"mean": 1.5, "site": {"region": "CA1"}}, **record}
    return RecordAdded(key=key(name), record=fields, blob=None if address is None else blob(address))


def model_added(name: str) -> DomainModelAdded:
    return DomainModelAdded(schema_name=name, model={"schema_name": name, "schema_type": "data"},
                            json_schema='{"type": "object"}')


def history_of_every_kind() -> list[tuple[Event, ...]]:
    """Batches that use every event type, including changes of a row inside one commit."""
    return [
        (model_added("spike_times"), model_added("session")),
        (added("unit1", address="a"), added("unit2", address="b", n_spikes=40),
         added("unit3", units=[{"id": 2, "quality": "good"}])),
        (RecordRemoved(key=key("unit1"), generation=2), RecordRemoved(key=key("unit3"), generation=2),
         RecordRestored(key=key("unit3"), generation=2)),
        (RecordPurged(key=key("unit1"), generation=2), BlobPurged(address="blake3:" + "a" * 64),
         DomainModelRemoved(schema_name="session")),
        (added("unit1", address="a", n_spikes=7),),
        (RecordRemoved(key=key("unit3"), generation=2),),
    ]


def raw_views(client: MongoClient[Any], project: str) -> dict[str, list[dict[str, Any]]]:
    """Every document of every view and history collection, internal fields included."""
    return {name: list(client[project][name].find({}, sort=[("_id", 1)])) for name in VIEW_COLLECTIONS}


@pytest.fixture(scope="module")
def client(mongo_server: Any) -> Iterator[MongoClient[Any]]:
    created: MongoClient[Any] = MongoClient(mongo_server.uri, serverSelectionTimeoutMS=10_000)
    yield created
    created.close()


@pytest.fixture(scope="module")
def is_ferretdb(client: MongoClient[Any]) -> bool:
    return "ferretdbVersion" in client.admin.command("buildInfo")


@pytest.fixture
def project(client: MongoClient[Any]) -> Iterator[str]:
    name = f"m{uuid.uuid4().hex[:12]}"
    yield name
    client.drop_database(name)


@pytest.fixture
def backend(client: MongoClient[Any], project: str) -> MongoBackend:
    return MongoBackend(client, project)


@pytest.fixture
def runner() -> ProjectionRunner:
    return ProjectionRunner(BUILTIN_PROJECTORS)


@pytest.fixture
def filled(backend: MongoBackend, runner: ProjectionRunner) -> list[Commit]:
    """The backend after appending :func:`history_of_every_kind`; returns the commits."""
    log = Log()
    commits = [log.next(*batch) for batch in history_of_every_kind()]
    for commit in commits:
        backend.append(commit, runner)
    return commits


@pytest.fixture(scope="module")
def big(client: MongoClient[Any]) -> Iterator[tuple[MongoBackend, Commit]]:
    """A project holding one commit of BIG_BATCH events, larger than a MongoDB document."""
    project = f"big{uuid.uuid4().hex[:12]}"
    events = [added(f"u{i}", notes="n" * 200, index=i) for i in range(BIG_BATCH)]  # ~18 MB
    commit = Log().next(*events)
    backend = MongoBackend(client, project)
    backend.append(commit, ProjectionRunner(BUILTIN_PROJECTORS))
    yield backend, commit
    client.drop_database(project)


# -- the log ----------------------------------------------------------------------------------------
def test_consecutive_appends_build_a_gapless_log(backend, runner):
    log = Log()
    for name in ("u1", "u2", "u3"):
        backend.append(log.next(added(name)), runner)
    assert [c.seq for c in backend.read_commits()] == [1, 2, 3]


def test_a_second_backend_on_the_same_project_continues_the_log(backend, runner, client, project):
    log = Log()
    backend.append(log.next(added("u1")), runner)
    MongoBackend(client, project).append(log.next(added("u2")), runner)
    assert [c.seq for c in backend.read_commits()] == [1, 2]


def test_append_at_a_taken_seq_raises_seq_taken_error(backend, runner):
    backend.append(Log().next(added("u1")), runner)
    with pytest.raises(SeqTakenError):
        backend.append(Log().next(added("u2")), runner)


def test_append_after_a_missing_seq_raises_seq_taken_error(backend, runner):
    log = Log()
    log.next(added("u1"))  # sealed at seq 1, never appended
    with pytest.raises(SeqTakenError):
        backend.append(log.next(added("u2")), runner)


def test_commits_read_back_equal_to_the_appended_ones(backend, filled):
    assert list(backend.read_commits()) == filled


def test_read_back_commits_recompute_the_stored_hashes(backend, filled):
    assert [commit_hash(c) for c in backend.read_commits()] == [c.hash for c in filled]


def test_find_commit_reads_back_a_commit_with_versioned_keys(backend, runner):
    commit = Log().next(RecordAdded(key=key("u1", T0), record={"at": T0}))
    backend.append(commit, runner)
    assert backend.find_commit(commit.commit_id) == commit


def test_repeating_an_append_that_landed_returns_normally(backend, runner):
    commit = Log().next(added("u1"))
    backend.append(commit, runner)
    backend.append(commit, runner)
    assert [c.commit_id for c in backend.read_commits()] == [commit.commit_id]


def test_the_same_commit_id_at_another_seq_raises_commit_already_landed(backend, runner):
    log = Log()
    first = log.next(added("u1"))
    backend.append(first, runner)
    again = CommitDraft(commit_id=first.commit_id, committed_at=first.committed_at, actor="tester",
                        message=None, library_version="test", events=(added("u2"),))
    with pytest.raises(CommitAlreadyLandedError, match="seq 1"):
        backend.append(again.seal(seq=2, prev_hash=first.hash), runner)


def test_a_wrong_prev_hash_is_refused(backend, runner):
    backend.append(Log().next(added("u1")), runner)
    stray = CommitDraft(commit_id=str(uuid.uuid4()), committed_at=T0, actor="tester", message=None,
                        library_version="test", events=(added("u2"),)).seal(seq=2, prev_hash="blake3:bad")
    with pytest.raises(IntegrityError, match="prev_hash"):
        backend.append(stray, runner)


def test_append_creates_the_unique_commit_id_index(backend, runner, client, project):
    backend.append(Log().next(added("u1")), runner)
    indexes = client[project]["events"].index_information().values()
    assert any(i["key"] == [("commit_id", 1)] and i.get("unique") for i in indexes)


# -- commits larger than one document ---------------------------------------------------------------
def test_a_batch_larger_than_a_document_reads_back_whole(big):
    backend, commit = big
    assert list(backend.read_commits()) == [commit]


def test_a_batch_larger_than_a_document_is_stored_as_a_header_and_chunks(big, client):
    backend, _ = big
    stored = client[backend.project]["events"].find_one({"_id": 1}, projection={"chunks": 1, "events": 1})
    assert (stored["chunks"] >= 2, stored["events"]) == (True, [])


def test_every_chunk_of_a_batch_larger_than_a_document_fits_in_one(big):
    _, commit = big
    chunks = encode_commit(commit, written_at=T0).chunks
    assert max(len(bson.encode(chunk)) for chunk in chunks) < MAX_DOCUMENT_BYTES


def test_the_views_hold_every_record_of_a_batch_larger_than_a_document(big, client):
    backend, _ = big
    assert client[backend.project]["records"].estimated_document_count() == BIG_BATCH


# Staging logic with small limits, so that a few kilobytes make a chunked commit.
@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "INLINE_LIMIT_BYTES", 4096)
    monkeypatch.setattr(documents, "CHUNK_LIMIT_BYTES", 2048)


def chunked(log: Log, count: int = 20) -> Commit:
    return log.next(*(added(f"c{i}") for i in range(count)))


def test_a_chunked_commit_reads_back_equal(backend, runner, small_chunks):
    commit = chunked(Log())
    backend.append(commit, runner)
    assert list(backend.read_commits()) == [commit]


def test_chunks_without_their_commit_document_are_invisible(backend, client, project, small_chunks):
    client[project]["event_chunks"].insert_many(encode_commit(chunked(Log()), written_at=T0).chunks)
    assert (backend.head().seq, list(backend.read_commits())) == (0, [])


def test_chunks_without_their_commit_document_are_orphans(backend, client, project, small_chunks):
    chunks = encode_commit(chunked(Log()), written_at=T0).chunks
    client[project]["event_chunks"].insert_many(chunks)
    assert backend.orphan_chunk_ids(T0 + timedelta(seconds=1)) == sorted(c["_id"] for c in chunks)


def test_orphans_younger_than_the_cutoff_are_not_listed(backend, client, project, small_chunks):
    client[project]["event_chunks"].insert_many(encode_commit(chunked(Log()), written_at=T0).chunks)
    assert backend.orphan_chunk_ids(T0) == []


def test_chunks_of_an_attempt_that_lost_its_seq_become_orphans(
        backend, runner, client, project, small_chunks):
    backend.append(Log().next(added("winner")), runner)
    loser = chunked(Log())
    with pytest.raises(SeqTakenError):
        backend.append(loser, runner)
    assert backend.orphan_chunk_ids(datetime.now(UTC) + timedelta(days=1)) == sorted(
        c["_id"] for c in client[project]["event_chunks"].find({"seq": 1}))


def test_chunks_of_a_landed_commit_are_not_orphans(backend, runner, small_chunks):
    backend.append(chunked(Log()), runner)
    assert backend.orphan_chunk_ids(datetime.now(UTC) + timedelta(days=1)) == []


def test_deleting_orphans_spares_the_chunks_of_a_landed_commit(
        backend, runner, client, project, small_chunks):
    backend.append(chunked(Log()), runner)
    staged = [c["_id"] for c in client[project]["event_chunks"].find({}, projection={"_id": 1})]
    assert (len(staged) > 1, backend.delete_orphan_chunks(staged)) == (True, 0)


def test_deleting_orphans_removes_the_chunks_of_a_commit_that_never_landed(backend, client, project,
                                                                          small_chunks):
    chunks = encode_commit(chunked(Log()), written_at=T0).chunks
    client[project]["event_chunks"].insert_many(chunks)
    assert backend.delete_orphan_chunks([c["_id"] for c in chunks]) == len(chunks)


# -- views ------------------------------------------------------------------------------------------
def test_views_after_rebuild_equal_the_incrementally_projected_views(
        backend, runner, filled, client, project):
    before = raw_views(client, project)
    backend.rebuild(runner)
    assert raw_views(client, project) == before


def test_rebuild_counts_the_replayed_commits_and_events(backend, runner, filled):
    assert backend.rebuild(runner) == (len(filled), sum(len(c.events) for c in filled))


def test_catch_up_repairs_a_commit_that_was_never_projected(backend, runner, client, project):
    log = Log()
    backend.append(log.next(added("u1")), runner)
    client[project]["events"].insert_one(encode_commit(log.next(added("u2")), written_at=T0).document)
    backend.catch_up(runner)
    assert sorted(r["data_name"] for r in backend.find_rows("records", {})) == ["u1", "u2"]


def test_reapplying_commits_after_a_lost_checkpoint_changes_nothing(backend, runner, filled, client, project):
    before = raw_views(client, project)
    client[project]["checkpoints"].update_many({}, {"$set": {"seq": 0}})
    backend.catch_up(runner)
    assert raw_views(client, project) == before


def test_a_projection_that_died_after_writing_history_is_completed(backend, runner, filled, client, project):
    before = raw_views(client, project)
    adding = filled[4].seq  # the commit that adds unit1 again
    client[project]["records"].delete_many({"_pos.0": adding})  # rows the dead runner never wrote
    client[project]["checkpoints"].update_many({}, {"$set": {"seq": adding - 1}})
    backend.catch_up(runner)
    assert raw_views(client, project) == before


class OvertakenWriter(MongoViewWriter):
    """A view writer whose process stalls before writing the records of commit ``stall_at``,
    while another process brings every view up to date."""

    def __init__(self, other: MongoBackend, runner: ProjectionRunner, db: Any, stall_at: int) -> None:
        super().__init__(db)
        self.other, self.runner, self.stall_at, self.stalled = other, runner, stall_at, False

    def set_checkpoint(self, view: str, seq: int) -> None:
        if view == "records" and seq == self.stall_at and not self.stalled:
            self.stalled = True
            self.other.catch_up(self.runner)
        super().set_checkpoint(view, seq)


@pytest.mark.parametrize("stall_at", [2, 3])  # rows added, rows changed
def test_a_runner_overtaken_by_another_process_never_moves_the_views_back(
        backend, runner, filled, client, project, stall_at):
    before = raw_views(client, project)
    for name in (*VIEW_COLLECTIONS, "checkpoints"):
        client[project].drop_collection(name)
    writer = OvertakenWriter(MongoBackend(client, project), runner, backend._db, stall_at)
    runner.apply(backend.read_commits(upto=stall_at), writer)  # then it stops, late writes done
    assert (writer.stalled, raw_views(client, project)) == (True, before)


def test_history_rows_carry_their_validity_interval(filled, client, project):
    rows = client[project]["record_versions"].find({"data_name": "unit1"}, sort=[("_from_seq", 1)])
    assert [(r["_from_seq"], r["_to_seq"]) for r in rows] == [(2, 3), (3, 4), (5, None)]


def test_view_rows_keep_key_blob_and_generation_but_not_storage_fields(backend, filled):
    row = backend.find_rows("records", {"data_name": "unit2"})[0]
    assert {"_key", "_blob", "_generation"} <= row.keys()
    assert not {"_id", "_pos", "_row", "_from_seq", "_to_seq"} & row.keys()


def test_rows_as_of_a_seq_drop_the_storage_fields_too(backend, filled):
    row = backend.find_rows("records", {"data_name": "unit2"}, as_of=2)[0]
    assert not {"_id", "_pos", "_row", "_from_seq", "_to_seq"} & row.keys()


def test_record_datetimes_come_back_timezone_aware_utc(backend, filled):
    row = backend.find_rows("records", {"data_name": "unit2"})[0]
    assert (row["recorded_at"], row["recorded_at"].utcoffset()) == (T0, timedelta(0))


# -- queries ----------------------------------------------------------------------------------------
def test_find_rows_matches_nested_fields(backend, filled):
    found = backend.find_rows("records", {"stats.site.region": "CA1", "n_spikes": {"$gt": 20}})
    assert [r["data_name"] for r in found] == ["unit2"]


def test_find_rows_matches_in(backend, filled):
    found = backend.find_rows("records", {"data_name": {"$in": ["unit2", "unit3", "unit9"]}},
                              sort=[("data_name", 1)])
    assert [r["data_name"] for r in found] == ["unit2", "unit3"]


def test_find_rows_matches_elem_match(backend, filled, request, is_ferretdb):
    if is_ferretdb:
        request.applymarker(pytest.mark.xfail(reason=FERRETDB_ELEM_MATCH, strict=True))
    found = backend.find_rows("records", {"units": {"$elemMatch": {"id": 2, "quality": "good"}}})
    assert [r["data_name"] for r in found] == ["unit3"]


def test_find_rows_matches_regex(backend, filled):
    found = backend.find_rows("records", {"data_name": {"$regex": "^unit[23]$"}}, sort=[("data_name", -1)])
    assert [r["data_name"] for r in found] == ["unit3", "unit2"]


def test_find_rows_sorts_and_limits(backend, filled):
    found = backend.find_rows("records", {}, sort=[("n_spikes", -1)], limit=1)
    assert [r["data_name"] for r in found] == ["unit2"]


def test_find_rows_as_of_sees_rows_since_purged(backend, filled):
    found = backend.find_rows("records", {"data_name": "unit1", "time_of_removal": {"$ne": None}}, as_of=3)
    assert [r["_generation"] for r in found] == [2]


def test_find_rows_as_of_sees_only_the_final_state_of_a_commit(backend, filled):
    found = backend.find_rows("records", {"data_name": "unit3"}, as_of=3)  # removed, restored
    assert [r["time_of_removal"] for r in found] == [None]


def test_find_rows_as_of_applies_the_whole_filter(backend, filled):
    found = backend.find_rows("records", {"$or": [{"data_name": "unit1"}, {"tags": "unit2"}]}, as_of=4)
    assert sorted(r["data_name"] for r in found) == ["unit2"]


def test_find_rows_as_of_sees_domain_models_before_their_removal(backend, filled):
    found = backend.find_rows("domain_models", {"time_of_removal": None}, as_of=3)
    assert sorted(r["schema_name"] for r in found) == ["session", "spike_times"]


def test_purged_blobs_list_purged_addresses_until_written_again(backend, filled):
    assert (backend.find_rows("purged_blobs", {}, as_of=4), backend.find_rows("purged_blobs", {})) == (
        [{"address": "blake3:" + "a" * 64, "purged_at": filled[3].committed_at, "purged_seq": 4}], [])


# -- errors and configuration -----------------------------------------------------------------------
UNREACHABLE = "mongodb://user:secret@127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"


def test_an_unreachable_server_raises_backend_unavailable_without_the_password():
    unreachable: MongoClient[Any] = MongoClient(UNREACHABLE)
    try:
        with pytest.raises(BackendUnavailableError) as raised:
            MongoBackend(unreachable, "p").head()
    finally:
        unreachable.close()
    assert ("secret" in str(raised.value), "127.0.0.1:1" in str(raised.value)) == (False, True)


def test_the_backend_repr_never_shows_the_password():
    unreachable: MongoClient[Any] = MongoClient(UNREACHABLE, connect=False)
    try:
        assert "secret" not in repr(MongoBackend(unreachable, "p"))
    finally:
        unreachable.close()


@pytest.mark.parametrize("name", ["", "a.b", "a/b", "a b", "a$b", "x" * 64, "é" * 32])
def test_project_names_mongodb_cannot_use_raise_validation_error(client, name):
    with pytest.raises(ValidationError):
        MongoBackend(client, name)


def test_the_default_write_concern_is_majority_and_journaled(backend):
    assert backend._db.write_concern.document == {"w": "majority", "j": True}


def test_an_explicit_client_write_concern_is_kept(mongo_server):
    with MongoClient(mongo_server.uri, w=1, connect=False) as explicit:
        assert write_concern_for(explicit).document == {"w": 1}


# -- a lost connection while appending --------------------------------------------------------------
class LostReply:
    """Wraps the events collection: ``insert_one`` optionally writes, then fails as if the
    connection dropped before the reply; ``find_one`` optionally fails too."""

    def __init__(self, events: Any, *, lands: bool, check_fails: bool = False) -> None:
        self._events, self._lands, self._check_fails = events, lands, check_fails

    def insert_one(self, document: Any) -> None:
        if self._lands:
            self._events.insert_one(document)
        raise AutoReconnect("connection closed")

    def find_one(self, *args: Any, **kwargs: Any) -> Any:
        if self._check_fails and "commit_id" in (args[0] if args else {}):
            raise AutoReconnect("connection closed")
        return self._events.find_one(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._events, name)


def test_an_append_whose_reply_was_lost_but_landed_returns_normally(backend, runner, monkeypatch):
    commit = Log().next(added("u1"))
    monkeypatch.setattr(backend, "_events", LostReply(backend._events, lands=True))
    backend.append(commit, runner)
    assert backend.find_commit(commit.commit_id) == commit


def test_an_append_whose_reply_was_lost_and_did_not_land_is_retryable(backend, runner, monkeypatch):
    monkeypatch.setattr(backend, "_events", LostReply(backend._events, lands=False))
    with pytest.raises(BackendUnavailableError, match="appending it again under the same commit_id is safe"):
        backend.append(Log().next(added("u1")), runner)


def test_an_append_whose_outcome_cannot_be_checked_raises_outcome_unknown(backend, runner, monkeypatch):
    commit = Log().next(added("u1"))
    monkeypatch.setattr(backend, "_events", LostReply(backend._events, lands=True, check_fails=True))
    with pytest.raises(CommitOutcomeUnknownError) as raised:
        backend.append(commit, runner)
    assert raised.value.commit_id == commit.commit_id



def test_an_append_whose_views_fail_to_update_says_the_commit_landed(backend, runner, monkeypatch):
    def lost_connection(self: MongoViewWriter, view: str, seq: int) -> None:
        raise AutoReconnect("connection closed")

    monkeypatch.setattr(MongoViewWriter, "set_checkpoint", lost_connection)
    commit = Log().next(added("u1"))
    with pytest.raises(ViewsBehindError) as raised:
        backend.append(commit, runner)
    assert (raised.value.seq, backend.head().seq) == (1, 1)
