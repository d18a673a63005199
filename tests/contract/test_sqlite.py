"""The storage contract against the embedded SQLite backend."""

from __future__ import annotations

from signalstore_es.adapters.sqlite import SqliteBackend
from signalstore_es.testing.contracts import StorageBackendContract


class TestSqliteBackend(StorageBackendContract):
    def create_backend(self, request, tmp_path, project):
        return SqliteBackend(str(tmp_path / project / "events.sqlite3"), project)
