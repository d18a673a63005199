"""The embedded backend's layout: current rows are the open versions, history holds closed
versions only, the live-by-key lookup is one index probe with MongoDB's null semantics, and
older layouts are replayed into this one when a store is opened."""

from __future__ import annotations

import sqlite3

import pytest

from signalstore_es import UnitOfWorkProvider
from signalstore_es.adapters.sqlite import backend as backend_module
from signalstore_es.adapters.sqlite import views
from signalstore_es.adapters.sqlite.schema import LAYOUT_VERSION
from signalstore_es.domain.query import check_embedded_filter, compile_filter
from signalstore_es.testing import vocabulary as vocab
from tests.integration.old_layouts import install_old_layout
from tests.integration.test_custom_projector import ListValuedProjector

PROJECT = "layout"


@pytest.fixture
def provider(tmp_path):
    provider = UnitOfWorkProvider.embedded(tmp_path, actor="t")
    with provider(PROJECT) as uow:
        for model in vocab.all_models():
            uow.domain_models.add(model)
        uow.commit()
    yield provider
    provider.close()


def _db(provider) -> sqlite3.Connection:
    return provider._backend(PROJECT)._db


def test_a_row_written_once_has_no_history_row_and_a_remove_closes_its_version(provider):
    with provider(PROJECT) as uow:
        uow.data.add(vocab.session_record("s1", animal="Animal1"))
        added = uow.commit().seq
    db = _db(provider)
    assert db.execute("SELECT count(*) FROM record_versions").fetchone()[0] == 0
    with provider(PROJECT) as uow:
        uow.data.remove("session", "s1")
        removed = uow.commit().seq
    history = db.execute("SELECT from_seq, to_seq, removed, key FROM record_versions").fetchall()
    current = db.execute("SELECT from_seq, removed, key FROM records").fetchall()
    assert history == [(added, removed, 0, "session/s1/0")]
    assert current == [(removed, 1, "session/s1/0")]
    backend = provider._backend(PROJECT)
    assert [r["time_of_removal"] for r in backend.find_rows("records", {}, as_of=added)] == [None]
    assert backend.find_rows("records", {"time_of_removal": None}, as_of=removed) == []
    with provider(PROJECT) as uow:
        uow.data.restore("session", "s1")
        restored = uow.commit().seq
    assert [r["data_name"] for r in backend.find_rows("records", {"schema_ref": "session", "data_name": "s1",
                                                                   "time_of_removal": None})] == ["s1"]
    assert db.execute("SELECT from_seq, to_seq FROM record_versions").fetchall() == [(added, removed),
                                                                                   (removed, restored)]
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


class _TallyProjector:
    """Counts added records per schema_ref: one row written several times per commit."""

    view = "tallies"
    event_types = frozenset({"record_added"})

    def row_id(self, event, context):
        return event.key.schema_ref

    def apply(self, row, event, context):
        return {"schema_ref": event.key.schema_ref, "data_name": event.key.data_name,  # the last one
                "count": (row or {"count": 0})["count"] + 1}


def test_a_version_opened_and_closed_in_one_commit_is_not_stored(provider):
    provider.register_projector(_TallyProjector())
    with provider(PROJECT) as uow:
        for i in range(3):
            uow.data.add(vocab.session_record(f"s{i}", animal="Animal1"))
        first = uow.commit().seq
        uow.data.add(vocab.session_record("s9", animal="Animal1"))
        second = uow.commit().seq
    db = _db(provider)
    assert db.execute("SELECT from_seq, to_seq FROM tallie_versions").fetchall() == [(first, second)]
    backend = provider._backend(PROJECT)
    assert [r["count"] for r in backend.find_rows("tallies", {}, as_of=first)] == [3]
    assert [r["count"] for r in backend.find_rows("tallies", {})] == [4]
    # an indexed column that changed is found by its new value now and by its old one back then
    assert [r["count"] for r in backend.find_rows("tallies", {"data_name": "s9"})] == [4]
    assert backend.find_rows("tallies", {"data_name": "s2"}) == []
    assert [r["count"] for r in backend.find_rows("tallies", {"data_name": "s2"}, as_of=first)] == [3]
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


