"""Table layout of the embedded backend.

``commits`` and ``events`` are the log: append-only, one row per commit and per event. They
never change shape. Everything else is a view, disposable and rebuilt by replay.

Each view ``V`` has two tables, which together hold every state a row has had with its
validity interval ``[from_seq, to_seq)``:

* ``V`` holds the **current** rows. A current row is also the row's *open* version: it is
  valid from ``from_seq`` (the seq of the event that wrote it; ``from_idx`` is that event's
  index in its commit, so ``(from_seq, from_idx)`` is the row's position for the runner) and
  has no end.
* ``versions_name(V)`` holds the **closed** versions only: when a row changes or is deleted,
  its previous state moves there with ``to_seq`` set. A row written once (the common case: a
  record added and never touched again) costs one document and no history row, and closing a
  version is an insert, never an update.

Time travel to seq ``S`` reads ``V`` where ``from_seq <= S`` together with the history rows
where ``from_seq <= S < to_seq``.

Documents are JSON text. The fields that queries select on most (``_key``, ``schema_ref``,
``data_name``, ``schema_name``) are copied into plain indexed columns when a row is written (a
str value; :data:`ARRAY_MARK` for an array; else NULL), and ``removed`` is 1 when the
document's ``time_of_removal`` is set (not null, not missing), 0 when it is not and
:data:`REMOVED_MAYBE` when it is an array, so the lookups the API makes on every add, get and
find never parse JSON. The marks exist because MongoDB's ``{"f": "x"}`` also matches an array
holding ``"x"`` (and ``{"f": None}`` one holding null), which a column cannot show: a query on
a user view selects the marked rows too (one more index search per column that may be marked)
and the full matcher decides them. Built-in views hold no marks where their lookups ask (keys,
names and removal times are validated scalars), so those stay one search.

Both are rowid tables: documents (several hundred bytes) are too large for a ``WITHOUT ROWID``
table to pay off (SQLite advises it for rows under about a twentieth of a page), and a rowid
table appends rows in log order while only its small indexes take random inserts. ``row_id``
(the projector's row id, e.g. ``<key>@<generation>`` for records) and ``key`` hold different
values, one row id per generation of a key, so both keep an index. ``checkpoints`` is a
``WITHOUT ROWID`` table: its rows are tiny and its primary key is its only lookup.

Layout versions (``PRAGMA user_version``): 0 had generated ``json_extract`` columns; 2 copied
every current document into an open history row too (two documents and nine index entries per
new row); 3 wrote NULL for arrays (a user view's row holding a list in an indexed field was not
found by an equality on one of its elements); 4 is this layout. Views are disposable, so
opening an older store drops its view tables and checkpoints, and the next catch-up replays
the log.
"""

from __future__ import annotations

import re
import sqlite3

from signalstore_es.errors import ValidationError

