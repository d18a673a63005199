"""Evaluation of checked embedded filters, following the MongoDB server's matcher.

A filter compiles into a tree of closures. A field condition such as ``{"a.b": {"$gt": 1}}``
asks the *path iterator* for every value the path reaches in a document and succeeds if any
of them passes the operator; negations (``$ne``, ``$nin``, ``$not``, ``$exists: false``)
negate that whole answer, and each operator of ``{"$gt": 1, "$lt": 5}`` may be satisfied by a
different array element, as in the server. The path iterator mirrors ``BSONElementIterator``
(``src/mongo/db/matcher/path.cpp``): it descends through sub-documents and through one level
of array per path component (skipping elements that are not documents), also addresses array
elements by numeric components (``"a.0"``), yields "missing" where a document lacks the field,
and at the end of the path yields an array's elements and then the array itself (``$size``
and ``$elemMatch`` see only the array).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from signalstore_es.domain.query_bson import (
    ARRAY_TYPES,
    MISSING,
    NUMBER_CODES,
    RANK_MISSING,
    RANK_NULL,
    TYPE_ALIASES,
    as_document,
    bson_compare,
    bson_truthy,
    bson_type_code,
    canonical_rank,
    is_nan,
)
from signalstore_es.domain.query_check import check_embedded_filter
from signalstore_es.domain.query_syntax import (
    compile_regex,
    is_elem_match_value_form,
    is_index,
    is_operator_document,
    split_path,
)

Predicate = Callable[[Any], bool]
DocumentPredicate = Callable[[Mapping[str, Any]], bool]
_WHOLE_ARRAY_OPERATORS = ("$size", "$elemMatch")
_ORDER_TESTS: dict[str, Callable[[int], bool]] = {
    "$eq": lambda c: c == 0, "$gt": lambda c: c > 0, "$gte": lambda c: c >= 0,
    "$lt": lambda c: c < 0, "$lte": lambda c: c <= 0,
}


def compile_filter(filter: Any) -> DocumentPredicate:
    """Return a function telling whether a record matches ``filter`` as MongoDB would.

    Parameters
    ----------
    filter : Mapping or None
        A filter in the embedded subset (see :mod:`signalstore_es.domain.query`); it is
        checked with :func:`check_embedded_filter` first, so an unchecked one is safe too.

    Returns
    -------
    Callable[[Mapping[str, Any]], bool]
        ``matches(record) -> bool``; records are dicts of plain record values.

    Raises
    ------
    ArgumentTypeError, ValidationError
        As :func:`check_embedded_filter`.
    """
    return compile_document(check_embedded_filter(filter))


def compile_document(filter: Mapping[str, Any]) -> DocumentPredicate:
    """Compile a checked filter document (all its clauses must hold)."""
    clauses = [_compile_entry(key, value) for key, value in filter.items()]
    return lambda doc: all(clause(doc) for clause in clauses)


def _compile_entry(key: str, value: Any) -> DocumentPredicate:
    if key in ("$and", "$or", "$nor"):
        subs = [compile_document(clause) for clause in value]
        if key == "$and":
            return lambda doc: all(sub(doc) for sub in subs)
        if key == "$or":
            return lambda doc: any(sub(doc) for sub in subs)
        return lambda doc: not any(sub(doc) for sub in subs)
    return _compile_field(split_path(key), value)


def _compile_field(parts: tuple[str, ...], condition: Any) -> DocumentPredicate:
    if not is_operator_document(condition):
        return _reaches(parts, equals(condition), expand=True)
    clauses = [_compile_path_operator(parts, op, arg, condition)
               for op, arg in condition.items() if op != "$options"]
    return lambda doc: all(clause(doc) for clause in clauses)


def _compile_path_operator(parts: tuple[str, ...], op: str, arg: Any,
                           siblings: Mapping[str, Any]) -> DocumentPredicate:
    if op == "$not":
        inner = _compile_field(parts, arg)
        return lambda doc: not inner(doc)
    if op == "$all":  # an $and of equalities; $all: [] matches nothing
        clauses = [_reaches(parts, equals(value), expand=True) for value in arg]
        return lambda doc: bool(clauses) and all(clause(doc) for clause in clauses)
    positive, negated = _positive(op, arg, siblings)
    reaches = _reaches(parts, positive, expand=op not in _WHOLE_ARRAY_OPERATORS)
    return (lambda doc: not reaches(doc)) if negated else reaches


def _compile_value_operators(ops: Mapping[str, Any]) -> Predicate:
    """Operators applied to one array element (``$elemMatch`` value form): no traversal."""
    clauses = [_compile_value_operator(op, arg, ops) for op, arg in ops.items() if op != "$options"]
    return lambda value: all(clause(value) for clause in clauses)


def _compile_value_operator(op: str, arg: Any, siblings: Mapping[str, Any]) -> Predicate:
    if op == "$not":
        inner = _compile_value_operators(arg)
        return lambda value: not inner(value)
    if op == "$all":
        tests = [equals(item) for item in arg]
        return lambda value: bool(tests) and all(test(value) for test in tests)
    positive, negated = _positive(op, arg, siblings)
    return (lambda value: not positive(value)) if negated else positive


def _positive(op: str, arg: Any, siblings: Mapping[str, Any]) -> tuple[Predicate, bool]:
    """The test of one value behind ``op``, and whether ``op`` negates its path-wide answer."""
    if op == "$ne":
        return equals(arg), True
    if op == "$nin":
        return _in(arg), True
    if op == "$exists":
        return (lambda value: value is not MISSING), not bson_truthy(arg)
    if op == "$regex":
        return _regex(arg, siblings.get("$options", "")), False
    return _SINGLE[op](arg), False


def _reaches(parts: tuple[str, ...], test: Predicate, *, expand: bool) -> DocumentPredicate:
    return lambda doc: any(test(value) for value in path_values(doc, parts, expand))


def comparison(op: str, rhs: Any) -> Predicate:
    """``$eq``/``$gt``/``$gte``/``$lt``/``$lte`` on one value, with MongoDB's type bracketing."""
    rank, rhs_nan, test = canonical_rank(rhs), is_nan(rhs), _ORDER_TESTS[op]
    inclusive = op in ("$eq", "$gte", "$lte")

    def matches(value: Any) -> bool:
        value_rank = canonical_rank(value)
        if value_rank != rank:  # only a missing field meets null, and only inclusively
            return inclusive and {value_rank, rank} == {RANK_MISSING, RANK_NULL}
        if op != "$eq" and (rhs_nan or is_nan(value)):
            return inclusive and rhs_nan and is_nan(value)
        return test(bson_compare(value, rhs))

    return matches


