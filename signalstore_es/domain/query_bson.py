"""BSON semantics of record values for the embedded query engine.

MongoDB compares values first by the *canonical rank* of their BSON type and only then by
value (``BSONElement::woCompare`` / ``compareElements`` in the server). This module mirrors that
for the Python types a record may hold:

==========================  =====  ==========================================================
Python value                rank   ordering inside the rank
==========================  =====  ==========================================================
missing field / ``[]`` key   0     (``MISSING`` for matching, ``UNDEFINED`` for sorting)
``None``                     5     all equal
``int``, ``float``          10     numeric; int and float compare exactly; NaN below all
``str``                     15     binary (UTF-8 bytes = code points)
``dict``                    20     field by field: value rank, then field name, then value
``list``                    25     element by element, shorter first
``bool``                    40     ``False < True`` (bools are *not* numbers)
``datetime`` (aware)        45     by instant
==========================  =====  ==========================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from signalstore_es.errors import ValidationError


class _Sentinel:
    """A named marker value that is equal only to itself."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


#: What a path that resolves to nothing yields (the server's EOO element).
MISSING: Any = _Sentinel("MISSING")
#: The sort key of an empty array (the server indexes ``[]`` as BSON undefined, below null).
UNDEFINED: Any = _Sentinel("UNDEFINED")

RANK_MISSING, RANK_NULL, RANK_NUMBER, RANK_STRING = 0, 5, 10, 15
RANK_OBJECT, RANK_ARRAY, RANK_BOOL, RANK_DATE = 20, 25, 40, 45
ARRAY_TYPES = (list, tuple)
INT32 = (-(2**31), 2**31 - 1)

#: ``$type`` aliases and codes (``number`` is handled apart: it means 1, 16, 18 or 19).
TYPE_ALIASES = {
    "double": 1, "string": 2, "object": 3, "array": 4, "binData": 5, "undefined": 6,
    "objectId": 7, "bool": 8, "date": 9, "null": 10, "regex": 11, "dbPointer": 12,
    "javascript": 13, "symbol": 14, "javascriptWithScope": 15, "int": 16, "timestamp": 17,
    "long": 18, "decimal": 19, "minKey": -1, "maxKey": 127,
}
NUMBER_CODES = frozenset({1, 16, 18, 19})


def canonical_rank(value: Any) -> int:
    """Return the canonical BSON type rank of a record value (see the module table)."""
    if value is None:
        return RANK_NULL
    if value is MISSING or value is UNDEFINED:
        return RANK_MISSING
    for types, rank in _RANKS:
        if isinstance(value, types):
            return rank
    raise ValidationError(
        f"a {type(value).__name__} ({value!r}) is not a record value and cannot be compared; "
        "records hold str, bool, int, float, None, aware datetime, lists and dicts"
    )


_RANKS: tuple[tuple[Any, int], ...] = (
    (bool, RANK_BOOL), ((int, float), RANK_NUMBER), (str, RANK_STRING),
    (Mapping, RANK_OBJECT), (ARRAY_TYPES, RANK_ARRAY), (datetime, RANK_DATE),
)


def bson_compare(left: Any, right: Any) -> int:
    """Return -1, 0 or 1 as ``left`` sorts before, with or after ``right`` in MongoDB."""
    left_rank, right_rank = canonical_rank(left), canonical_rank(right)
    if left_rank != right_rank:
        return -1 if left_rank < right_rank else 1
    if left_rank == RANK_NUMBER:
        return _compare_numbers(left, right)
    if left_rank == RANK_OBJECT:
        return _compare_objects(list(left.items()), list(right.items()))
    if left_rank == RANK_ARRAY:
        return _compare_arrays(left, right)
    if left_rank in (RANK_MISSING, RANK_NULL):
        return 0
    return _sign(left, right)


def _sign(left: Any, right: Any) -> int:
    return (left > right) - (left < right)


def _compare_numbers(left: float, right: float) -> int:
    if left < right:
        return -1
    if left > right:
        return 1
    if left == right:
        return 0
    if math.isnan(left):  # NaN equals NaN and sorts below every other number
        return 0 if math.isnan(right) else -1
    return 1


def _compare_objects(left: list[tuple[str, Any]], right: list[tuple[str, Any]]) -> int:
    for (left_key, left_value), (right_key, right_value) in zip(left, right):
        result = (_sign(canonical_rank(left_value), canonical_rank(right_value))
                  or _sign(left_key, right_key) or bson_compare(left_value, right_value))
        if result:
            return result
    return _sign(len(left), len(right))


def _compare_arrays(left: Sequence[Any], right: Sequence[Any]) -> int:
    for left_value, right_value in zip(left, right):
        result = bson_compare(left_value, right_value)
        if result:
            return result
    return _sign(len(left), len(right))


def is_nan(value: Any) -> bool:
    """Whether ``value`` is a float NaN (the only NaN a record or filter can hold)."""
    return isinstance(value, float) and math.isnan(value)


def bson_type_code(value: Any) -> int | None:
    """Return the BSON type code pymongo would store ``value`` as; ``None`` for MISSING."""
    if value is MISSING:
        return None
    rank = canonical_rank(value)
    if rank == RANK_NUMBER:
        if isinstance(value, float):
            return 1
        return 16 if INT32[0] <= value <= INT32[1] else 18
    return {RANK_NULL: 10, RANK_STRING: 2, RANK_OBJECT: 3, RANK_ARRAY: 4,
            RANK_BOOL: 8, RANK_DATE: 9}[rank]


def bson_truthy(value: Any) -> bool:
    """BSON ``trueValue``: what ``$exists`` makes of its argument."""
    if value is None or isinstance(value, (bool, int, float)):
        return bool(value)  # numbers: non-zero (NaN included); None: False
    return True


def as_document(value: Any) -> Mapping[str, Any]:
    """View an array as the server does when it matches it as a document: keys "0", "1", ..."""
    if isinstance(value, Mapping):
        return value
    return {str(index): item for index, item in enumerate(value)}
