"""The view writer and view queries of the embedded backend (layout: :mod:`.schema`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Optional, cast

import attrs

from projections.runner import RowPosition
from signalstore_es.adapters.sqlite.schema import (
    ARRAY_MARK,
    COLUMN_NAMES,
    PUSHDOWN_COLUMNS,
    PUSHDOWN_FIELDS,
    REMOVAL_FIELD,
    REMOVED_MAYBE,
    check_view_name,
    versions_name,
    view_indexes_ddl,
    view_tables_ddl,
)
from signalstore_es.domain.codec import dumps_json, has_non_finite, has_wide_int, loads_json
from signalstore_es.domain.query import check_embedded_filter, compile_filter, pushdown_equalities, sort_documents
from signalstore_es.ports.storage import SortSpec

RowState = tuple[Optional[dict[str, Any]], Optional[RowPosition]]
#: a row's plain columns after its position: (removed, key, schema_ref, data_name, schema_name)
Columns = tuple[int, Optional[str], Optional[str], Optional[str], Optional[str]]
#: the indexed fields (and ``time_of_removal``) that can hold an array in each built-in view
#: (a record may have a ``schema_name`` property; keys, names and removal times are validated
#: scalars); any other view may hold arrays anywhere. Queries look for array marks only where
#: they can be, so the lookups of every add, get and find stay one plain index probe.
_ARRAY_FIELDS = {"records": frozenset({"schema_name"}), "domain_models": frozenset(),
                 "purged_blobs": frozenset()}
_ANY_FIELD = frozenset({*PUSHDOWN_FIELDS, REMOVAL_FIELD})
#: views whose documents come from validated records and models only (finite floats): the
#: built-in ones. Rows of other (user) views are checked, so a NaN fails the write as it did
#: with the stdlib encoder
_VALIDATED_VIEWS = frozenset(_ARRAY_FIELDS)
_ARRAYS = (list, tuple)
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


def row_columns(document: Mapping[str, Any]) -> Columns:
    """The plain columns of a row: ``removed`` (1 if ``time_of_removal`` is set, 0 if it is
    null or missing, as MongoDB's ``None`` matches both, :data:`REMOVED_MAYBE` for an array),
    then the indexed fields in ``PUSHDOWN_FIELDS`` order, each as :func:`plain_column` gives it."""
    get = document.get
    removal = get(REMOVAL_FIELD)
    return (0 if removal is None else REMOVED_MAYBE if type(removal) in _ARRAYS else 1,
            plain_column(get("_key")), plain_column(get("schema_ref")), plain_column(get("data_name")),
            plain_column(get("schema_name")))


def plain_column(value: Any) -> str | None:
    """An indexed field's column: the value if it is a str, :data:`ARRAY_MARK` for an array
    (an element may equal what a query asks), else NULL (nothing a pushed-down query asks)."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    return ARRAY_MARK if kind in _ARRAYS else None


assert PUSHDOWN_FIELDS == ("_key", "schema_ref", "data_name", "schema_name"), "update row_columns"
assert REMOVAL_FIELD == "time_of_removal", "update row_columns"

def array_fields(view: str) -> frozenset[str]:
    """The indexed fields (and ``time_of_removal``) of ``view`` whose columns may be marked."""
    return _ARRAY_FIELDS.get(view, _ANY_FIELD)


def _check_built_in(view: str, document: Mapping[str, Any], columns: Columns) -> None:
    """A built-in view's row never holds an array where its queries do not look for one (the
    document is only inspected when ``columns``, its :func:`row_columns`, hold a mark)."""
    if columns[0] != REMOVED_MAYBE and ARRAY_MARK not in columns:
        return
    fields = _ARRAY_FIELDS[view]
    for field in _ANY_FIELD:
        if field not in fields and type(document.get(field)) in _ARRAYS:
            raise ValueError(f"a row of the built-in view {view!r} holds an array in {field!r}, "
                             "which its queries would not find (a bug: please report it)")


def _check_storable(view: str, document: Mapping[str, Any]) -> None:
    """Refuse what JSON text would not give back as written (a user projector's row)."""
    if has_non_finite(document):
        raise ValueError(f"Out of range float values are not JSON compliant (a row of view {view!r})")
    if has_wide_int(document):
        raise ValueError(f"a row of view {view!r} holds an integer beyond 64 bits, which the store "
                         "cannot give back exactly (MongoDB refuses it too); store it as a str or float")


#: a row as the writer knows it: (position, JSON text, plain columns); text None: no row
_State = tuple[Optional[RowPosition], Optional[str], Optional[Columns]]
_ABSENT: _State = (None, None, None)
_ROW_COLUMNS = f"from_seq, from_idx, {COLUMN_NAMES}, doc"  #: as read from and written to a table


@attrs.define
class _Pending:
    """The changes of one view not yet sent to SQLite."""

    rows: dict[str, _State] = attrs.Factory(dict)  #: final state of each changed row
    #: row id -> the plain columns the table holds for it (None: the table has no such row)
    stored: dict[str, Optional[Columns]] = attrs.Factory(dict)
    closed: list[tuple[Any, ...]] = attrs.Factory(list)  #: history rows: versions closed by a write


class SqliteViewWriter:
    """Implements :class:`projections.runner.ViewWriter` inside the caller's transaction.

    Changes are buffered and written with one ``executemany`` per table when a view's
    checkpoint is set after :data:`FLUSH_ROWS` buffered rows, and by :meth:`flush`, which the
    backend calls before it commits (nothing reads the view tables in between). Reads see the
    buffer first. The current row is its open version, so a write closes it by adding the
    previous state to the history table with ``to_seq`` set (an insert, never an update); a new
    row has nothing to close. :meth:`prefetch` loads the rows of a whole commit with a few
    ``IN`` queries.
    """

    def __init__(self, connection: sqlite3.Connection, ready: Optional[set[str]] = None) -> None:
        self._db = connection
        self._ready: set[str] = ready if ready is not None else set()
        self._pending: dict[str, _Pending] = {}
        #: rows read from the tables: their documents (as handed to projectors) and states
        self._known: dict[str, dict[str, tuple[Optional[dict[str, Any]], _State]]] = {}
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
            for row_id, *stored in self._db.execute(
                    f'SELECT row_id, {_ROW_COLUMNS} FROM "{view}" WHERE row_id IN ({marks})', batch):
                known[row_id] = _known_row(stored)
            for row_id in batch:
                known.setdefault(row_id, (None, _ABSENT))

    def read_row(self, view: str, row_id: str) -> RowState:
        pending = self._pending.get(view)
        if pending is not None:
            found = pending.rows.get(row_id)
            if found is not None:  # written in this batch: only its text is kept
                return (None if found[1] is None else loads(found[1])), found[0]
        document, (position, _, _) = self._stored(view, row_id)
        return document, position

    def _stored(self, view: str, row_id: str) -> tuple[Optional[dict[str, Any]], _State]:
        """A row as the table holds it (cached until the transaction ends)."""
        known = self._known.get(view)
        if known is not None:
            found = known.get(row_id)
            if found is not None:
                return found
        self.ensure_view(view)
        stored = self._db.execute(f'SELECT {_ROW_COLUMNS} FROM "{view}" WHERE row_id = ?', (row_id,)).fetchone()
        found = (None, _ABSENT) if stored is None else _known_row(stored)
        self._known.setdefault(view, {})[row_id] = found
        return found

    # -- writes --------------------------------------------------------------------------------
    def write_row(self, view: str, row_id: str, document: Optional[dict[str, Any]],
                  position: RowPosition) -> None:
        pending = self._pending.get(view)
        if pending is None:
            self.ensure_view(view)
            pending = self._pending[view] = _Pending()
        rows = pending.rows
        previous = rows.get(row_id)
        if previous is None:  # first write in this batch: the table's state
            previous = self._stored(view, row_id)[1]
            pending.stored[row_id] = previous[2]
        since, text, columns = previous
        if text is not None and since.seq < position.seq:  # type: ignore[union-attr]
            # close the open version; one that opened in this very commit is valid at no seq
            pending.closed.append((row_id, since.seq, position.seq, *columns, text))  # type: ignore
        if document is None:
            rows[row_id] = (position, None, None)
        else:
            columns = row_columns(document)
            if view in _VALIDATED_VIEWS:
                _check_built_in(view, document, columns)
            else:
                _check_storable(view, document)
            rows[row_id] = (position, dumps(document), columns)
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
        if pending.closed:
            self._db.executemany(
                f'INSERT INTO "{versions_name(view)}" (row_id, from_seq, to_seq, {COLUMN_NAMES}, doc) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", pending.closed)
        new: list[tuple[Any, ...]] = []
        changed: list[tuple[Any, ...]] = []  #: rows whose indexed columns change too
        restated: list[tuple[Any, ...]] = []  #: rows whose indexed columns stay (a remove, a restore)
        deleted: list[tuple[str]] = []
        for row_id, (position, text, columns) in pending.rows.items():
            stored = pending.stored[row_id]
            if text is None:
                if stored is not None:
                    deleted.append((row_id,))
            elif stored is None:
                new.append((row_id, position.seq, position.index, *columns, text))  # type: ignore
            elif stored[1:] == columns[1:]:  # type: ignore[index]
                restated.append((position.seq, position.index, columns[0], text, row_id))  # type: ignore
            else:
                changed.append((position.seq, position.index, *columns, text, row_id))  # type: ignore
        if deleted:
            self._db.executemany(f'DELETE FROM "{view}" WHERE row_id = ?', deleted)
        if new:
            self._db.executemany(
                f'INSERT INTO "{view}" (row_id, {_ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', new)
        # SQLite rewrites the entries of every index whose columns an UPDATE sets, even to the
        # same values, so a row whose indexed columns stay sets only the others
        if restated:
            self._db.executemany(
                f'UPDATE "{view}" SET from_seq = ?, from_idx = ?, removed = ?, doc = ? WHERE row_id = ?', restated)
        if changed:
            assignments = ", ".join(f"{column} = ?" for column in _ROW_COLUMNS.split(", "))
            self._db.executemany(f'UPDATE "{view}" SET {assignments} WHERE row_id = ?', changed)


def _known_row(stored: Any) -> tuple[dict[str, Any], _State]:
    """(document, state) of a row read as ``_ROW_COLUMNS``."""
    from_seq, from_idx, removed, key, schema_ref, data_name, schema_name, text = stored
    return loads(text), (RowPosition(from_seq, from_idx), text, (removed, key, schema_ref, data_name, schema_name))


# ------------------------------------------------------------------------------------ queries


def find_rows(connection: sqlite3.Connection, view: str, filter: Mapping[str, Any], *,
              as_of: int | None, sort: SortSpec | None, limit: int | None) -> list[dict[str, Any]]:
    """Select candidate rows through the indexed columns, then match the full filter in Python.

    A filter made only of string equalities and ``$in`` lists of strings on indexed fields and
    ``time_of_removal`` being (not) None, at the top level or in a top-level ``$and`` - the
    lookups the API makes on every add, get and find by name, and on every chunk of
    ``add_many`` - is answered by SQL alone; the commonest of them, a live row by ``_key`` now
    (every ``add`` asks it), skips even the filter analysis. Other filters are checked and
    compiled once per distinct filter (a small cache) and matched in Python, their string
    equalities and one ``$in`` still selecting candidates through the indexes.

    MongoDB's ``{"f": "x"}`` and ``$in`` also match an array holding ``"x"``, and
    ``{"time_of_removal": None}`` an array holding null, which a column cannot show. Such rows
    carry a mark in the column (:func:`row_columns`); a query selects the marked rows too
    wherever the view may hold them (:func:`array_fields`) and matches them in Python, so
    results are those of the full matcher for every row.
    """
    if as_of is None and not sort and len(filter) == 2 and filter.get(REMOVAL_FIELD, _NO_CONDITION) is None:
        key = filter.get("_key")
        if type(key) is str:
            return _live_by_key(connection, view, key, limit, filter)
    if view not in _VIEW_NAMES:
        _VIEW_NAMES.add(check_view_name(view))
    exact = _exact_conditions(filter)
    if exact is not None:
        return _select(connection, view, exact, as_of, None, sort, limit, filter)
    conditions, matches = _compiled(filter)
    return _select(connection, view, conditions, as_of, matches, sort, limit, filter)


_VIEW_NAMES: set[str] = set()
_NOT_NONE = "$ne None"  #: time_of_removal's condition for "not None"
_NO_CONDITION = object()
_LIVE_BY_KEY: dict[str, tuple[str, int]] = {}  #: view -> (SQL, number of key parameters)


class _In(tuple):  # type: ignore[type-arg]
    """A column condition from ``{"field": {"$in": [str, ...]}}``: the column is one of these
    (or marks an array, which the matcher decides)."""

    __slots__ = ()


def _live_by_key(connection: sqlite3.Connection, view: str, key: str, limit: int | None,
                 filter: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``{"_key": key, "time_of_removal": None}`` on the current rows: one index probe (and
    probes for array marks, which find nothing, in a view whose keys may be arrays)."""
    found = _LIVE_BY_KEY.get(view)
    if found is None:
        sql, params = _candidate_query(check_view_name(view), {"_key": key, REMOVAL_FIELD: None}, None)
        found = (sql, len(params))
        if len(_LIVE_BY_KEY) < 1024:
            _LIVE_BY_KEY[view] = found
    try:
        cursor = connection.execute(found[0], (key,) * found[1])
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):
            return []
        raise
    return _matched_rows(cursor, None, filter, limit)


def _exact_conditions(filter: Mapping[str, Any]) -> dict[str, Any] | None:
    """The filter as column conditions if SQL (with the marked rows matched in Python) can
    answer it, else None."""
    conditions: dict[str, Any] = {}
    return conditions if _collect_exact(filter, conditions) else None


def _collect_exact(filter: Mapping[str, Any], into: dict[str, Any]) -> bool:
    for field, value in filter.items():
        if field == "$and":
            if type(value) is not list or not value or not all(
                    isinstance(clause, Mapping) and _collect_exact(clause, into) for clause in value):
                return False
            continue
        value = _column_condition(field, value)
        if value is None:
            return False
        value = None if value is _IS_NONE else value
        if into.setdefault(field, value) != value:  # two different values: leave it to the matcher
            return False
    return True


_IS_NONE = object()  #: _column_condition's answer for ``time_of_removal: None``


def _column_condition(field: str, value: Any) -> Any:
    """What ``{field: value}`` asks of the plain columns: the str, an :class:`_In`,
    :data:`_IS_NONE` or :data:`_NOT_NONE` for ``time_of_removal``; None if SQL cannot ask it."""
    if field in PUSHDOWN_COLUMNS:
        if type(value) is str:
            return value
        return _in_strings(value)
    if field == REMOVAL_FIELD:
        if value is None:
            return _IS_NONE
        if _is_ne_none(value):
            return _NOT_NONE
    return None


def _in_strings(condition: Any) -> _In | None:
    """``{"$in": [str, ...]}`` (nothing else) as an :class:`_In`, else None."""
    if type(condition) is not dict or len(condition) != 1:
        return None
    values = condition.get("$in")
    if type(values) is not list or not all(type(v) is str for v in values):
        return None
    return _In(values)


def _is_ne_none(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and "$ne" in value and value["$ne"] is None


_COMPILED: dict[Any, tuple[dict[str, Any], Any]] = {}
_COMPILED_MAX = 512


def _compiled(filter: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """(pushed-down column conditions, matcher) of a filter, cached by the filter's exact value."""
    key = _freeze(filter)
    found = _COMPILED.get(key) if key is not None else None
    if found is None:
        checked = check_embedded_filter(dict(filter))
        conditions = pushdown_equalities(checked, PUSHDOWN_COLUMNS)
        pushed_in = _first_in(checked, conditions)
        if pushed_in is not None:
            conditions[pushed_in[0]] = pushed_in[1]
        found = (conditions, compile_filter(checked))
        if key is not None:
            if len(_COMPILED) >= _COMPILED_MAX:
                _COMPILED.clear()
            _COMPILED[key] = found
    return found


def _first_in(filter: Mapping[str, Any], taken: Mapping[str, Any]) -> tuple[str, _In] | None:
    """The first ``{field: {"$in": [str, ...], ...}}`` on an indexed field not in ``taken``, at
    the top level of a checked filter or in its top-level ``$and``: a necessary condition."""
    for field, value in filter.items():
        if field == "$and":
            for clause in value:
                found = _first_in(clause, taken)
                if found is not None:
                    return found
        elif field in PUSHDOWN_COLUMNS and field not in taken and isinstance(value, Mapping) \
                and "$in" in value:
            found_in = _in_strings({"$in": value["$in"]})
            if found_in is not None:
                return field, found_in
    return None


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


def _select(connection: sqlite3.Connection, view: str, conditions: Mapping[str, Any], as_of: int | None,
            matches: Any, sort: SortSpec | None, limit: int | None,
            filter: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run the candidate query; ``matches`` None: the conditions are the whole filter, except
    for the rows a marked column selected, which ``filter`` is matched on."""
    sql, params = _candidate_query(view, conditions, as_of)
    try:
        cursor = connection.execute(sql, params)
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):
            return []
        raise
    if sort:
        rows = cast("list[dict[str, Any]]", sort_documents(_matched_rows(cursor, matches, filter, None), sort))
        return rows[:limit] if limit else rows
    return _matched_rows(cursor, matches, filter, limit)


def _matched_rows(cursor: Iterable[tuple[str, int]], matches: Any, filter: Mapping[str, Any],
                  limit: int | None) -> list[dict[str, Any]]:
    """The documents of a candidate query's rows (``(doc, marked)``), at most ``limit`` (the
    cursor is read no further): marked rows always go through the matcher, the others only if
    ``matches`` is given."""
    rows = []
    for text, marked in cursor:
        doc = loads(text)
        if marked or matches is not None:
            if matches is None:  # compiled only once a marked row turns up (rare)
                matches = _compiled(filter)[1]
            if not matches(doc):
                continue
        rows.append(doc)
        if len(rows) == limit:
            break
    return rows


#: shape of a query -> (SQL, what fills each parameter: a field's value(s), or None for as_of)
_SQL: dict[tuple[Any, ...], tuple[str, tuple[str | None, ...]]] = {}
_MARK = "'" + ARRAY_MARK.replace("'", "''") + "'"  #: the array mark as an SQL literal


def _candidate_query(view: str, conditions: Mapping[str, Any], as_of: int | None) -> tuple[str, list[Any]]:
    """The SQL selecting the documents that satisfy the column ``conditions`` (now, or at seq
    ``as_of``: the current rows written by then and the closed versions valid then), and its
    parameters. Each row comes with a flag, 1 if a marked column selected it."""
    shape = (view, as_of is None, tuple((f, len(v) if type(v) is _In else v if f == REMOVAL_FIELD else None)
                                        for f, v in conditions.items()))
    found = _SQL.get(shape)
    if found is None:
        found = _query_sql(view, conditions, as_of is not None)
        if len(_SQL) < 4096:
            _SQL[shape] = found
    sql, filled_by = found
    params: list[Any] = []
    for field in filled_by:
        if field is None:
            params.append(as_of)
        elif type(value := conditions[field]) is _In:
            params.extend(value)
        else:
            params.append(value)
    return sql, params


def _query_sql(view: str, conditions: Mapping[str, Any], as_of: bool) -> tuple[str, tuple[str | None, ...]]:
    """One SELECT per table and branch, joined by UNION ALL: the rows whose columns hold what
    is asked, then (where a column may be marked) the rows whose first marked asked column is
    each one in turn, and the rows whose ``removed`` alone is marked. The branches are
    disjoint, and each is an index probe on its equalities: the marked ones find nothing in a
    view without arrays, for about the cost of one more probe each."""
    arrays = array_fields(view)
    columns = [f for f in PUSHDOWN_FIELDS if f in conditions]  # the indexes' column order
    branches: list[int | None] = [-1, *(i for i, f in enumerate(columns) if f in arrays)]
    if REMOVAL_FIELD in conditions and REMOVAL_FIELD in arrays:
        branches.append(None)
    selects: list[str] = []
    filled_by: list[str | None] = []
    for history in (False, True) if as_of else (False,):
        for branch in branches:
            where, fields = _branch_where(conditions, columns, arrays, branch)
            if as_of:
                where += ["from_seq <= ?", "to_seq > ?"] if history else ["from_seq <= ?"]
                fields += [None, None] if history else [None]
            table = versions_name(view) if history else view
            selects.append(f'SELECT doc, {0 if branch == -1 else 1} FROM "{table}"'
                           + (f" WHERE {' AND '.join(where)}" if where else ""))
            filled_by += fields
    return " UNION ALL ".join(selects), tuple(filled_by)


def _branch_where(conditions: Mapping[str, Any], columns: list[str], arrays: frozenset[str],
                  branch: int | None) -> tuple[list[str], list[str | None]]:
    """The terms of one branch: -1 all columns as asked; ``i`` columns before ``i`` as asked,
    column ``i`` marked, later ones as asked or marked; None every column as asked and
    ``removed`` marked. Returns the terms and, per term with parameters, the field whose
    value (or ``$in`` values, in order) fill its ``?``."""
    where: list[str] = []
    fields: list[str | None] = []
    for i, field in enumerate(columns):
        value, column = conditions[field], PUSHDOWN_COLUMNS[field]
        asked = len(value) if type(value) is _In else 1
        if branch is not None and i == branch:
            where.append(f"{column} = {_MARK}")
            continue
        if branch is not None and 0 <= branch < i and field in arrays:
            where.append("(" + " OR ".join([f"{column} = ?"] * asked + [f"{column} = {_MARK}"]) + ")")
        elif type(value) is _In:
            where.append(f"{column} IN ({', '.join('?' * asked)})")
        else:
            where.append(f"{column} = ?")
        fields.append(field)  # all its values, in order
    if REMOVAL_FIELD in conditions:  # None matches null and missing, as in MongoDB
        state = 0 if conditions[REMOVAL_FIELD] is None else 1
        if branch is None:
            where.append(f"removed = {REMOVED_MAYBE}")
        elif branch >= 0 and REMOVAL_FIELD in arrays:
            where.append(f"(removed = {state} OR removed = {REMOVED_MAYBE})")
        else:
            where.append(f"removed = {state}")
    return where, fields
