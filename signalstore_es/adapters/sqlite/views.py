"""The view writer and view queries of the embedded backend."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Mapping, Optional

from projections.runner import RowPosition
from signalstore_es.adapters.sqlite.schema import PUSHDOWN_COLUMNS, check_view_name, versions_name, view_ddl
from signalstore_es.domain.codec import decode_json_value, encode_json_value
from signalstore_es.domain.query import check_embedded_filter, compile_filter, pushdown_equalities, sort_documents
from signalstore_es.ports.storage import SortSpec


def dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(encode_json_value(document), separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def loads(text: str) -> dict[str, Any]:
    return decode_json_value(json.loads(text))  # type: ignore[no-any-return]


def run_script(connection: sqlite3.Connection, script: str) -> None:
    """Run several statements without the implicit COMMIT of ``executescript``."""
    for statement in script.split(";"):
        if statement.strip():
            connection.execute(statement)


class SqliteViewWriter:
    """Implements :class:`projections.runner.ViewWriter` inside the caller's transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._ready: set[str] = set()

    def ensure_view(self, view: str) -> None:
        if view not in self._ready:
            run_script(self._db, view_ddl(view))
            self._ready.add(view)

    def read_row(self, view: str, row_id: str) -> tuple[Optional[dict[str, Any]], Optional[RowPosition]]:
        self.ensure_view(view)
        found = self._db.execute(
            f'SELECT doc, pos_seq, pos_idx FROM "{view}" WHERE row_id = ?', (row_id,)
        ).fetchone()
        if found is None:
            return None, None
        return loads(found[0]), RowPosition(found[1], found[2])

    def write_row(self, view: str, row_id: str, document: Optional[dict[str, Any]],
                  position: RowPosition) -> None:
        self.ensure_view(view)
        history = versions_name(view)
        self._db.execute(f'UPDATE "{history}" SET to_seq = ? WHERE row_id = ? AND to_seq IS NULL',
                         (position.seq, row_id))
        if document is None:
            self._db.execute(f'DELETE FROM "{view}" WHERE row_id = ?', (row_id,))
            return
        text = dumps(document)
        self._db.execute(
            f'INSERT INTO "{view}" (row_id, doc, pos_seq, pos_idx) VALUES (?, ?, ?, ?) '
            "ON CONFLICT (row_id) DO UPDATE SET doc = excluded.doc, pos_seq = excluded.pos_seq, "
            "pos_idx = excluded.pos_idx",
            (row_id, text, position.seq, position.index),
        )
        self._db.execute(
            f'INSERT OR REPLACE INTO "{history}" (version_id, row_id, from_seq, to_seq, doc) '
            "VALUES (?, ?, ?, NULL, ?)",
            (f"{row_id}@{position.seq}:{position.index}", row_id, position.seq, text),
        )

    def checkpoint(self, view: str) -> int:
        found = self._db.execute("SELECT seq FROM checkpoints WHERE view = ?", (view,)).fetchone()
        return int(found[0]) if found else 0

    def set_checkpoint(self, view: str, seq: int) -> None:
        self._db.execute(
            "INSERT INTO checkpoints (view, seq) VALUES (?, ?) "
            "ON CONFLICT (view) DO UPDATE SET seq = excluded.seq",
            (view, seq),
        )


def find_rows(connection: sqlite3.Connection, view: str, filter: Mapping[str, Any], *,
              as_of: Optional[int], sort: Optional[SortSpec], limit: Optional[int]) -> list[dict[str, Any]]:
    """Select candidate rows through the indexed columns, then match the full filter in Python.

    A filter made only of string equalities on indexed fields and ``time_of_removal`` being
    (not) None - the lookups the API makes on every add and get - is answered by SQL alone.
    """
    exact = _exact_conditions(filter)
    if exact is not None:
        return _select(connection, check_view_name(view), exact, as_of, lambda doc: True, sort, limit)
    checked = check_embedded_filter(dict(filter))
    return _select(connection, check_view_name(view), pushdown_equalities(checked, PUSHDOWN_COLUMNS),
                   as_of, compile_filter(checked), sort, limit)


def _exact_conditions(filter: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """The filter as column conditions if SQL can answer it exactly, else None."""
    conditions: dict[str, Any] = {}
    for field, value in filter.items():
        if field in PUSHDOWN_COLUMNS and type(value) is str:
            conditions[field] = value
        elif field == "time_of_removal" and (value is None or value == {"$ne": None}):
            conditions[field] = value
        else:
            return None
    return conditions


def _select(connection: sqlite3.Connection, view: str, conditions: Mapping[str, Any], as_of: Optional[int],
            matches: Any, sort: Optional[SortSpec], limit: Optional[int]) -> list[dict[str, Any]]:
    sql, params = _candidate_query(view, conditions, as_of)
    try:
        cursor = connection.execute(sql, params)
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):
            return []
        raise
    rows = [doc for doc in (loads(text) for (text,) in cursor) if matches(doc)]
    if sort:
        rows = sort_documents(rows, sort)
    return rows[:limit] if limit else rows


def _candidate_query(view: str, equalities: Mapping[str, Any], as_of: Optional[int]) -> tuple[str, list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    for field, value in equalities.items():
        if field == "time_of_removal":  # None matches null and missing, as in MongoDB
            conditions.append("json_extract(doc, '$.time_of_removal') IS " + ("NULL" if value is None else "NOT NULL"))
            continue
        conditions.append(f"{PUSHDOWN_COLUMNS[field]} = ?")
        params.append(value)
    table = view
    if as_of is not None:
        table = versions_name(view)
        conditions.append("from_seq <= ? AND (to_seq IS NULL OR to_seq > ?)")
        params.extend([as_of, as_of])
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f'SELECT doc FROM "{table}"{where}', params
