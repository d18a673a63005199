"""Backend-agnostic contract tests for the storage port, shipped for third-party backends.

Subclass :class:`StorageBackendContract` in a module named ``test_<backend>.py`` and
implement :meth:`create_backend`; pytest collects the subclass (named ``Test...``) and runs
every contract against it. The base class itself is not collected (its name lacks ``Test``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from projections import BUILTIN_PROJECTORS, ProjectionRunner
from projections.fold import fold
from signalstore_es.domain.commits import Commit, CommitDraft, commit_hash
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
from signalstore_es.ports.storage import SeqTakenError, StorageBackend

T0 = datetime(2024, 4, 28, 9, 0, tzinfo=UTC)


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
        assert backend.find_commit(commit.commit_id) == commit
        assert backend.find_commit("nope") is None

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
        assert (snapshot(backend), snapshot(backend, as_of=1)) == before
        assert counts == (2, 3)

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
        assert row["time_of_save"] == commit.committed_at
        assert row["time_of_save"].tzinfo is not None

    def test_rebuild_reproduces_every_past_state_after_removes_restores_purges_and_readds(
            self, backend: StorageBackend) -> None:
        s1, s2, s3 = (RecordKey(schema_ref="session", data_name=n) for n in ("s1", "s2", "s3"))
        address = "blake3:" + "c" * 64
        commits = chain(
            (record_added("s1"), record_added("s2", address=address)),
            (RecordRemoved(key=s1, generation=1), RecordRestored(key=s1, generation=1),
             RecordRemoved(key=s2, generation=1)),
            (RecordPurged(key=s2, generation=1), BlobPurged(address=address)),
            # one key added, removed and added again in one commit: one row, written thrice
            (record_added("s3", notes="first"), RecordRemoved(key=s3, generation=4),
             record_added("s3", notes="second"), record_added("s2", notes="again", address=address)),
            (RecordRemoved(key=s1, generation=1), DomainModelAdded(schema_name="x_model", model={},
                                                                  json_schema="{}")),
            (DomainModelRemoved(schema_name="x_model"), RecordRestored(key=s1, generation=1)),
        )
        for commit in commits:
            backend.append(commit, runner())
        states = [snapshot(backend, as_of=n) for n in range(len(commits) + 1)] + [snapshot(backend)]
        expected = [sorted(fold(commits[:n], BUILTIN_PROJECTORS).documents("records")
                           + fold(commits[:n], BUILTIN_PROJECTORS).documents("domain_models"), key=repr)
                    for n in range(len(commits) + 1)]
        assert states[:-1] == expected
        assert states[-1] == expected[-1]
        assert backend.rebuild(runner()) == (len(commits), sum(len(c.events) for c in commits))
        assert [snapshot(backend, as_of=n) for n in range(len(commits) + 1)] + [snapshot(backend)] == states
        assert backend.find_rows("purged_blobs", {}) == []  # the re-add wrote the bytes again

    def test_find_rows_answers_conjunctions_of_equalities(self, backend: StorageBackend) -> None:
        key = RecordKey(schema_ref="session", data_name="s1")
        for commit in chain((record_added("s1"), record_added("s2")), (RecordRemoved(key=key, generation=1),)):
            backend.append(commit, runner())

        def names(filter: dict[str, Any], as_of: int | None = None) -> list[str]:
            return sorted(r["data_name"] for r in backend.find_rows("records", filter, as_of=as_of))

        live, removed = {"time_of_removal": None}, {"time_of_removal": {"$ne": None}}
        assert names({"$and": [{"schema_ref": "session"}, live]}) == ["s2"]
        assert names({"$and": [{"schema_ref": "session", "data_name": "s1"}, removed]}) == ["s1"]
        assert names({"$and": [{"data_name": "s1"}, live]}, as_of=1) == ["s1"]
        assert names({"$and": [{"data_name": "s1"}, {"data_name": "s2"}]}) == []
        assert names({"$and": [{"data_name": "s2"}, {"data_name": "s2"}, {"$and": [live]}]}) == ["s2"]
        assert names({"_key": key.as_string(), **removed}) == ["s1"]

    def test_find_rows_selects_live_rows_by_a_list_of_keys(self, backend: StorageBackend) -> None:
        """The existence check of ``add_many``: one ``$in`` query per chunk of keys."""
        s1, s2, s3 = (RecordKey(schema_ref="session", data_name=n) for n in ("s1", "s2", "s3"))
        for commit in chain((record_added("s1"), record_added("s2"), record_added("s3")),
                            (RecordRemoved(key=s2, generation=1),)):
            backend.append(commit, runner())

        def names(keys: list[str], as_of: int | None = None) -> list[str]:
            found = backend.find_rows("records", {"_key": {"$in": keys}, "time_of_removal": None}, as_of=as_of)
            return sorted(r["data_name"] for r in found)

        keys = [s1.as_string(), s2.as_string(), s3.as_string(), "session/nope/0"]
        assert names(keys) == ["s1", "s3"]
        assert names(keys, as_of=1) == ["s1", "s2", "s3"]
        assert names(keys, as_of=0) == []
        assert names([]) == []

    def test_find_rows_selects_domain_models_by_name(self, backend: StorageBackend) -> None:
        models = [DomainModelAdded(schema_name=n, model={"schema_name": n}, json_schema="{}")
                  for n in ("a_model", "b_model")]
        for commit in chain(tuple(models), (DomainModelRemoved(schema_name="a_model"),)):
            backend.append(commit, runner())
        live = {"time_of_removal": None}
        found = [r["schema_name"] for r in backend.find_rows("domain_models", {"schema_name": "a_model", **live})]
        then = [r["schema_name"] for r in backend.find_rows("domain_models", {"schema_name": "a_model", **live},
                                                            as_of=1)]
        assert (found, then) == ([], ["a_model"])
