"""The view writer and view queries of the embedded backend."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, Iterable, Mapping, Optional, cast

import attrs

from projections.runner import RowPosition
from signalstore_es.adapters.sqlite.schema import (
    COLUMN_NAMES,
    PUSHDOWN_COLUMNS,
    PUSHDOWN_FIELDS,
    check_view_name,
    versions_name,
    view_indexes_ddl,
    view_tables_ddl,
)
from signalstore_es.domain.codec import dumps_json, has_non_finite, loads_json
from signalstore_es.domain.query import check_embedded_filter, compile_filter, pushdown_equalities, sort_documents
from signalstore_es.ports.storage import SortSpec

RowState = tuple[Optional[dict[str, Any]], Optional[RowPosition]]
#: views whose documents come from validated records and models only (finite floats); rows of
#: other (user) views are checked, so a NaN fails the write as it did with the stdlib encoder
_VALIDATED_VIEWS = frozenset({"records", "domain_models", "purged_blobs"})
#: rows buffered before the writer sends them to SQLite (one executemany per table)
FLUSH_ROWS = 20_000
_IN_BATCH = 500  #: row ids per prefetch query (SQLite allows 32,766 parameters)


def dumps(document: Mapping[str, Any]) -> str:
    return dumps_json(document)


def loads(text: str) -> dict[str, Any]:
    return loads_json(text)  # type: ignore[no-any-return]


def run_script(connection: sqlite3.Connection, script: str) -> None:
    """Run several statements without the implicit COMMIT of ``executescript``."""
    for statement in script.split(";"):
        if statement.strip():
            connection.execute(statement)


def pushdown_values(document: Mapping[str, Any]) -> tuple[Optional[str], ...]:
    """The indexed columns of a row (in ``PUSHDOWN_FIELDS`` order): each field's value if it
    is a str, else NULL."""
    get = document.get
    key, schema_ref, data_name, schema_name = get("_key"), get("schema_ref"), get("data_name"), get("schema_name")
    return (key if type(key) is str else None, schema_ref if type(schema_ref) is str else None,
            data_name if type(data_name) is str else None,
            schema_name if type(schema_name) is str else None)


assert PUSHDOWN_FIELDS == ("_key", "schema_ref", "data_name", "schema_name"), "update pushdown_values"


@attrs.define
class _Pending:
    """The changes of one view not yet sent to SQLite."""

    #: final state of each changed row: (position, JSON text, indexed columns); text None: deleted
    rows: dict[str, tuple[RowPosition, Optional[str], Any]] = attrs.Factory(dict)
    stored: dict[str, bool] = attrs.Factory(dict)  #: row id -> whether the table holds it
    history: dict[str, list[Any]] = attrs.Factory(dict)  #: new history rows by version id
    closes: list[tuple[int, str]] = attrs.Factory(list)  #: (to_seq, version id) of stored versions


class SqliteViewWriter:
    """Implements :class:`projections.runner.ViewWriter` inside the caller's transaction.

    Changes are buffered and written with one ``executemany`` per table when a view's
    checkpoint is set after :data:`FLUSH_ROWS` buffered rows, and by :meth:`flush`, which the
    backend calls before it commits (nothing reads the view tables in between). Reads see the
    buffer first. A row's open history version is the one stamped with the row's position, so
    closing it is a primary-key update, and a new row (no current row) has none to close.
    :meth:`prefetch` loads the rows of a whole commit with a few ``IN`` queries.
    """

    def __init__(self, connection: sqlite3.Connection, ready: Optional[set[str]] = None) -> None:
        self._db = connection
        self._ready: set[str] = ready if ready is not None else set()
        self._pending: dict[str, _Pending] = {}
        self._known: dict[str, dict[str, RowState]] = {}  #: rows read from the tables
        self._checkpoints: dict[str, int] = {}  #: set since the last flush
        self._read_checkpoints: dict[str, int] = {}  #: read in the current transaction
        self._buffered = 0

    def ensure_view(self, view: str, *, indexes: bool = True) -> None:
        if view not in self._ready:
            run_script(self._db, view_tables_ddl(view) + (view_indexes_ddl(view) if indexes else ""))
            self._ready.add(view)

    # -- reads ---------------------------------------------------------------------------------
    def prefetch(self, view: str, row_ids: Iterable[str]) -> None:
        """Load the rows ``row_ids`` (those not known yet) with one query per few hundred."""
        self.ensure_view(view)
        known = self._known.setdefault(view, {})
        pending = self._pending.get(view)
        written = pending.rows if pending is not None else {}
        missing = list(dict.fromkeys(r for r in row_ids if r not in known and r not in written))
        for start in range(0, len(missing), _IN_BATCH):
            batch = missing[start:start + _IN_BATCH]
            marks = ",".join("?" * len(batch))
            for row_id, text, seq, index in self._db.execute(
                    f'SELECT row_id, doc, pos_seq, pos_idx FROM "{view}" WHERE row_id IN ({marks})', batch):
                known[row_id] = (loads(text), RowPosition(seq, index))
            for row_id in batch:
                known.setdefault(row_id, (None, None))

    def read_row(self, view: str, row_id: str) -> RowState:
        pending = self._pending.get(view)
        if pending is not None:
            found = pending.rows.get(row_id)
            if found is not None:  # written in this batch: only its text is kept
                return (None if found[1] is None else loads(found[1])), found[0]
        known = self._known.get(view)
        if known is not None:
            state = known.get(row_id)
            if state is not None:
                return state
        self.ensure_view(view)
        found = self._db.execute(
            f'SELECT doc, pos_seq, pos_idx FROM "{view}" WHERE row_id = ?', (row_id,)).fetchone()
        state = (None, None) if found is None else (loads(found[0]), RowPosition(found[1], found[2]))
        self._known.setdefault(view, {})[row_id] = state
        return state

    # -- writes --------------------------------------------------------------------------------
    def write_row(self, view: str, row_id: str, document: Optional[dict[str, Any]],
                  position: RowPosition) -> None:
        pending = self._pending.get(view)
        if pending is None:
            self.ensure_view(view)
            pending = self._pending[view] = _Pending()
        rows = pending.rows
        earlier = rows.get(row_id)
        previous: Optional[RowPosition]
        if earlier is not None:  # written before in this batch
            exists, previous = earlier[1] is not None, earlier[0]
        else:
            before, previous = self.read_row(view, row_id)
            exists = before is not None
            pending.stored[row_id] = exists
        if exists and previous is not None:  # close the open version
            closed = f"{row_id}@{previous.seq}:{previous.index}"
            opened = pending.history.get(closed)
            if opened is not None:
                opened[3] = position.seq
            else:
                pending.closes.append((position.seq, closed))
        if document is None:
            rows[row_id] = (position, None, None)
        else:
            if view not in _VALIDATED_VIEWS and has_non_finite(document):
                raise ValueError(f"Out of range float values are not JSON compliant (a row of view {view!r})")
            text = dumps(document)
            columns = pushdown_values(document)
            rows[row_id] = (position, text, columns)
            version_id = f"{row_id}@{position.seq}:{position.index}"
            pending.history[version_id] = [version_id, row_id, position.seq, None, text, *columns]
        self._buffered += 1

    def checkpoint(self, view: str) -> int:
        if view in self._checkpoints:
            return self._checkpoints[view]
        if view in self._read_checkpoints:
            return self._read_checkpoints[view]
        if self._db.in_transaction:  # stable until the transaction ends (then discard() runs)
            self._read_checkpoints.update(
                (name, int(seq)) for name, seq in self._db.execute("SELECT view, seq FROM checkpoints"))
            return self._read_checkpoints.setdefault(view, 0)
        found = self._db.execute("SELECT seq FROM checkpoints WHERE view = ?", (view,)).fetchone()
        return int(found[0]) if found else 0

    def set_checkpoint(self, view: str, seq: int) -> None:
        self._checkpoints[view] = seq
        if self._buffered >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write every buffered change (call before anything else reads the view tables)."""
        for view, pending in self._pending.items():
            self._flush_view(view, pending)
        if self._checkpoints:
            self._db.executemany(
                "INSERT INTO checkpoints (view, seq) VALUES (?, ?) "
                "ON CONFLICT (view) DO UPDATE SET seq = excluded.seq", list(self._checkpoints.items()))
        self.discard()

    def discard(self) -> None:
        """Forget buffered changes and cached rows (after a flush, or a rolled-back transaction)."""
        self._pending.clear()
        self._known.clear()
        self._checkpoints.clear()
        self._read_checkpoints.clear()
        self._buffered = 0

    def _flush_view(self, view: str, pending: _Pending) -> None:
        history = versions_name(view)
        if pending.closes:
            self._db.executemany(f'UPDATE "{history}" SET to_seq = ? WHERE version_id = ?', pending.closes)
        if pending.history:
            self._db.executemany(
                f'INSERT OR REPLACE INTO "{history}" (version_id, row_id, from_seq, to_seq, doc, '
                f"{COLUMN_NAMES}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", list(pending.history.values()))
        new: list[tuple[Any, ...]] = []
        changed: list[tuple[Any, ...]] = []
        deleted: list[tuple[str]] = []
        for row_id, (position, text, columns) in pending.rows.items():
            stored = pending.stored[row_id]
            if text is None:
                if stored:
                    deleted.append((row_id,))
                continue
            values = (row_id, text, position.seq, position.index, *columns)
            (changed if stored else new).append(values)
        if deleted:
            self._db.executemany(f'DELETE FROM "{view}" WHERE row_id = ?', deleted)
        insert = f'INSERT INTO "{view}" (row_id, doc, pos_seq, pos_idx, {COLUMN_NAMES}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'
        if new:
            self._db.executemany(insert, new)
        if changed:
            self._db.executemany(
                insert + " ON CONFLICT (row_id) DO UPDATE SET doc = excluded.doc, pos_seq = excluded.pos_seq, "
                "pos_idx = excluded.pos_idx, " + ", ".join(f"{c} = excluded.{c}" for c in PUSHDOWN_COLUMNS.values()),
                changed)


