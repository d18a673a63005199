"""Checks of the arguments of individual filter operators (``$in`` needs a list, ...).

Each check receives the walking checker of :mod:`signalstore_es.domain.query_check` (for
recursion and literal copying), the operator, its argument, the operator's sibling operators
and a ``where`` string for messages, and returns the checked copy of the argument.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from signalstore_es.domain.query_bson import ARRAY_TYPES, INT32, TYPE_ALIASES
from signalstore_es.domain.query_syntax import (
    REGEX_OPTIONS,
    compile_regex,
    is_elem_match_value_form,
    is_operator_document,
)
from signalstore_es.errors import ValidationError

if TYPE_CHECKING:
    from signalstore_es.domain.query_check import _Checker as Checker

_TYPE_CODES = frozenset(TYPE_ALIASES.values())


def _check_in(checker: Checker, op: str, arg: Any, siblings: Mapping[str, Any],
              where: str) -> Any:
    return checker.value_list(op, arg, where)


def _check_all(checker: Checker, op: str, arg: Any, siblings: Mapping[str, Any],
               where: str) -> Any:
    if isinstance(arg, ARRAY_TYPES) and arg and all(
            isinstance(item, Mapping) and item and next(iter(item)) == "$elemMatch" for item in arg):
        if checker.embedded:
            raise ValidationError(
                f"{where}: $all of $elemMatch clauses is not supported by the embedded backend; "
                "write {'$and': [{'field': {'$elemMatch': ...}}, ...]} instead")
        return [checker.operators(item, f"{where}[{i}]") for i, item in enumerate(arg)]
    return checker.value_list(op, arg, where)


def _check_not(checker: Checker, op: str, arg: Any, siblings: Mapping[str, Any],
               where: str) -> Any:
    if isinstance(arg, re.Pattern) and not checker.embedded:
        return arg
    if not is_operator_document(arg):
        raise ValidationError(
            f"$not at {where} needs a non-empty document of operators, e.g. "
            f"{{'$not': {{'$gt': 5}}}} or {{'$not': {{'$regex': '^x'}}}}; got {arg!r}")
    return checker.operators(arg, where)


def _check_size(checker: Checker, op: str, arg: Any, siblings: Mapping[str, Any],
                where: str) -> Any:
    whole = isinstance(arg, int) or (isinstance(arg, float) and arg.is_integer())
    if isinstance(arg, bool) or not whole or not 0 <= arg <= INT32[1]:
        raise ValidationError(f"$size at {where} needs a whole number >= 0, got {arg!r}")
    return arg


def _check_type(checker: Checker, op: str, arg: Any, siblings: Mapping[str, Any],
                where: str) -> Any:
    items = list(arg) if isinstance(arg, ARRAY_TYPES) else [arg]
    for item in items:
        if isinstance(item, str) and (item == "number" or item in TYPE_ALIASES):
            continue
        if isinstance(item, (int, float)) and not isinstance(item, bool) and item in _TYPE_CODES:
            continue
        raise ValidationError(
            f"$type at {where}: {item!r} is not a BSON type; use a code or one of 'number', "
            f"{', '.join(repr(alias) for alias in TYPE_ALIASES)}")
    if not items:
        raise ValidationError(f"$type at {where} must name at least one type")
    return list(arg) if isinstance(arg, ARRAY_TYPES) else arg


def _check_regex(checker: Checker, op: str, arg: Any, siblings: Mapping[str, Any],
                 where: str) -> Any:
    if isinstance(arg, re.Pattern) and not checker.embedded:
        return arg
    if not isinstance(arg, str):
        raise ValidationError(f"$regex at {where} must be a str pattern, got {arg!r}")
    if "\x00" in arg:  # the server refuses it (BadValue); say so the same way on both backends
        raise ValidationError(f"$regex at {where}: {arg!r} contains a NUL character; remove it")
    options = siblings.get("$options", "")
    if checker.embedded and isinstance(options, str):
        # only the embedded backend compiles here: the server's PCRE accepts patterns Python's
        # re does not (\p{L}, (?<name>...)), so on MongoDB the server judges the pattern and
        # the adapter reports its refusal as a ValidationError too
        compile_regex(arg, options)
    return checker.literal(arg, where)


def _check_options(checker: Checker, op: str, arg: Any, siblings: Mapping[str, Any],
                   where: str) -> Any:
    if not isinstance(arg, str) or any(letter not in REGEX_OPTIONS for letter in arg):
        raise ValidationError(
            f"$options at {where} must be a str of the letters {REGEX_OPTIONS!r}, got {arg!r}")
    return arg


def _check_elem_match(checker: Checker, op: str, arg: Any, siblings: Mapping[str, Any],
                      where: str) -> Any:
    if not isinstance(arg, Mapping):
        raise ValidationError(
            f"$elemMatch at {where} needs a document, e.g. {{'$elemMatch': {{'$gt': 1}}}} or "
            f"{{'$elemMatch': {{'name': 'x'}}}}; got {arg!r}")
    if is_elem_match_value_form(arg):
        return checker.operators(arg, where)
    return checker.document(arg, where)


def _check_mod(checker: Checker, op: str, arg: Any, siblings: Mapping[str, Any],
               where: str) -> Any:
    if not (isinstance(arg, ARRAY_TYPES) and len(arg) == 2 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in arg)):
        raise ValidationError(f"$mod at {where} needs [divisor, remainder], got {arg!r}")
    return list(arg)


ARGUMENT_CHECKS: dict[str, Callable[[Checker, str, Any, Mapping[str, Any], str], Any]] = {
    "$in": _check_in, "$nin": _check_in, "$all": _check_all, "$not": _check_not,
    "$size": _check_size, "$type": _check_type, "$regex": _check_regex,
    "$options": _check_options, "$elemMatch": _check_elem_match, "$mod": _check_mod,
}
