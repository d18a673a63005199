"""The MongoDB query language over records: filters, projection, sort and limit.

The MongoDB backend sends filters to the server; the embedded (SQLite) backend evaluates them
in Python with this module. Both must give the same answers, so the embedded engine follows
the server's semantics (its source is cited where it matters), not intuition. Pure: no I/O.

Embedded filter subset
----------------------
``check_embedded_filter`` (and so ``compile_filter``) accepts exactly this; anything else is a
ValidationError naming the operator and listing these.

=========================  =============================================================
Form                       Meaning (as in MongoDB)
=========================  =============================================================
``{"a": v}``               equality on a top-level field
``{"a.b.c": v}``           equality on a dotted path into sub-documents (and through
                           arrays of sub-documents)
``{"a.0": v}``             numeric path components address array elements (and also
                           fields named ``"0"`` of sub-documents in the array, as the
                           server does); ``"a.0.b"`` works too
``$eq`` ``$ne``            equal / not equal
``$gt`` ``$gte``           ordering, only within one BSON type class (numbers, strings,
``$lt`` ``$lte``           dicts, lists, bools, datetimes): ``{"$gt": 1}`` never matches
                           ``"x"``; null meets a missing field only in ``$gte``/``$lte``
``$in`` ``$nin``           equal to one / to none of a list; ``None`` in it matches missing
``$exists``                field present (``True``) or absent (``False``)
``$and`` ``$or`` ``$nor``  non-empty lists of filter documents, at any level
``$not``                   negates an operator document: ``{"a": {"$not": {"$gt": 5}}}``
``$all``                   holds all the listed values (``$all: []`` matches nothing)
``$size``                  an array of exactly n elements
``$elemMatch``             one array element satisfies all of an operator document
                           (``{"$gt": 1, "$lt": 5}``) or a filter on its sub-document
                           (``{"name": "x", "n": {"$gt": 1}}``)
``$regex`` ``$options``    str pattern, options among ``i m s x``, Python ``re`` syntax
``$type``                  a BSON type alias or code, or a list of them, or ``"number"``
=========================  =============================================================

Values in an embedded filter are record values: str, bool, int (64-bit), float, None, aware
datetime (cut to milliseconds, as BSON stores it), lists and dicts of these. Not in the
subset: ``$mod``, ``$expr``, ``$text``, ``$comment``, ``$jsonSchema``, geo and bitwise
operators, ``$all`` of ``$elemMatch`` clauses, compiled patterns as values, collations. The
code-executing ``$where``, ``$function`` and ``$accumulator`` are refused by both backends.

Semantics that are easy to get wrong, all implemented as the server does:

* An array field matches a condition if any element (or the array itself) does:
  ``{"tags": "a"}`` matches ``{"tags": ["a", "b"]}``; ``{"a.b": 1}`` matches
  ``{"a": [{"b": 1}, {"b": 2}]}``; ``{"n": {"$gt": 3, "$lt": 5}}`` matches ``{"n": [1, 9]}``
  (each operator may use a different element; ``$elemMatch`` asks for one element).
* ``$ne``, ``$nin``, ``$not`` and ``$exists: false`` are the negation of the whole field
  condition: ``{"tags": {"$ne": "a"}}`` fails on ``["a", "b"]`` and matches a missing field.
* Equality with a list or dict matches an equal list, or a list holding it; dicts are equal
  only with the same keys in the same order (BSON compares them field by field).
* ``None`` matches null and missing fields, not empty lists; ``{"a.b": None}`` also matches
  ``{"a": [{"c": 1}]}`` (an element lacking ``b``) but not ``{"a": [1]}``, and
  ``{"a.5": None}`` does not match ``{"a": [1]}`` (the path reaches nothing there; use
  ``{"a.5": {"$exists": False}}``).
* Bools are not numbers (``{"a": 1}`` does not match ``True``); ints and floats compare by
  value (``1 == 1.0``); strings compare by code point.
* Regular expressions run with Python's ``re``: classes such as ``\\w`` and ``\\d`` are
  Unicode-aware where the server's PCRE is ASCII-only, and a pattern Python cannot compile
  is refused. This is the one place where the backends may differ on the same filter.

Projection (:func:`apply_projection`) includes or excludes top-level and dotted fields as
``find`` does; sort (:func:`sort_documents`) orders across types as null/missing < numbers <
strings < dicts < lists < bools < datetimes, sorts an array field by its smallest element
ascending and largest descending (an empty array before null) and is stable; a limit of 0
means no limit (:func:`check_limit`).

Where the ``mongoquery`` library is used
----------------------------------------
Nowhere at run time. Checked against the rules above, ``mongoquery.Query(...).match`` (1.4)
gets many wrong: ``$gt``/``$lt`` do not look inside arrays, ``$ne`` succeeds on an array
holding the value, ``None`` does not match a missing field (nor do ``$gte: None`` and
``$in: [None]``), ``True == 1`` matches, bools compare as numbers, dict equality ignores key
order, ``$all: []`` matches everything, equality does not find a list inside a list. Patching
those would have left little of it, so the matcher is our own, modelled on the server's
source; its unit tests pin each of these cases.

Modules: :mod:`.query_check` (validation), :mod:`.query_match` (matcher),
:mod:`.query_sort`, :mod:`.query_projection`, :mod:`.query_bson` (BSON ordering).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

import numpy as np

from signalstore_es.domain.query_check import check_embedded_filter, check_filter
from signalstore_es.domain.query_match import compile_filter
from signalstore_es.domain.query_projection import apply_projection
from signalstore_es.domain.query_sort import check_sort, sort_documents
from signalstore_es.errors import ArgumentTypeError, ValidationError

__all__ = [
    "apply_projection", "check_embedded_filter", "check_filter", "check_limit", "check_sort",
    "compile_filter", "pushdown_equalities", "sort_documents",
]


def pushdown_equalities(filter: Mapping[str, Any], fields: Collection[str]) -> dict[str, Any]:
    """Top-level string equalities on ``fields`` that every matching record must satisfy.

    Collects ``{"f": "x"}`` and ``{"f": {"$eq": "x", ...}}`` at the top level of ``filter``
    and inside top-level ``$and`` clauses (recursively). Each is a necessary condition, so
    pre-selecting rows with them and then running the full matcher loses no match, provided
    the indexed fields hold a str (or nothing) in every record: ``{"f": "x"}`` also matches a
    list containing ``"x"``, which a column index on ``f`` would not find (the embedded
    backend marks such lists in its columns and matches the marked rows in full).

    Parameters
    ----------
    filter : Mapping[str, Any]
        A checked filter.
    fields : Collection[str]
        Field names (dotted paths allowed) that have an index.

    Returns
    -------
    dict[str, Any]
        ``{field: value}``; when one field has two conditions, the first one found.
    """
    found: dict[str, Any] = {}
    for field, condition in _conjuncts(filter):
        value = condition.get("$eq") if isinstance(condition, Mapping) else condition
        if field in fields and field not in found and isinstance(value, str):
            found[field] = value
    return found


def _conjuncts(filter: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in filter.items():
        if key == "$and" and isinstance(value, (list, tuple)):
            for clause in value:
                if isinstance(clause, Mapping):
                    yield from _conjuncts(clause)
        elif isinstance(key, str) and not key.startswith("$"):
            yield key, value


def check_limit(limit: Any) -> int | None:
    """Check a ``find`` limit.

    Parameters
    ----------
    limit : int or None
        The most records to return; 0 or ``None`` means no limit, as in MongoDB.

    Returns
    -------
    int or None
        ``limit`` as a Python int (NumPy integers are accepted), or ``None``.

    Raises
    ------
    ArgumentTypeError
        If ``limit`` is not ``None`` or an int (bools are refused).
    ValidationError
        If it is negative.
    """
    if limit is None:
        return None
    if isinstance(limit, np.integer):
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise ArgumentTypeError(
            f"limit must be an int >= 0 (0 means no limit) or None, got {type(limit).__name__}: "
            f"{limit!r}")
    if limit < 0:
        raise ValidationError(f"limit={limit} is negative; pass 0 or None for no limit, or a positive count")
    return limit