VIEW_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
LAYOUT_VERSION = 4

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
"""

#: the last seq applied to each view (view metadata: dropped with the views by an upgrade)
CHECKPOINTS_TABLE = """
CREATE TABLE IF NOT EXISTS checkpoints (view TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
"""

#: Document fields copied into indexed columns (field -> column), in column order.
#: :func:`signalstore_es.domain.query.pushdown_equalities` may select on them.
PUSHDOWN_COLUMNS = {"_key": "key", "schema_ref": "schema_ref", "data_name": "data_name",
                    "schema_name": "schema_name"}
PUSHDOWN_FIELDS = tuple(PUSHDOWN_COLUMNS)
#: the document field whose state the ``removed`` column holds
REMOVAL_FIELD = "time_of_removal"
#: an indexed column's value when the field holds an array: the query matcher decides the row
#: (a str that happens to equal it is matched the same way, so it cannot change a result)
ARRAY_MARK = "\x1f[array]"
#: the ``removed`` column's value when ``time_of_removal`` holds an array (the matcher decides)
REMOVED_MAYBE = 2
_COLUMNS = ", ".join(f"{column} TEXT" for column in PUSHDOWN_COLUMNS.values())
#: the columns written with each row after its position, in order (the document comes last)
COLUMN_NAMES = "removed, " + ", ".join(PUSHDOWN_COLUMNS.values())


def versions_name(view: str) -> str:
    """``records`` -> ``record_versions``, ``domain_models`` -> ``domain_model_versions``."""
    return f"{view[:-1] if view.endswith('s') else view}_versions"


def check_view_name(view: str) -> str:
    if not VIEW_NAME.match(view):
        raise ValidationError(f"view name {view!r} must match {VIEW_NAME.pattern}")
    return view


def view_tables_ddl(view: str) -> str:
    """The DDL of a view's current and history tables, with the one index that a replay reads
    (``row_id``, the primary key) and no secondary index (idempotent)."""
    view = check_view_name(view)
    return f"""
CREATE TABLE IF NOT EXISTS "{view}" (
    row_id TEXT PRIMARY KEY,
    from_seq INTEGER NOT NULL,
    from_idx INTEGER NOT NULL,
    removed INTEGER NOT NULL,
    {_COLUMNS},
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS "{versions_name(view)}" (
    row_id TEXT NOT NULL,
    from_seq INTEGER NOT NULL,
    to_seq INTEGER NOT NULL,
    removed INTEGER NOT NULL,
    {_COLUMNS},
    doc TEXT NOT NULL
);
"""


def view_indexes_ddl(view: str) -> str:
    """The secondary indexes of a view's tables (idempotent; a bulk load adds them last).

    History indexes end with ``from_seq`` so a time-travel lookup is one range scan; the
    interval index is on ``to_seq`` alone, which is what bounds the closed versions still
    valid at a recent seq."""
    view = check_view_name(view)
    history = versions_name(view)
    return f"""
CREATE INDEX IF NOT EXISTS "{view}_key" ON "{view}" (key);
CREATE INDEX IF NOT EXISTS "{view}_name" ON "{view}" (schema_ref, data_name);
CREATE INDEX IF NOT EXISTS "{view}_schema_name" ON "{view}" (schema_name) WHERE schema_name IS NOT NULL;
CREATE INDEX IF NOT EXISTS "{history}_key" ON "{history}" (key, from_seq);
CREATE INDEX IF NOT EXISTS "{history}_name" ON "{history}" (schema_ref, data_name, from_seq);
CREATE INDEX IF NOT EXISTS "{history}_schema_name" ON "{history}" (schema_name, from_seq) WHERE schema_name IS NOT NULL;
CREATE INDEX IF NOT EXISTS "{history}_interval" ON "{history}" (to_seq);
"""


def view_ddl(view: str) -> str:
    """The DDL of a view's current and history tables with their indexes (idempotent)."""
    return view_tables_ddl(view) + view_indexes_ddl(view)


def drop_view_ddl(view: str) -> str:
    view = check_view_name(view)
    return f"""
DROP TABLE IF EXISTS "{view}";
DROP TABLE IF EXISTS "{versions_name(view)}";
DELETE FROM checkpoints WHERE view = '{view}';
"""


def upgrade_layout(db: sqlite3.Connection) -> None:
    """Bring an older store to :data:`LAYOUT_VERSION` and make sure ``checkpoints`` exists
    (call inside a write transaction, after the log tables exist).

    The log tables never change; view tables of an older layout (every layout's view tables
    have a ``row_id`` and a ``doc`` column) are dropped with the checkpoints, so the views
    replay from the log at the next catch-up."""
    if db.execute("PRAGMA user_version").fetchone()[0] < LAYOUT_VERSION:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = {row[1] for row in db.execute(f'PRAGMA table_xinfo("{table}")')}
            if {"row_id", "doc"} <= columns or table == "checkpoints":
                db.execute(f'DROP TABLE "{table}"')
        db.execute(f"PRAGMA user_version = {LAYOUT_VERSION}")
    db.execute(CHECKPOINTS_TABLE)
