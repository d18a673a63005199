"""The embedded backend's buffered view writer, bulk rebuild and layout upgrade."""

from __future__ import annotations

import gc

import pytest

from projections import BUILTIN_PROJECTORS
from projections.fold import fold
from signalstore_es import UnitOfWorkProvider
from signalstore_es.adapters.sqlite import views
from signalstore_es.adapters.sqlite.schema import LAYOUT_VERSION
from signalstore_es.testing import vocabulary as vocab
from tests.integration.old_layouts import install_old_layout

PROJECT = "views"


def comparable(rows):
    return sorted(repr(sorted(r.items())) for r in rows)


def _history(provider: UnitOfWorkProvider) -> None:
    """Commits that add, remove, restore and purge, several rows per commit."""
    with provider(PROJECT) as uow:
        for model in vocab.all_models():
            uow.domain_models.add(model)
        uow.commit()
        for i in range(7):
            uow.data.add(vocab.session_record(f"s{i}", animal="Animal1"))
        uow.commit()
        for i in range(0, 7, 2):
            uow.data.remove("session", f"s{i}")
        uow.data.add(vocab.session_record("s9", animal="Animal1"))
        uow.data.remove("session", "s9")
        uow.data.add(vocab.session_record("s9", animal="Animal1", session_notes="again"))
        uow.commit()
        uow.data.restore("session", "s2")
        uow.data.remove("session", "s3")
        uow.commit()
        uow.purge()
        uow.commit()


def _all_states(backend):
    commits = list(backend.read_commits())
    states = [comparable(backend.find_rows("records", {}, as_of=n)) for n in range(len(commits) + 1)]
    return commits, states


@pytest.mark.parametrize("flush_rows", [1, 3, 10_000])
def test_views_equal_the_fold_at_every_seq_whatever_the_flush_size(tmp_path, monkeypatch, flush_rows):
    monkeypatch.setattr(views, "FLUSH_ROWS", flush_rows)
    provider = UnitOfWorkProvider.embedded(tmp_path, actor="t")
    try:
        _history(provider)
        backend = provider._backend(PROJECT)
        commits, states = _all_states(backend)
        expected = [comparable(fold(commits[:n], BUILTIN_PROJECTORS).documents("records"))
                    for n in range(len(commits) + 1)]
        assert states == expected
        current = comparable(backend.find_rows("records", {}))
        provider.rebuild(PROJECT)
        assert _all_states(backend)[1] == expected and comparable(backend.find_rows("records", {})) == current
    finally:
        provider.close()


def test_rebuild_creates_the_indexes_after_the_load(tmp_path):
    provider = UnitOfWorkProvider.embedded(tmp_path, actor="t")
    try:
        _history(provider)
        provider.rebuild(PROJECT)
        db = provider._backend(PROJECT)._db
        indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"records_key", "records_name", "record_versions_name", "domain_models_schema_name"} <= indexes
        plan = " ".join(r[-1] for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT doc FROM records WHERE schema_ref = ? AND data_name = ?", ("a", "b")))
        assert "records_name" in plan
    finally:
        provider.close()


OLD_LAYOUT = """
CREATE TABLE "records" (row_id TEXT PRIMARY KEY, doc TEXT NOT NULL, pos_seq INTEGER NOT NULL,
    pos_idx INTEGER NOT NULL, key TEXT GENERATED ALWAYS AS (json_extract(doc, '$._key')) VIRTUAL);
CREATE TABLE "record_versions" (version_id TEXT PRIMARY KEY, row_id TEXT NOT NULL,
    from_seq INTEGER NOT NULL, to_seq INTEGER, doc TEXT NOT NULL);
"""


def test_a_store_with_the_old_view_layout_replays_its_views_when_opened(tmp_path):
    provider = UnitOfWorkProvider.embedded(tmp_path, actor="t")
    _history(provider)
    backend = provider._backend(PROJECT)
    expected = comparable(backend.find_rows("records", {}))
    path = backend.path
    provider.close()
    install_old_layout(path, drop=("records", "record_versions"), ddl=OLD_LAYOUT, user_version=0)
    reopened = UnitOfWorkProvider.embedded(tmp_path, actor="t")
    try:
        with reopened(PROJECT) as uow:
            found = comparable(uow._context.backend.find_rows("records", {}))
            version = uow._context.backend._db.execute("PRAGMA user_version").fetchone()[0]
        assert found == expected and version == LAYOUT_VERSION
    finally:
        reopened.close()


def test_the_cyclic_gc_is_paused_only_while_bulk_work_runs(tmp_path):
    provider = UnitOfWorkProvider.embedded(tmp_path, actor="t")
    try:
        _history(provider)
        assert gc.isenabled()
        provider.rebuild(PROJECT)
        assert gc.isenabled()
        gc.disable()
        try:
            provider.rebuild(PROJECT)
            assert not gc.isenabled()  # an application that turned it off keeps it off
        finally:
            gc.enable()
    finally:
        provider.close()


class _UnstorableProjector:
    """A user view whose row for the record named "bad" holds ``value``."""

    view = "unstorable_index"
    event_types = frozenset({"record_added"})

    def __init__(self, value):
        self.value = value

    def row_id(self, event, context):
        return event.key.as_string()

    def apply(self, row, event, context):
        return {"value": self.value if event.key.data_name == "bad" else 1}


@pytest.mark.parametrize("value, message", [
    (float("nan"), "not JSON compliant"),
    # JSON text would give it back as a float (orjson reads it so): refused, as MongoDB does
    (2**70, "beyond 64 bits"),
], ids=["nan", "integer beyond 64 bits"])
def test_a_user_view_row_the_store_cannot_hold_fails_the_commit_and_writes_nothing(tmp_path, value, message):
    provider = UnitOfWorkProvider.embedded(tmp_path, actor="t")
    try:
        _history(provider)
        provider.register_projector(_UnstorableProjector(value))
        with provider(PROJECT) as uow:
            uow.data.add(vocab.session_record("good", animal="Animal1"))
            uow.commit()
            head, rows = uow._context.backend.head().seq, uow.find_view("unstorable_index", {})
            assert rows and all(row == {"value": 1} for row in rows)
            uow.data.add(vocab.session_record("bad", animal="Animal1"))
            with pytest.raises(ValueError, match=message):
                uow.commit()
            assert uow._context.backend.head().seq == head
            assert uow.find_view("unstorable_index", {}) == rows
    finally:
        provider.close()
