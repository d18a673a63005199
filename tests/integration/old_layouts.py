"""Making a store look as an older version of the embedded backend left it (layout-upgrade tests)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable


def install_old_layout(path: str, *, drop: Iterable[str], ddl: str, user_version: int,
                       statements: Iterable[str] = ()) -> None:
    """Drop the view tables ``drop``, create the old layout's ``ddl`` with a stale row in its
    ``records`` table, run ``statements`` and set the old ``user_version`` (the store must be
    closed)."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for table in drop:
            db.execute(f'DROP TABLE "{table}"')
        for statement in ddl.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute("INSERT INTO records (row_id, doc, pos_seq, pos_idx) VALUES ('stale', '{}', 1, 0)")
        for statement in statements:
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {int(user_version)}")
    finally:
        db.close()
