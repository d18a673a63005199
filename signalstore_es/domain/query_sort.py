"""Sorting records as a MongoDB ``find(sort=...)`` does.

The server sorts each document by the sort key an index on the sort pattern would give it
(``BtreeKeyGenerator``, ``src/mongo/db/index/btree_key_generator.cpp``): a missing field is
null; an array at the end of a path gives one key per element (an empty array gives
``undefined``, which sorts below null); an array inside a path gives the keys of its
sub-documents (other elements give null); of a document's keys the first in the sort order
wins, so ascending uses the smallest element and descending the largest. Two sort fields may
not both traverse different arrays of one document ("parallel arrays"). Keys then compare in
BSON order (:mod:`signalstore_es.domain.query_bson`); ties keep their input order.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from signalstore_es.domain.query_bson import ARRAY_TYPES, MISSING, UNDEFINED, as_document, bson_compare
from signalstore_es.domain.query_match import field_or_array
from signalstore_es.domain.query_syntax import is_index, split_path
from signalstore_es.errors import ValidationError

SortSpec = list[tuple[str, int]]
# The element an index lookup ``a.<n>`` reaches: (value, parts left, whether it is an array).
_Positional = Optional[tuple[Any, tuple[str, ...], bool]]
_DONE: Any = None


def check_sort(sort: Any) -> SortSpec:
    """Normalize a pymongo-style sort spec.

    Parameters
    ----------
    sort : str, Mapping, Sequence or None
        ``None`` (no sort), ``"field"`` (ascending), ``{field: direction}``, or a list of
        ``"field"`` strings and ``(field, direction)`` pairs; directions are 1 or -1.

    Returns
    -------
    list[tuple[str, int]]
        ``[(field, 1 | -1), ...]``, empty for no sort.

    Raises
    ------
    ValidationError
        For any other shape, a direction other than 1 or -1, a malformed path, or a field
        named twice.
    """
    if sort is None:
        return []
    if isinstance(sort, str):
        sort = [sort]
    elif isinstance(sort, Mapping):
        sort = list(sort.items())
    if not isinstance(sort, ARRAY_TYPES):
        raise _bad_sort(sort, "it is neither a str, a dict nor a list")
    spec = [_sort_item(item, sort) for item in sort]
    fields = [field for field, _ in spec]
    if len(set(fields)) != len(fields):
        raise _bad_sort(sort, "a field appears twice")
    return spec


def _sort_item(item: Any, sort: Any) -> tuple[str, int]:
    if isinstance(item, str):
        item = (item, 1)
    if not isinstance(item, ARRAY_TYPES) or len(item) != 2:
        raise _bad_sort(sort, f"{item!r} is not a field name or a (field, direction) pair")
    field, direction = item
    parts = field.split(".") if isinstance(field, str) else [""]
    if "" in parts or any(part.startswith("$") for part in parts):
        raise _bad_sort(sort, f"{field!r} is not a field path like 'a' or 'a.b'")
    if isinstance(direction, bool) or direction not in (1, -1):
        raise _bad_sort(sort, f"the direction of {field!r} is {direction!r}, not 1 or -1")
    return field, int(direction)


def _bad_sort(sort: Any, why: str) -> ValidationError:
    return ValidationError(
        f"sort={sort!r} is not a valid sort spec: {why}; pass e.g. [('a', 1), ('b.c', -1)], "
        "{'a': 1} or 'a' (1 ascending, -1 descending)")


def sort_documents(docs: Iterable[Mapping[str, Any]], sort: Any) -> list[Mapping[str, Any]]:
    """Return ``docs`` sorted as MongoDB would sort them for ``sort``.

    Parameters
    ----------
    docs : Iterable[Mapping[str, Any]]
        Records.
    sort : str, Mapping, Sequence or None
        A pymongo sort spec (see :func:`check_sort`); ``None`` or empty keeps the order.

    Returns
    -------
    list
        The same document objects in sorted order (stable: ties keep their input order).

    Raises
    ------
    ValidationError
        For a bad spec, or when two sort fields run through different arrays of one document.
    """
    spec = check_sort(sort)
    items = list(docs)
    if not spec:
        return items
    directions = [direction for _, direction in spec]
    paths = [split_path(field) for field, _ in spec]
    order = functools.cmp_to_key(lambda a, b: compare_keys(a, b, directions))
    keyed = [(min(_document_keys(doc, paths, spec), key=order), doc) for doc in items]
    keyed.sort(key=lambda pair: order(pair[0]))
    return [doc for _, doc in keyed]


def compare_keys(left: Sequence[Any], right: Sequence[Any], directions: Sequence[int]) -> int:
    """Compare two compound sort keys under the directions of the sort spec."""
    for left_value, right_value, direction in zip(left, right, directions):
        result = bson_compare(left_value, right_value)
        if result:
            return result * direction
    return 0


def _document_keys(doc: Mapping[str, Any], paths: list[tuple[str, ...]],
                   spec: SortSpec) -> list[tuple[Any, ...]]:
    try:
        return _keys(doc, list(paths), [None] * len(paths), [None] * len(paths))
    except _ParallelArrays:
        raise ValidationError(
            f"cannot sort by {[field for field, _ in spec]!r}: a record holds different arrays "
            "on two of these paths (parallel arrays), which MongoDB refuses to sort too; sort "
            "by one of them") from None


class _ParallelArrays(Exception):
    pass


def _keys(obj: Mapping[str, Any], fields: list[Any], fixed: list[Any],
          positional: list[_Positional]) -> list[tuple[Any, ...]]:
    """Index keys of ``obj`` (``BtreeKeyGenerator::_getKeysWithArray``), one tuple per key.

    ``fields[i]`` is the path still to follow for sort field ``i`` (``_DONE`` once its value is
    in ``fixed[i]``, ``()`` when it ended at the array being expanded).
    """
    fields, fixed = list(fields), list(fixed)
    array: Any = None
    array_fields: list[int] = []
    expand = True
    for i, field in enumerate(fields):
        if field is _DONE:
            continue
        value, rest, nested = _next_element(obj, field, positional[i])
        if not isinstance(value, ARRAY_TYPES):
            fixed[i], fields[i] = (None if value is MISSING else value), _DONE
            continue
        if array is not None and value is not array:
            raise _ParallelArrays()
        array, fields[i], expand = value, rest, expand and not nested
        array_fields.append(i)
    if array is None:
        return [tuple(fixed)]
    return _expand(array, fields, fixed, array_fields, expand)


def _expand(array: Sequence[Any], fields: list[Any], fixed: list[Any], array_fields: list[int],
            expand: bool) -> list[tuple[Any, ...]]:
    positional = _positional(array, fields)
    keys: list[tuple[Any, ...]] = []
    for entry in array if array else [UNDEFINED]:
        entry_fields, entry_fixed = list(fields), list(fixed)
        for i in array_fields:
            if not entry_fields[i]:  # the path ends at this array: the entry is the key
                entry_fixed[i], entry_fields[i] = (entry if expand else array), _DONE
        keys += _keys(entry if isinstance(entry, Mapping) else {}, entry_fields, entry_fixed, positional)
    return keys


def _positional(array: Sequence[Any], fields: list[Any]) -> list[_Positional]:
    """For fields continuing with an index into ``array`` (``a.0.b``), what that index reaches."""
    infos: list[_Positional] = []
    for field in fields:
        index = int(field[0]) if field and is_index(field[0]) else len(array)
        if index >= len(array) or str(index) != field[0]:
            infos.append(None)
            continue
        value, rest = field_or_array(as_document(array), field)
        infos.append((value, rest, isinstance(array[index], ARRAY_TYPES)))
    return infos


def _next_element(obj: Mapping[str, Any], field: tuple[str, ...],
                  positional: _Positional) -> tuple[Any, tuple[str, ...], bool]:
    """``_extractNextElement``: the field of ``obj``, else the positionally indexed element."""
    if field[0] in obj:
        value, rest = field_or_array(obj, field)
        return value, rest, False
    if positional is not None:
        return positional
    return MISSING, (), False