# ------------------------------------------------------------------------------------ queries


def find_rows(connection: sqlite3.Connection, view: str, filter: Mapping[str, Any], *,
              as_of: Optional[int], sort: Optional[SortSpec], limit: Optional[int]) -> list[dict[str, Any]]:
    """Select candidate rows through the indexed columns, then match the full filter in Python.

    A filter made only of string equalities on indexed fields and ``time_of_removal`` being
    (not) None, at the top level or in a top-level ``$and`` - the lookups the API makes on
    every add, get and find by name - is answered by SQL alone. Other filters are checked and
    compiled once per distinct filter (a small cache) and matched in Python.
    """
    if view not in _VIEW_NAMES:
        _VIEW_NAMES.add(check_view_name(view))
    exact = _exact_conditions(filter)
    if exact is not None:
        return _select(connection, view, exact, as_of, None, sort, limit)
    equalities, matches = _compiled(filter)
    return _select(connection, view, equalities, as_of, matches, sort, limit)


_VIEW_NAMES: set[str] = set()
_NOT_NONE = "$ne None"  #: time_of_removal's condition for "not None"


def _exact_conditions(filter: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """The filter as column conditions if SQL can answer it exactly, else None."""
    conditions: dict[str, Any] = {}
    for field, value in filter.items():
        if type(value) is str and field in PUSHDOWN_COLUMNS:
            pass
        elif field == "time_of_removal":
            if value is None:
                pass
            elif _is_ne_none(value):
                value = _NOT_NONE
            else:
                return None
        elif field == "$and":
            return _exact_conjunction(filter)
        else:
            return None
        conditions[field] = value
    return conditions


def _exact_conjunction(filter: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    conditions: dict[str, Any] = {}
    return conditions if _collect_exact(filter, conditions) else None


def _collect_exact(filter: Mapping[str, Any], into: dict[str, Any]) -> bool:
    for field, value in filter.items():
        if field == "$and":
            if type(value) is not list or not value or not all(
                    isinstance(clause, Mapping) and _collect_exact(clause, into) for clause in value):
                return False
            continue
        if field in PUSHDOWN_COLUMNS and type(value) is str:
            pass
        elif field == "time_of_removal" and (value is None or _is_ne_none(value)):
            value = None if value is None else _NOT_NONE
        else:
            return False
        if into.setdefault(field, value) != value:  # two different values: leave it to the matcher
            return False
    return True


def _is_ne_none(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and "$ne" in value and value["$ne"] is None


_COMPILED: dict[Any, tuple[dict[str, Any], Any]] = {}
_COMPILED_MAX = 512


def _compiled(filter: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """(pushed-down equalities, matcher) of a filter, cached by the filter's exact value."""
    key = _freeze(filter)
    found = _COMPILED.get(key) if key is not None else None
    if found is None:
        checked = check_embedded_filter(dict(filter))
        found = (pushdown_equalities(checked, PUSHDOWN_COLUMNS), compile_filter(checked))
        if key is not None:
            if len(_COMPILED) >= _COMPILED_MAX:
                _COMPILED.clear()
            _COMPILED[key] = found
    return found


_FROZEN_SCALARS = (str, int, float, bool, type(None), datetime)


def _freeze(value: Any, depth: int = 0) -> Any:
    """A hashable, type-exact image of a filter (``1``, ``1.0`` and ``True`` stay apart), or
    None when it holds anything else (then nothing is cached)."""
    kind = type(value)
    if kind in _FROZEN_SCALARS:
        return (kind, value.isoformat() if kind is datetime else value)
    if depth > 32:
        return None
    if kind is dict:
        items = []
        for k, v in value.items():
            frozen = _freeze(v, depth + 1)
            if frozen is None or type(k) is not str:
                return None
            items.append((k, frozen))
        return (dict, tuple(items))
    if kind is list or kind is tuple:
        items = []
        for v in value:
            frozen = _freeze(v, depth + 1)
            if frozen is None:
                return None
            items.append(frozen)
        return (kind, tuple(items))
    return None


def _select(connection: sqlite3.Connection, view: str, conditions: Mapping[str, Any], as_of: Optional[int],
            matches: Any, sort: Optional[SortSpec], limit: Optional[int]) -> list[dict[str, Any]]:
    sql, params = _candidate_query(view, conditions, as_of)
    if limit and matches is None and not sort:
        sql += f" LIMIT {int(limit)}"
    try:
        cursor = connection.execute(sql, params)
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):
            return []
        raise
    rows: list[dict[str, Any]]
    if matches is None:
        rows = [loads(text) for (text,) in cursor]
    else:
        rows = [doc for doc in (loads(text) for (text,) in cursor) if matches(doc)]
    if sort:
        rows = cast("list[dict[str, Any]]", sort_documents(rows, sort))
    return rows[:limit] if limit else rows


_SQL: dict[tuple[Any, ...], str] = {}


def _candidate_query(view: str, equalities: Mapping[str, Any], as_of: Optional[int]) -> tuple[str, list[Any]]:
    removal = equalities.get("time_of_removal", _NO_CONDITION)
    params = [v for f, v in equalities.items() if f != "time_of_removal"]
    if as_of is not None:
        params.extend((as_of, as_of))
    shape = (view, as_of is None, tuple(equalities), removal)
    sql = _SQL.get(shape)
    if sql is None:
        conditions: list[str] = []
        for field, value in equalities.items():
            if field == "time_of_removal":  # None matches null and missing, as in MongoDB
                test = "NULL" if value is None else "NOT NULL"
                conditions.append(f"json_extract(doc, '$.time_of_removal') IS {test}")
            else:
                conditions.append(f"{PUSHDOWN_COLUMNS[field]} = ?")
        table = view
        if as_of is not None:
            table = versions_name(view)
            conditions.append("from_seq <= ? AND (to_seq IS NULL OR to_seq > ?)")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f'SELECT doc FROM "{table}"{where}'
        if len(_SQL) < 4096:
            _SQL[shape] = sql
    return sql, params


_NO_CONDITION = object()
