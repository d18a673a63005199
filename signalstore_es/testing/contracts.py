"""Backend-agnostic contract tests for the storage port, shipped for third-party backends.

Subclass :class:`StorageBackendContract` in a module named ``test_<backend>.py`` and
implement :meth:`create_backend`; pytest collects the subclass (named ``Test...``) and runs
every contract against it. The base class itself is not collected (its name lacks ``Test``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest

from projections import BUILTIN_PROJECTORS, ProjectionRunner
from signalstore_es.domain.commits import Commit, CommitDraft, commit_hash
from signalstore_es.domain.events import BlobRef, DomainModelAdded, Event, RecordAdded, RecordRemoved
from signalstore_es.domain.keys import RecordKey
from signalstore_es.ports.storage import SeqTakenError, StorageBackend

T0 = datetime(2024, 4, 28, 9, 0, tzinfo=timezone.utc)


def record_added(name: str, *, notes: str = "", address: str | None = None) -> RecordAdded:
    blob = None if address is None else BlobRef(address=address, adapter="xarray.dataarray.netcdf",
                                                file_format="netcdf", extension=".nc", size=10,
                                                shape=(3,), dtype="float64")
    return RecordAdded(key=RecordKey(schema_ref="session", data_name=name),
                       record={"session_notes": notes, "tags": ["a", name]}, blob=blob)


def chain(*batches: tuple[Event, ...], start: int = 1, prev_hash: str = "") -> list[Commit]:
    """Commits for ``batches`` at seq ``start``, ``start+1``..., hash-chained."""
    commits = []
    for offset, events in enumerate(batches):
        draft = CommitDraft(commit_id=str(uuid.uuid4()), committed_at=T0 + timedelta(seconds=start + offset),
                            actor="contract", message=f"batch {offset}", library_version="test",
                            events=events)
        commit = draft.seal(seq=start + offset, prev_hash=prev_hash)
        commits.append(commit)
        prev_hash = commit.hash
    return commits


def runner() -> ProjectionRunner:
    return ProjectionRunner(BUILTIN_PROJECTORS)


def snapshot(backend: StorageBackend, as_of: int | None = None) -> list[dict[str, Any]]:
    rows = backend.find_rows("records", {}, as_of=as_of) + backend.find_rows("domain_models", {}, as_of=as_of)
    return sorted(rows, key=repr)


class StorageBackendContract:
    """Every :class:`~signalstore_es.ports.storage.StorageBackend` must pass these."""

    def create_backend(self, request: pytest.FixtureRequest, tmp_path: Any, project: str) -> StorageBackend:
        raise NotImplementedError

    @pytest.fixture
    def backend(self, request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[StorageBackend]:
        created = self.create_backend(request, tmp_path, f"c{uuid.uuid4().hex[:12]}")
        yield created
        created.close()

    def test_an_empty_log_has_head_zero(self, backend: StorageBackend) -> None:
        assert (backend.head().seq, backend.head().hash) == (0, "")

    def test_appended_commits_read_back_equal(self, backend: StorageBackend) -> None:
        commits = chain((record_added("s1", address="blake3:" + "a" * 64),), (record_added("s2"),))
        for commit in commits:
            backend.append(commit, runner())
        assert list(backend.read_commits()) == commits

    def test_read_back_commits_recompute_their_hashes(self, backend: StorageBackend) -> None:
        for commit in chain((record_added("s1"),), (record_added("s2"),)):
            backend.append(commit, runner())
        assert all(commit_hash(c) == c.hash for c in backend.read_commits())

    def test_append_at_a_taken_seq_raises_seq_taken(self, backend: StorageBackend) -> None:
        backend.append(chain((record_added("s1"),))[0], runner())
        with pytest.raises(SeqTakenError):
            backend.append(chain((record_added("s2"),))[0], runner())

    def test_append_skipping_a_seq_is_refused(self, backend: StorageBackend) -> None:
        with pytest.raises(SeqTakenError):
            backend.append(chain((record_added("s1"),), start=2)[0], runner())

    def test_head_is_the_last_commit(self, backend: StorageBackend) -> None:
        commits = chain((record_added("s1"),), (record_added("s2"),))
        for commit in commits:
            backend.append(commit, runner())
        assert (backend.head().seq, backend.head().hash) == (2, commits[1].hash)

    def test_read_commits_respects_after_and_upto(self, backend: StorageBackend) -> None:
        for commit in chain(*((record_added(f"s{i}"),) for i in range(5))):
            backend.append(commit, runner())
        assert [c.seq for c in backend.read_commits(after=1, upto=3)] == [2, 3]

    def test_find_commit_by_id(self, backend: StorageBackend) -> None:
        commit = chain((record_added("s1"),))[0]
        backend.append(commit, runner())
        assert backend.find_commit(commit.commit_id) == commit and backend.find_commit("nope") is None

    def test_seq_at_an_instant_is_the_last_commit_at_or_before_it(self, backend: StorageBackend) -> None:
        commits = chain((record_added("s1"),), (record_added("s2"),))
        for commit in commits:
            backend.append(commit, runner())
        at = commits[1].committed_at
        assert (backend.seq_at(at - timedelta(milliseconds=1)), backend.seq_at(at), backend.seq_at(T0)) == (1, 2, 0)

    def test_views_are_up_to_date_when_append_returns(self, backend: StorageBackend) -> None:
        backend.append(chain((record_added("s1"),))[0], runner())
        assert [r["data_name"] for r in backend.find_rows("records", {"schema_ref": "session"})] == ["s1"]

    def test_rebuild_reproduces_the_incremental_views_and_counts_the_replay(self, backend: StorageBackend) -> None:
        key = RecordKey(schema_ref="session", data_name="s1")
        for commit in chain((record_added("s1"), record_added("s2")), (RecordRemoved(key=key, generation=1),)):
            backend.append(commit, runner())
        before = (snapshot(backend), snapshot(backend, as_of=1))
        counts = backend.rebuild(runner())
        assert (snapshot(backend), snapshot(backend, as_of=1)) == before and counts == (2, 3)

    def test_find_rows_as_of_sees_the_state_at_that_seq(self, backend: StorageBackend) -> None:
        key = RecordKey(schema_ref="session", data_name="s1")
        for commit in chain((record_added("s1"),), (RecordRemoved(key=key, generation=1),)):
            backend.append(commit, runner())
        live = {"time_of_removal": None}
        assert (len(backend.find_rows("records", live, as_of=1)), len(backend.find_rows("records", live))) == (1, 0)

    def test_find_rows_matches_elements_of_array_fields(self, backend: StorageBackend) -> None:
        backend.append(chain((record_added("s1"), record_added("s2")))[0], runner())
        assert [r["data_name"] for r in backend.find_rows("records", {"tags": "s2"})] == ["s2"]

    def test_find_rows_supports_in_and_nested_fields(self, backend: StorageBackend) -> None:
        backend.append(chain((record_added("s1", address="blake3:" + "b" * 64), record_added("s2")))[0], runner())
        found = backend.find_rows("records", {"data_name": {"$in": ["s1", "s3"]}, "_blob.dtype": "float64"})
        assert [r["data_name"] for r in found] == ["s1"]

    def test_catch_up_repairs_views_of_a_new_projector(self, backend: StorageBackend) -> None:
        model = DomainModelAdded(schema_name="x_model", model={"schema_name": "x_model"}, json_schema="{}")
        backend.append(chain((model,))[0], ProjectionRunner(BUILTIN_PROJECTORS[:1]))
        backend.catch_up(runner())
        assert [r["schema_name"] for r in backend.find_rows("domain_models", {})] == ["x_model"]

    def test_datetimes_come_back_timezone_aware(self, backend: StorageBackend) -> None:
        commit = chain((record_added("s1"),))[0]
        backend.append(commit, runner())
        row = backend.find_rows("records", {})[0]
        assert row["time_of_save"] == commit.committed_at and row["time_of_save"].tzinfo is not None
