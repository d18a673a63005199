"""The embedded backend: one SQLite database file per project (stdlib ``sqlite3``)."""

from signalstore_es.adapters.sqlite.backend import SqliteBackend

__all__ = ["SqliteBackend"]
