"""The vocabulary of the MongoDB filter language: operator names and document shapes."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from signalstore_es.errors import ValidationError

#: Operators that run JavaScript on the server; refused everywhere, by both backends.
CODE_OPERATORS = ("$where", "$function", "$accumulator")
LOGICAL_OPERATORS = ("$and", "$or", "$nor")
#: Top-level (pathless) operators the MongoDB server knows, besides the code-executing one.
PATHLESS_OPERATORS = LOGICAL_OPERATORS + (
    "$comment", "$expr", "$jsonSchema", "$text", "$alwaysTrue", "$alwaysFalse",
)
#: Field operators the MongoDB server knows (``check_filter`` refuses any other ``$name``).
FIELD_OPERATORS = (
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$type", "$not",
    "$all", "$size", "$elemMatch", "$regex", "$options", "$mod", "$bitsAllSet",
    "$bitsAllClear", "$bitsAnySet", "$bitsAnyClear", "$geoWithin", "$geoIntersects", "$near",
    "$nearSphere", "$maxDistance", "$minDistance", "$within",
)
#: Field operators the embedded (SQLite) backend evaluates.
EMBEDDED_FIELD_OPERATORS = (
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$not", "$all",
    "$size", "$elemMatch", "$regex", "$options", "$type",
)
COMPARISON_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
REGEX_OPTIONS = "imsx"
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
_INDEX = re.compile(r"[0-9]+")


def first_key(document: Mapping[Any, Any]) -> Any:
    """The first key of a non-empty mapping (MongoDB decides shapes by it)."""
    return next(iter(document))


def is_operator_document(value: Any) -> bool:
    """Whether ``value`` is ``{"$op": ...}`` rather than a literal (the server's rule)."""
    if not isinstance(value, Mapping) or not value:
        return False
    key = first_key(value)
    return isinstance(key, str) and key.startswith("$")


def is_elem_match_value_form(argument: Mapping[str, Any]) -> bool:
    """``{"$elemMatch": {"$gt": 1}}`` (value form) vs ``{"$elemMatch": {"b": 1}}`` (object form).

    As in the server, the value form is an operator document whose first operator is not a
    pathless one (``$and``/``$or``/``$nor``/...), which make the object form.
    """
    return is_operator_document(argument) and first_key(argument) not in (
        PATHLESS_OPERATORS + CODE_OPERATORS)


def split_path(path: str) -> tuple[str, ...]:
    """``"a.b.0"`` -> ``("a", "b", "0")``."""
    return tuple(path.split("."))


def is_index(part: str) -> bool:
    """Whether a path component is all ASCII digits, so it may address an array element."""
    return _INDEX.fullmatch(part) is not None


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str, options: str = "") -> re.Pattern[str]:
    """Compile a ``$regex`` with its ``$options`` letters, or raise ValidationError."""
    flags = 0
    for letter in options:
        if letter not in _REGEX_FLAGS:
            raise ValidationError(
                f"$options={options!r} has the unknown flag {letter!r}; use only the letters "
                f"{REGEX_OPTIONS!r} (i: ignore case, m: multiline, s: dot matches newline, "
                "x: extended)"
            )
        flags |= _REGEX_FLAGS[letter]
    if "\x00" in pattern:
        raise ValidationError(f"$regex={pattern!r} contains a NUL character; remove it")
    try:
        return re.compile(pattern, flags)
    except re.error as err:
        raise ValidationError(
            f"$regex={pattern!r} is not a valid regular expression ({err}); the embedded backend "
            "uses Python's re syntax, which covers the common PCRE subset"
        ) from err