def equals(rhs: Any) -> Predicate:
    """Equality on one value (``None`` also matches a missing field)."""
    return comparison("$eq", rhs)


def _in(candidates: Sequence[Any]) -> Predicate:
    has_null = any(candidate is None for candidate in candidates)

    def matches(value: Any) -> bool:
        if has_null and value is MISSING:
            return True
        return any(bson_compare(value, candidate) == 0 for candidate in candidates)

    return matches


def _type(arg: Any) -> Predicate:
    codes: set[int] = set()
    for item in arg if isinstance(arg, ARRAY_TYPES) else [arg]:
        if item == "number":
            codes |= NUMBER_CODES
        else:
            codes.add(TYPE_ALIASES[item] if isinstance(item, str) else int(item))
    return lambda value: bson_type_code(value) in codes


def _size(arg: Any) -> Predicate:
    size = int(arg)
    return lambda value: isinstance(value, ARRAY_TYPES) and len(value) == size


def _regex(pattern: str, options: str) -> Predicate:
    compiled = compile_regex(pattern, options)
    return lambda value: isinstance(value, str) and compiled.search(value) is not None


def _elem_match(arg: Mapping[str, Any]) -> Predicate:
    if is_elem_match_value_form(arg):
        test = _compile_value_operators(arg)
        return lambda value: isinstance(value, ARRAY_TYPES) and any(test(item) for item in value)
    match = compile_document(arg)  # object form: elements that are documents (or arrays)
    return lambda value: isinstance(value, ARRAY_TYPES) and any(
        match(as_document(item)) for item in value if isinstance(item, (Mapping, *ARRAY_TYPES)))


_SINGLE: dict[str, Callable[[Any], Predicate]] = {
    "$eq": equals, "$in": _in, "$type": _type, "$size": _size, "$elemMatch": _elem_match,
    **{op: functools.partial(comparison, op) for op in ("$gt", "$gte", "$lt", "$lte")},
}


def path_values(doc: Mapping[str, Any], parts: tuple[str, ...], expand: bool) -> list[Any]:
    """Every value ``parts`` reaches in ``doc`` (``MISSING`` for an absent field).

    ``expand`` says whether an array at the end of the path also yields its elements (all
    operators but ``$size`` and ``$elemMatch``).
    """
    start, rest = field_or_array(doc, parts)
    if not isinstance(start, ARRAY_TYPES):
        return [start]
    if rest:
        return _array_values(start, rest, expand)
    return [*start, start] if expand else [start]


def field_or_array(doc: Mapping[str, Any], parts: tuple[str, ...]) -> tuple[Any, tuple[str, ...]]:
    """Follow ``parts`` through sub-documents; stop at the first array.

    Returns the value reached (``MISSING`` if the path breaks off) and the parts left after
    the array, if it stopped at one.
    """
    current: Any = doc
    for index, part in enumerate(parts):
        if not isinstance(current, Mapping) or part not in current:
            return MISSING, ()
        current = current[part]
        if isinstance(current, ARRAY_TYPES):
            return current, parts[index + 1:]
    return current, ()


def _array_values(array: Sequence[Any], rest: tuple[str, ...], expand: bool) -> list[Any]:
    values: list[Any] = []
    offset = rest[0] if is_index(rest[0]) else None
    for index, element in enumerate(array):
        at_offset = offset == str(index)
        if isinstance(element, Mapping):
            values += path_values(element, rest, expand)
            if at_offset:
                values += [element] if len(rest) == 1 else path_values(element, rest[1:], expand)
        elif at_offset:
            if len(rest) == 1:
                values.append(element)
            elif isinstance(element, ARRAY_TYPES):
                values += _array_values(element, rest[1:], expand)
    return values
