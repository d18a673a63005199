"""The embedded backend answers string equalities and ``$in`` of strings on an indexed field
through the index, with the results of the full matcher for every document (lists, lists
holding null in ``time_of_removal``, other types, missing fields)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.runner import RowPosition
from signalstore_es.adapters.sqlite import views
from signalstore_es.adapters.sqlite.schema import PUSHDOWN_FIELDS
from signalstore_es.domain.query import check_embedded_filter, compile_filter

VIEW = "things"
WORDS = ("a", "b")


def _connection() -> tuple[sqlite3.Connection, views.SqliteViewWriter]:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    writer = views.SqliteViewWriter(connection)
    writer.ensure_view(VIEW)
    return connection, writer


def _generic(connection: sqlite3.Connection, filter: dict[str, Any], as_of: int | None) -> list[dict[str, Any]]:
    """What the full matcher keeps of every row: the answer a pushdown must not change."""
    matches = compile_filter(check_embedded_filter(filter))
    return [row for row in views.find_rows(connection, VIEW, {}, as_of=as_of, sort=None, limit=None)
            if matches(row)]


def _same_rows(found: list[dict[str, Any]], expected: list[dict[str, Any]]) -> bool:
    return sorted(map(repr, found)) == sorted(map(repr, expected))


# -- documents and filters -------------------------------------------------------------------

WORD = st.sampled_from(WORDS)
#: values an indexed field may hold in a user view's row; lists only where ``lists`` allows
SCALARS = st.one_of(WORD, st.integers(0, 2), st.none())
LISTY = st.one_of(st.lists(WORD, max_size=3), SCALARS, st.lists(st.lists(WORD, max_size=2), max_size=2))
REMOVAL = st.sampled_from([None, [None], [None, "yesterday"], "yesterday", ["yesterday"], False, []])
_MISSING = object()


@st.composite
def documents(draw: Any, listy_fields: frozenset[str]) -> dict[str, Any] | None:
    if draw(st.integers(0, 9)) == 0:
        return None  # a deleted row
    document: dict[str, Any] = {}
    for field in (*PUSHDOWN_FIELDS, "time_of_removal", "n"):
        values = {"time_of_removal": REMOVAL, "n": st.integers(0, 2)}.get(
            field, LISTY if field in listy_fields else SCALARS)
        value = draw(st.one_of(values, st.just(_MISSING)))
        if value is not _MISSING:
            document[field] = value
    return document


@st.composite
def histories(draw: Any) -> tuple[frozenset[str], list[list[tuple[str, dict[str, Any] | None]]]]:
    """Fields that may hold lists, and commits of row writes (seq = index + 1)."""
    listy = frozenset(draw(st.sets(st.sampled_from(PUSHDOWN_FIELDS))))
    row_ids = st.sampled_from(["r0", "r1", "r2", "r3", "r4", "r5"])
    commits = draw(st.lists(st.lists(st.tuples(row_ids, documents(listy)), min_size=1, max_size=4),
                            min_size=1, max_size=4))
    return listy, commits


@st.composite
def column_filters(draw: Any) -> dict[str, Any]:
    """An ``$in`` of strings or a string equality on an indexed field (which may hold lists),
    with what the API puts beside it: a removal condition, a string
    equality, another ``$in``, a condition the index cannot answer, ``$and``."""
    field = draw(st.sampled_from(PUSHDOWN_FIELDS))
    asked = {"$in": draw(st.lists(WORD, min_size=1, max_size=3))} if draw(st.booleans()) else draw(WORD)
    clauses: list[dict[str, Any]] = [{field: asked}]
    removal = draw(st.sampled_from([{"time_of_removal": None}, {"time_of_removal": {"$ne": None}}, None]))
    if removal is not None:
        clauses.append(removal)
    others = [f for f in PUSHDOWN_FIELDS if f != field]
    if draw(st.booleans()):
        clauses.append({draw(st.sampled_from(others)): draw(WORD)})
    if draw(st.booleans()):
        other = draw(st.sampled_from([f for f in PUSHDOWN_FIELDS if f != field]))
        clauses.append({other: {"$in": draw(st.lists(WORD, max_size=2))}})
    if draw(st.booleans()):
        clauses.append({"n": {"$gte": 1}})
    if draw(st.booleans()):
        return {"$and": clauses}
    merged: dict[str, Any] = {}
    for clause in clauses:
        merged.update(clause)
    return merged


@settings(max_examples=500, deadline=None, database=None)
@given(data=st.data(), history=histories())
def test_queries_on_indexed_fields_find_what_the_full_matcher_finds_now_and_as_of(data, history):
    listy, commits = history
    connection, writer = _connection()
    for seq, writes in enumerate(commits, start=1):
        for index, (row_id, document) in enumerate(writes):
            writer.write_row(VIEW, row_id, document, RowPosition(seq, index))
        writer.flush()
    filter = data.draw(column_filters())
    for as_of in (None, *range(len(commits) + 1)):
        found = views.find_rows(connection, VIEW, filter, as_of=as_of, sort=None, limit=None)
        assert _same_rows(found, _generic(connection, filter, as_of)), (filter, as_of)
    limited = views.find_rows(connection, VIEW, filter, as_of=None, sort=None, limit=1)
    everything = _generic(connection, filter, None)
    assert len(limited) == min(1, len(everything))
    assert all(row in everything for row in limited)


# -- an index lookup, not a scan ------------------------------------------------------------


@pytest.mark.parametrize("as_of", [None, 3])
@pytest.mark.parametrize("conditions", [
    {"_key": views._In(["k1", "k2"]), "time_of_removal": None},
    {"schema_ref": "s", "data_name": views._In(["d1", "d2", "d3"])},
], ids=["live keys", "names of one schema_ref"])
def test_a_user_view_query_is_index_searches_for_the_values_and_for_the_marks(conditions, as_of):
    """Per table: the rows as asked, then one branch per column (or ``removed``) that may be
    marked; every branch is an index search."""
    connection, _ = _connection()
    sql, params = views._candidate_query(VIEW, conditions, as_of)
    plan = [row[-1] for row in connection.execute("EXPLAIN QUERY PLAN " + sql, params)]
    searches = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
    assert len(searches) == (3 if as_of is None else 6)
    assert all(step.startswith("SEARCH") and "USING INDEX" in step for step in searches), plan


def test_an_in_on_schema_name_searches_its_partial_index_and_scans_nothing():
    """schema_name's index leaves out NULL (records have none); the values and the array mark
    are all in it, so nothing is scanned."""
    connection, _ = _connection()
    sql, params = views._candidate_query(VIEW, {"schema_name": views._In(["m"]), "time_of_removal": None}, None)
    plan = [row[-1] for row in connection.execute("EXPLAIN QUERY PLAN " + sql, params)]
    searches = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
    assert searches == ["SEARCH things USING INDEX things_schema_name (schema_name=?)"] * 3


@pytest.mark.parametrize("conditions", [{"_key": "k", "time_of_removal": None},
                                        {"schema_ref": "s", "data_name": "d", "time_of_removal": None}])
def test_a_records_lookup_by_key_or_name_is_one_index_search(conditions):
    """Keys, names and removal times of records are validated scalars: no mark to look for."""
    connection = sqlite3.connect(":memory:", isolation_level=None)
    views.SqliteViewWriter(connection).ensure_view("records")
    sql, params = views._candidate_query("records", conditions, None)
    plan = [row[-1] for row in connection.execute("EXPLAIN QUERY PLAN " + sql, params)]
    assert len(plan) == 1
    assert plan[0].startswith("SEARCH records USING INDEX")


def test_the_add_many_lookup_is_answered_by_sql_alone():
    """``{"_key": {"$in": [...]}, "time_of_removal": None}`` needs no filter compilation."""
    assert views._exact_conditions({"_key": {"$in": ["a", "b"]}, "time_of_removal": None}) == {
        "_key": ("a", "b"), "time_of_removal": None}
    assert views._exact_conditions({"_key": {"$in": ["a", 1]}}) is None  # not all str: the matcher
    assert views._exact_conditions({"_key": {"$in": ("a",)}}) is None  # not a list: checked, refused
    assert views._exact_conditions({"_key": {"$in": ["a"]}, "data_name": {"$in": ["b"]}}) == {
        "_key": ("a",), "data_name": ("b",)}  # each $in selects its values and the array mark


@pytest.mark.parametrize(("filter", "expected"), [
    ({"_key": "a", "time_of_removal": None}, ["r0", "r2"]),
    ({"time_of_removal": {"$ne": None}}, ["r1"]),
    ({"_key": {"$in": ["a"]}, "time_of_removal": {"$ne": None}}, ["r1"]),
])
def test_a_time_of_removal_list_matches_none_as_in_mongodb(filter, expected):
    """``{"time_of_removal": None}`` matches a list holding null; ``$ne: None`` does not."""
    connection, writer = _connection()
    for index, (row_id, removal) in enumerate([("r0", [None, "x"]), ("r1", ["x"]), ("r2", None)]):
        writer.write_row(VIEW, row_id, {"_key": "a", "time_of_removal": removal, "id": row_id}, RowPosition(1, index))
    writer.flush()
    found = views.find_rows(connection, VIEW, filter, as_of=None, sort=None, limit=None)
    assert sorted(row["id"] for row in found) == expected


@pytest.mark.parametrize("filter", [
    {"_key": "a", "schema_ref": "s"},
    {"schema_ref": "s", "data_name": {"$in": ["d", "e"]}, "time_of_removal": None},
    {"_key": {"$in": ["a"]}, "data_name": "d", "time_of_removal": {"$ne": None}},
])
def test_a_row_with_several_list_columns_and_a_removal_list_is_found_by_each(filter):
    """Every asked column of the row is a list (the first marked one is not the only one), and
    its removal time is a list holding null and a time, which matches None and ``$ne: None``."""
    connection, writer = _connection()
    document = {"_key": ["a", "b"], "schema_ref": ["s"], "data_name": ["d", "x"],
                "time_of_removal": [None, "t"] if "$ne" not in repr(filter) else ["t"]}
    writer.write_row(VIEW, "r0", document, RowPosition(1, 0))
    writer.flush()
    assert views.find_rows(connection, VIEW, filter, as_of=None, sort=None, limit=None) == [document]
    assert views.find_rows(connection, VIEW, filter, as_of=1, sort=None, limit=None) == [document]


def test_a_list_holding_a_listed_string_matches_as_in_mongodb():
    connection, writer = _connection()
    writer.write_row(VIEW, "r0", {"_key": ["a", "z"], "time_of_removal": None}, RowPosition(1, 0))
    writer.write_row(VIEW, "r1", {"_key": "b", "time_of_removal": None}, RowPosition(1, 1))
    writer.write_row(VIEW, "r2", {"_key": 7, "time_of_removal": None}, RowPosition(1, 2))
    writer.flush()
    found = views.find_rows(connection, VIEW, {"_key": {"$in": ["a", "b"]}, "time_of_removal": None},
                            as_of=None, sort=None, limit=None)
    assert sorted(map(repr, found)) == sorted(map(repr, [{"_key": ["a", "z"], "time_of_removal": None},
                                                         {"_key": "b", "time_of_removal": None}]))


def test_the_records_view_finds_a_schema_name_array_and_refuses_arrays_where_it_does_not_look():
    """Records are validated: only a ``schema_name`` property can be an array there, so only
    that column is looked up with the mark; an array elsewhere is a bug and fails loudly."""
    connection = sqlite3.connect(":memory:", isolation_level=None)
    writer = views.SqliteViewWriter(connection)
    writer.ensure_view("records")
    document = {"_key": "s/d/0", "schema_ref": "s", "data_name": "d", "schema_name": ["x", "y"],
                "time_of_removal": None}
    writer.write_row("records", "s/d/0@1", document, RowPosition(1, 0))
    writer.flush()
    for filter in ({"schema_name": "y", "time_of_removal": None}, {"_key": "s/d/0", "time_of_removal": None},
                   {"schema_ref": "s", "data_name": "d"}):
        assert views.find_rows(connection, "records", filter, as_of=None, sort=None, limit=None) == [document]
    with pytest.raises(ValueError, match="built-in view 'records' holds an array in 'data_name'"):
        writer.write_row("records", "s/e/0@1", {**document, "data_name": ["e"]}, RowPosition(2, 0))
