"""verify and gc: tampering with events, reordering commits and flipping blob bytes are detected
(every backend, through a back door to the raw medium); gc removes orphans and nothing else."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from signalstore_es.testing import vocabulary as vocab
from tests.conftest import spike_times


def _three_commits(store, project):
    with store(project) as uow:
        uow.data.add(spike_times("u1"))
        uow.commit(message="one")
        uow.data.add(vocab.session_record("s1", animal="Animal1"))
        uow.commit(message="two")
        uow.data.remove("spike_times", "u1")
        uow.commit(message="three")


class RawLog:
    """Back door to the stored log of either backend."""

    def __init__(self, backend_name, tmp_path, request, project):
        self.backend_name, self.project = backend_name, project
        if backend_name == "sqlite":
            self.db = sqlite3.connect(tmp_path / "store" / project / "events.sqlite3", isolation_level=None)
        else:
            self.events = request.getfixturevalue("mongo_client")[project]["events"]

    def edit_first_event_of(self, seq, field, value):
        if self.backend_name == "sqlite":
            body = json.loads(self.db.execute("SELECT body FROM events WHERE seq=? AND idx=0", (seq,)).fetchone()[0])
            body["record"][field] = value
            self.db.execute("UPDATE events SET body=? WHERE seq=? AND idx=0", (json.dumps(body), seq))
        else:
            self.events.update_one({"_id": seq}, {"$set": {f"events.0.record.{field}": value}})

    def swap(self, first, second):
        """Exchange the contents of two commits while keeping their positions."""
        if self.backend_name == "sqlite":
            self.db.execute("PRAGMA foreign_keys=OFF")
            for table in ("commits", "events"):
                self.db.execute(f"UPDATE {table} SET seq = -1 WHERE seq = ?", (first,))
                self.db.execute(f"UPDATE {table} SET seq = ? WHERE seq = ?", (first, second))
                self.db.execute(f"UPDATE {table} SET seq = ? WHERE seq = -1", (second,))
        else:
            a, b = self.events.find_one({"_id": first}), self.events.find_one({"_id": second})
            self.events.delete_many({"_id": {"$in": [first, second]}})  # commit_id is unique
            self.events.insert_many([{**b, "_id": first}, {**a, "_id": second}])


@pytest.fixture
def raw_log(backend_name, tmp_path, request, project):
    return RawLog(backend_name, tmp_path, request, project)


def _blob_files(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*.nc") if "blobs" in p.parts]


def test_an_untouched_store_verifies(store, project):
    _three_commits(store, project)
    report = store.verify(project)
    assert report.ok and (report.commits_checked, report.blobs_checked) == (4, 1)


def test_an_edited_event_is_detected_at_its_commit(store, project, raw_log):
    _three_commits(store, project)
    raw_log.edit_first_event_of(3, "session_notes", "forged")
    report = store.verify(project)
    assert not report.ok and report.first_broken_seq == 3 and "edited" in report.broken_reason


def test_reordered_commits_are_detected(store, project, raw_log):
    _three_commits(store, project)
    raw_log.swap(2, 3)
    report = store.verify(project)
    assert not report.ok and report.first_broken_seq == 2


def test_a_flipped_byte_in_a_blob_is_detected(store, project, tmp_path):
    _three_commits(store, project)
    (path,) = _blob_files(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    report = store.verify(project)
    assert not report.ok and report.damaged_blobs and report.first_broken_seq is None


def test_a_missing_blob_is_detected(store, project, tmp_path):
    _three_commits(store, project)
    (path,) = _blob_files(tmp_path)
    path.unlink()
    assert store.verify(project).damaged_blobs[0][1] == "missing"


def test_gc_removes_orphans_of_rolled_back_work_and_keeps_committed_blobs(store, project, tmp_path):
    _three_commits(store, project)
    with store(project) as uow:
        uow.data.add(spike_times("orphan", seed=9))  # written, never committed
    report = store.gc(project, grace=timedelta(0))
    with store(project) as uow:
        still_there = uow.data.get("spike_times", "u1", as_of=2)
    assert len(report.removed_blobs) == 1 and still_there is not None and len(_blob_files(tmp_path)) == 1


def test_gc_keeps_young_orphans(store, project):
    with store(project) as uow:
        uow.data.add(spike_times("orphan", seed=9))
    assert store.gc(project, grace=timedelta(hours=1)).removed_blobs == ()


def test_get_with_verify_refuses_a_damaged_blob(store, project, tmp_path):
    from signalstore_es import IntegrityError

    _three_commits(store, project)
    (path,) = _blob_files(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with store(project) as uow, pytest.raises(IntegrityError, match="damaged on storage"):
        uow.data.get("spike_times", "u1", as_of=2, verify=True)


def test_get_lazy_returns_a_dask_backed_array_with_the_same_values(store, project):
    _three_commits(store, project)
    with store(project) as uow:
        lazy = uow.data.get("spike_times", "u1", as_of=2, lazy=True)
        eager = uow.data.get("spike_times", "u1", as_of=2)
    assert lazy.chunks is not None and bool((lazy.load() == eager).all())