class _MarksProjector:
    """Rows with every shape of ``_key`` and ``time_of_removal`` a user view may hold."""

    view = "marks"
    event_types = frozenset({"record_added"})
    SHAPES = {
        "m0": lambda key: {"_key": key},  # removal missing
        "m1": lambda key: {"_key": key, "time_of_removal": None},
        "m2": lambda key: {"_key": key, "time_of_removal": "yesterday"},
        "m3": lambda key: {"_key": 5, "time_of_removal": None},  # not a str: no key column
        "m4": lambda key: {"time_of_removal": None},
        "m5": lambda key: {"_key": "shared", "time_of_removal": False},  # False is set, not null
    }

    def row_id(self, event, context):
        return event.key.data_name

    def apply(self, row, event, context):
        shape = self.SHAPES.get(event.key.data_name)
        return None if shape is None else shape(event.key.as_string())


def test_the_live_by_key_lookup_answers_as_the_filter_language_does(provider):
    provider.register_projector(_MarksProjector())
    with provider(PROJECT) as uow:
        for name in _MarksProjector.SHAPES:
            uow.data.add(vocab.session_record(name, animal="Animal1"))
        uow.commit()
        uow.data.add(vocab.session_record("m7", animal="Animal1"))  # a row of records only
        uow.commit()
    backend = provider._backend(PROJECT)
    everything = backend.find_rows("marks", {})
    keys = [f"session/{name}/0" for name in (*_MarksProjector.SHAPES, "m7")] + ["shared", "missing"]
    for key in keys:
        for view in ("marks", "records"):
            filter = {"_key": key, "time_of_removal": None}
            expected = [r for r in backend.find_rows(view, {}) if compile_filter(check_embedded_filter(filter))(r)]
            assert backend.find_rows(view, filter) == expected, (view, key)
            assert backend.find_rows(view, {"$and": [{"_key": key}, {"time_of_removal": None}]}) == expected
            assert backend.find_rows(view, filter, limit=1) == expected[:1]
    assert len(everything) == len(_MarksProjector.SHAPES)
    assert backend.find_rows("no_such_view", {"_key": "k", "time_of_removal": None}) == []


