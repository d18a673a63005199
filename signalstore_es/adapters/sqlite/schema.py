"""Table layout of the embedded backend.

``commits`` and ``events`` are the log: append-only, one row per commit and per event. Each
view ``V`` has a table ``V`` of current rows and a table ``versions_name(V)`` of every state a
row has had with its validity interval ``[from_seq, to_seq)``. Documents are JSON; the fields
that queries select on most (``_key``, ``schema_ref``, ``data_name``) are generated columns
with indexes, so the common lookups never scan.
"""

from __future__ import annotations

import re

from signalstore_es.errors import ValidationError

VIEW_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

LOG_TABLES = """
CREATE TABLE IF NOT EXISTS commits (
    seq INTEGER PRIMARY KEY,
    commit_id TEXT NOT NULL UNIQUE,
    committed_at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    message TEXT,
    library_version TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS commits_committed_at ON commits (committed_at);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER NOT NULL REFERENCES commits (seq),
    idx INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (seq, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (view TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""

_INDEXED = """
    key TEXT GENERATED ALWAYS AS (json_extract(doc, '$._key')) VIRTUAL,
    schema_ref TEXT GENERATED ALWAYS AS (json_extract(doc, '$.schema_ref')) VIRTUAL,
    data_name TEXT GENERATED ALWAYS AS (json_extract(doc, '$.data_name')) VIRTUAL
"""

#: Columns that :func:`signalstore_es.domain.query.pushdown_equalities` may select on.
PUSHDOWN_COLUMNS = {"_key": "key", "schema_ref": "schema_ref", "data_name": "data_name"}


def versions_name(view: str) -> str:
    """``records`` -> ``record_versions``, ``domain_models`` -> ``domain_model_versions``."""
    return f"{view[:-1] if view.endswith('s') else view}_versions"


def check_view_name(view: str) -> str:
    if not VIEW_NAME.match(view):
        raise ValidationError(f"view name {view!r} must match {VIEW_NAME.pattern}")
    return view


def view_ddl(view: str) -> str:
    """The DDL of a view's current and history tables (idempotent)."""
    view = check_view_name(view)
    history = versions_name(view)
    return f"""
CREATE TABLE IF NOT EXISTS "{view}" (
    row_id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    pos_seq INTEGER NOT NULL,
    pos_idx INTEGER NOT NULL,
    {_INDEXED}
);
CREATE INDEX IF NOT EXISTS "{view}_key" ON "{view}" (key);
CREATE INDEX IF NOT EXISTS "{view}_name" ON "{view}" (schema_ref, data_name);
CREATE TABLE IF NOT EXISTS "{history}" (
    version_id TEXT PRIMARY KEY,
    row_id TEXT NOT NULL,
    from_seq INTEGER NOT NULL,
    to_seq INTEGER,
    doc TEXT NOT NULL,
    {_INDEXED}
);
CREATE INDEX IF NOT EXISTS "{history}_open" ON "{history}" (row_id, to_seq);
CREATE INDEX IF NOT EXISTS "{history}_key" ON "{history}" (key, from_seq);
CREATE INDEX IF NOT EXISTS "{history}_name" ON "{history}" (schema_ref, data_name, from_seq);
CREATE INDEX IF NOT EXISTS "{history}_interval" ON "{history}" (from_seq, to_seq);
"""


def drop_view_ddl(view: str) -> str:
    view = check_view_name(view)
    return f"""
DROP TABLE IF EXISTS "{view}";
DROP TABLE IF EXISTS "{versions_name(view)}";
DELETE FROM checkpoints WHERE view = '{view}';
"""
