"""Validation of MongoDB filter documents: the rules both backends share, and the embedded subset.

Both functions return a fresh copy of the filter (NumPy scalars and arrays turned into Python
values), so callers may keep or change it without touching the user's object.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from signalstore_es.domain.codec import fits_int64
from signalstore_es.domain.query_arguments import ARGUMENT_CHECKS
from signalstore_es.domain.query_bson import ARRAY_TYPES
from signalstore_es.domain.query_syntax import (
    CODE_OPERATORS,
    EMBEDDED_FIELD_OPERATORS,
    FIELD_OPERATORS,
    LOGICAL_OPERATORS,
    PATHLESS_OPERATORS,
    is_operator_document,
)
from signalstore_es.errors import ArgumentTypeError, ValidationError

MAX_DEPTH = 100


def check_filter(filter: Any) -> dict[str, Any]:
    """Check a MongoDB filter for either backend and return a copy of it.

    Parameters
    ----------
    filter : Mapping or None
        A MongoDB filter document; ``None`` means "everything" and gives ``{}``.

    Returns
    -------
    dict
        A deep copy of the filter, NumPy values turned into Python ones.

    Raises
    ------
    ArgumentTypeError
        If ``filter`` is neither a mapping nor ``None``.
    ValidationError
        If it uses ``$where``, ``$function`` or ``$accumulator`` anywhere (they execute code
        on the server), an unknown operator, or a malformed shape (``$and`` that is not a
        non-empty list of documents, ``$in`` that is not a list, a non-str key, a naive
        datetime, an integer beyond 64 bits, ...).
    """
    if filter is None:
        return {}
    if not isinstance(filter, Mapping):
        raise ArgumentTypeError(
            f"filter must be a dict (a MongoDB filter document) or None, got "
            f"{type(filter).__name__}: {filter!r}"
        )
    refuse_code_operators(filter, "filter", 0)
    return _Checker(embedded=False).document(filter, "filter")


def check_embedded_filter(filter: Any) -> dict[str, Any]:
    """Check a filter with :func:`check_filter`, then against the embedded backend's subset.

    Parameters
    ----------
    filter : Mapping or None
        A MongoDB filter document; ``None`` means "everything".

    Returns
    -------
    dict
        A deep copy of the filter with datetimes cut to whole milliseconds, as BSON (and so
        the MongoDB backend) stores them.

    Raises
    ------
    ArgumentTypeError, ValidationError
        As :func:`check_filter`; ValidationError also names any operator outside the subset
        listed in :mod:`signalstore_es.domain.query` (listing the supported ones), and any
        value a record cannot hold.
    """
    return _Checker(embedded=True).document(check_filter(filter), "filter")


def refuse_code_operators(value: Any, where: str, depth: int) -> None:
    """Raise ValidationError if a code-executing operator is a key anywhere inside ``value``."""
    if depth > MAX_DEPTH:
        raise ValidationError(f"{where}: the filter is nested deeper than {MAX_DEPTH} levels; flatten it")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in CODE_OPERATORS:
                raise ValidationError(
                    f"{key} (at {where}) is refused because it executes JavaScript code on the "
                    "server, which signalstore_es never allows; express the condition with query "
                    "operators such as $eq, $in, $regex or $elemMatch"
                )
            refuse_code_operators(item, _at(where, key), depth + 1)
    elif isinstance(value, ARRAY_TYPES):
        for index, item in enumerate(value):
            refuse_code_operators(item, f"{where}[{index}]", depth + 1)


def _at(where: str, key: Any) -> str:
    return f"{where}[{key!r}]"


def _require_str_key(key: Any, where: str) -> str:
    if not isinstance(key, str):
        raise ValidationError(f"{where}: keys must be str, got {type(key).__name__} {key!r}")
    return _require_unicode(key, where)


def _require_unicode(text: str, where: str) -> str:
    """``text`` if it can be encoded as UTF-8 (as BSON and every record must), else raise.

    Only a lone surrogate (from a bad decode) cannot; ``isascii`` answers in constant time,
    so the common case costs nothing.
    """
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValidationError(
                f"{where}: {text!r} is not valid Unicode (a lone surrogate at position {err.start}); "
                "filters and records hold UTF-8 text only") from None
    return text


def _check_path(path: str, where: str) -> str:
    parts = path.split(".")
    if "" in parts or "\x00" in path:
        raise ValidationError(
            f"{where}: field path {path!r} has an empty component or a NUL; write paths like 'a.b.c'")
    if any(part.startswith("$") for part in parts[1:]):
        raise ValidationError(
            f"{where}: field path {path!r} has a component starting with '$'; positional and "
            "operator components are not allowed in a filter path")
    return path


def _unsupported(op: str, where: str) -> ValidationError:
    supported = ", ".join(LOGICAL_OPERATORS + EMBEDDED_FIELD_OPERATORS)
    return ValidationError(
        f"operator {op} (at {where}) is not supported by the embedded (SQLite) backend; "
        f"supported: {supported}. Rewrite the filter with these, or use the MongoDB backend"
    )


class _Checker:
    """Walks a filter, checking shapes and copying it; ``embedded`` adds the subset rules."""

    def __init__(self, *, embedded: bool) -> None:
        self.embedded = embedded

    def document(self, doc: Mapping[Any, Any], where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in doc.items():
            _require_str_key(key, where)
            if key.startswith("$"):
                out[key] = self.pathless(key, value, _at(where, key))
            else:
                out[_check_path(key, where)] = self.condition(value, _at(where, key))
        return out

    def pathless(self, op: str, value: Any, where: str) -> Any:
        if op in LOGICAL_OPERATORS:
            return self.clauses(op, value, where)
        if self.embedded:
            raise _unsupported(op, where)
        if op not in PATHLESS_OPERATORS:
            raise ValidationError(
                f"unknown top-level operator {op} at {where}; top-level keys are field paths "
                f"or one of {', '.join(PATHLESS_OPERATORS)}")
        return self.literal(value, where)

    def clauses(self, op: str, value: Any, where: str) -> list[dict[str, Any]]:
        if (not isinstance(value, ARRAY_TYPES) or not value
                or not all(isinstance(clause, Mapping) for clause in value)):
            raise ValidationError(
                f"{op} at {where} must be a non-empty list of filter documents, e.g. "
                f"{{'{op}': [{{'a': 1}}, {{'b': 2}}]}}; got {value!r}")
        return [self.document(clause, f"{where}[{i}]") for i, clause in enumerate(value)]

    def condition(self, value: Any, where: str) -> Any:
        if isinstance(value, Mapping) and any(
                isinstance(key, str) and key.startswith("$") for key in value):
            return self.operators(value, where)
        return self.literal(value, where)

    def operators(self, ops: Mapping[Any, Any], where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for op, arg in ops.items():
            if not _require_str_key(op, where).startswith("$"):
                raise ValidationError(
                    f"{where} mixes operators and field names ({op!r}); to match a sub-document "
                    "literally write {'$eq': {...}}, to match a nested field use a dotted path")
            out[op] = self.operator(op, arg, ops, _at(where, op))
        if "$options" in ops and "$regex" not in ops:
            raise ValidationError(f"{where}: $options needs a $regex beside it")
        return out

    def operator(self, op: str, arg: Any, siblings: Mapping[str, Any], where: str) -> Any:
        if self.embedded and op not in EMBEDDED_FIELD_OPERATORS:
            raise _unsupported(op, where)
        if op not in FIELD_OPERATORS:
            raise ValidationError(
                f"unknown operator {op} at {where}; field operators are {', '.join(FIELD_OPERATORS)}")
        check, arg = ARGUMENT_CHECKS.get(op), _plain(arg)
        return check(self, op, arg, siblings, where) if check else self.literal(arg, where)

    def value_list(self, op: str, arg: Any, where: str) -> list[Any]:
        if not isinstance(arg, ARRAY_TYPES):
            raise ValidationError(f"{op} at {where} needs a list of values, got {arg!r}")
        for index, item in enumerate(arg):
            if is_operator_document(item):
                raise ValidationError(
                    f"{where}[{index}]: operators cannot be nested inside {op}; use $or or $and")
        return [self.literal(item, f"{where}[{i}]") for i, item in enumerate(arg)]

    def literal(self, value: Any, where: str) -> Any:
        value = _plain(value)
        if isinstance(value, str):
            return _require_unicode(value, where)
        if value is None or isinstance(value, (bool, float)):
            return value
        if isinstance(value, int):
            return _checked_int(value, where)
        if isinstance(value, datetime):
            return self.moment(value, where)
        if isinstance(value, ARRAY_TYPES):
            return [self.literal(item, f"{where}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, Mapping):
            return self.literal_document(value, where)
        if self.embedded:
            raise _bad_value(value, where)
        if not _is_bson_value(value):
            raise _unencodable_value(value, where)
        return value

    def literal_document(self, value: Mapping[Any, Any], where: str) -> dict[str, Any]:
        for key in value:
            if _require_str_key(key, where).startswith("$") and self.embedded:
                raise ValidationError(
                    f"{where}: {key!r} cannot appear inside a literal value; operators go "
                    "directly under a field path, e.g. {'a.b': {'$gt': 1}}")
        return {key: self.literal(item, _at(where, key)) for key, item in value.items()}

    def moment(self, value: datetime, where: str) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError(
                f"{where}: {value!r} is a naive datetime; pass a timezone-aware one, for example "
                "datetime(..., tzinfo=timezone.utc)")
        if self.embedded:  # BSON keeps milliseconds; so must the embedded comparison
            return value.replace(microsecond=value.microsecond // 1000 * 1000)
        return value


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays as the Python values pymongo can encode."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    return value


def _checked_int(value: int, where: str) -> int:
    if not fits_int64(value):
        raise ValidationError(f"{where}: the integer {value} does not fit in 64 bits")
    return value


def _is_bson_value(value: Any) -> bool:
    """Whether the MongoDB driver can encode ``value`` (beyond the record value types).

    Checked here rather than left to the driver, so that both backends refuse the same
    filters with the same error: compiled patterns, bytes and the ``bson`` package's own
    types (ObjectId, Regex, Decimal128, Binary, ...) are encodable; ``Decimal``, ``UUID``
    (without a configured representation), ``date``, sets and arbitrary objects are not.
    """
    if isinstance(value, (re.Pattern, bytes)):
        return True
    module = type(value).__module__
    return module == "bson" or module.startswith("bson.")


def _unencodable_value(value: Any, where: str) -> ValidationError:
    hint = ("; convert it with bson.Binary.from_uuid(...)" if isinstance(value, uuid.UUID) else
            "; convert it with bson.Decimal128(...)" if isinstance(value, Decimal) else "")
    return ValidationError(
        f"{where}: a {type(value).__name__} ({value!r}) cannot appear in a filter: MongoDB's BSON "
        f"cannot encode it; use str, bool, int, float, None, an aware datetime, a list or a dict "
        f"of these (or a bson type such as ObjectId){hint}")


def _bad_value(value: Any, where: str) -> ValidationError:
    hint = "; for a pattern use {'$regex': '...', '$options': 'i'}" if isinstance(value, re.Pattern) else ""
    return ValidationError(
        f"{where}: a {type(value).__name__} ({value!r}) cannot appear in a filter for the embedded "
        f"backend; use str, bool, int, float, None, an aware datetime, a list or a dict{hint}")