def test_queries_now_and_as_of_use_the_indexes(provider):
    db = _db(provider)
    sql, params = views._candidate_query("records", {"_key": "k", "time_of_removal": None}, 3)
    plan = " ".join(r[-1] for r in db.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "records_key" in plan
    assert "record_versions_key" in plan
    assert "SCAN" not in plan
    sql, params = views._candidate_query("records", {"schema_ref": "a", "data_name": "b"}, None)
    plan = " ".join(r[-1] for r in db.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "records_name" in plan


LAYOUT_2 = """
CREATE TABLE "records" (row_id TEXT PRIMARY KEY, doc TEXT NOT NULL, pos_seq INTEGER NOT NULL,
    pos_idx INTEGER NOT NULL, key TEXT, schema_ref TEXT, data_name TEXT, schema_name TEXT);
CREATE TABLE "record_versions" (version_id TEXT PRIMARY KEY, row_id TEXT NOT NULL,
    from_seq INTEGER NOT NULL, to_seq INTEGER, doc TEXT NOT NULL, key TEXT, schema_ref TEXT,
    data_name TEXT, schema_name TEXT);
CREATE TABLE checkpoints (view TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


def test_a_layout_2_store_replays_its_views_into_the_current_layout_when_opened(provider, tmp_path):
    with provider(PROJECT) as uow:
        uow.data.add(vocab.session_record("s1", animal="Animal1"))
        uow.commit()
        uow.data.remove("session", "s1")
        uow.commit()
    backend = provider._backend(PROJECT)
    expected = [backend.find_rows("records", {}, as_of=seq) for seq in range(backend.head().seq + 1)]
    path = backend.path
    provider.close()
    install_old_layout(path, drop=("records", "record_versions", "domain_models", "domain_model_versions",
                                   "purged_blobs", "purged_blob_versions", "checkpoints"),
                       ddl=LAYOUT_2, user_version=2, statements=["INSERT INTO checkpoints VALUES ('records', 99)"])
    reopened = UnitOfWorkProvider.embedded(tmp_path, actor="t")
    try:
        with reopened(PROJECT) as uow:
            backend = uow._context.backend
            found = [backend.find_rows("records", {}, as_of=seq) for seq in range(backend.head().seq + 1)]
            db = backend._db
            version = db.execute("PRAGMA user_version").fetchone()[0]
            columns = [row[1] for row in db.execute('PRAGMA table_info("records")')]
            without_rowid = db.execute("SELECT sql FROM sqlite_master WHERE name = 'checkpoints'").fetchone()[0]
        assert found == expected
        assert version == LAYOUT_VERSION == 4
        assert {"from_seq", "removed"} <= set(columns)
        assert "WITHOUT ROWID" in without_rowid
    finally:
        reopened.close()


def test_a_layout_3_store_rewrites_the_columns_of_a_user_view_holding_lists_when_opened(tmp_path):
    """Layout 3 wrote NULL for a list in an indexed field, so an equality on one of its
    elements found nothing; opening such a store replays the views with the array marks."""
    provider = UnitOfWorkProvider.embedded(tmp_path, actor="t")
    provider.register_projector(ListValuedProjector())
    with provider(PROJECT) as uow:
        for model in vocab.all_models():
            uow.domain_models.add(model)
        uow.data.add(vocab.session_record("s1", animal="Animal1"))
        uow.commit()
        assert [row["name"] for row in uow.find_view("list_valued", {"_key": "shared"})] == ["s1"]
    db = _db(provider)
    db.execute("UPDATE list_valued SET key = NULL, schema_ref = NULL, data_name = NULL, schema_name = NULL")
    db.execute("PRAGMA user_version = 3")
    provider.close()
    reopened = UnitOfWorkProvider.embedded(tmp_path, actor="t")
    reopened.register_projector(ListValuedProjector())
    try:
        with reopened(PROJECT) as uow:
            found = [row["name"] for row in uow.find_view("list_valued", {"_key": "shared"})]
            version = uow._context.backend._db.execute("PRAGMA user_version").fetchone()[0]
        assert found == ["s1"]
        assert version == LAYOUT_VERSION
    finally:
        reopened.close()


def test_the_wal_a_rebuild_grew_is_cut_back_to_its_limit_by_the_next_commit(tmp_path, monkeypatch):
    """A rebuild rewrites every view through the WAL; without a size limit the file would keep
    that size for as long as the store is open."""
    monkeypatch.setattr(backend_module, "WAL_SIZE_LIMIT_BYTES", 256 * 1024)
    provider = UnitOfWorkProvider.embedded(tmp_path, actor="t")
    wal = tmp_path / PROJECT / "events.sqlite3-wal"
    try:
        with provider(PROJECT) as uow:
            for model in vocab.all_models():
                uow.domain_models.add(model)
            uow.data.add_many([vocab.session_record(f"s{i}", animal=f"Animal{i % 7}") for i in range(4000)])
            uow.commit()
        provider.rebuild(PROJECT)
        after_rebuild = wal.stat().st_size
        with provider(PROJECT) as uow:
            uow.data.add(vocab.session_record("one-more", animal="Animal1"))
            uow.commit()
        assert (after_rebuild > 256 * 1024, wal.stat().st_size <= 256 * 1024) == (True, True)
    finally:
        provider.close()
