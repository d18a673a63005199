"""Record values: what a record may hold, normalized at the boundary.

A record (and an object's attrs) may hold ``str``, ``bool``, ``int`` (64-bit), finite
``float``, ``None``, timezone-aware ``datetime``, lists and string-keyed mappings of these.
NumPy scalars become their Python equivalents and NumPy arrays become (nested) lists, because
netCDF and Zarr hand attrs back as NumPy values; everything else is refused with a message
naming the key, never stringified behind the user's back.

Limits, the same on both backends (MongoDB's are the binding ones):

* nesting: at most :data:`MAX_DEPTH` levels of lists and mappings;
* size: at most :data:`MAX_RECORD_BYTES` (14 MiB) when encoded as BSON. MongoDB holds a
  record in one 16 MiB document (its event, its view row), and the event and the view add
  their own fields; large content belongs in the data object's blob, not in its record;
* text: valid Unicode only (no lone surrogates), as UTF-8, BSON and JSON need.

The size is counted while the record is normalized, in the same single walk (an upper bound
of the BSON size: every int counts 8 bytes), so checking it costs no second pass and no
encoding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from signalstore_es.domain.codec import fits_int64
from signalstore_es.domain.time import require_aware, truncate_to_ms
from signalstore_es.errors import ValidationError

MAX_DEPTH = 32
MAX_RECORD_BYTES = 14 * 1024 * 1024  #: MongoDB's 16 MiB document less room for event and view fields
_MIB = 1024 * 1024
#: BSON bytes of a document or array around its elements: int32 length and terminating NUL
_CONTAINER_BYTES = 5
#: BSON bytes of an element besides its name and value: type byte and the name's NUL
_ELEMENT_BYTES = 2
#: BSON bytes of a str besides its UTF-8: int32 length and terminating NUL
_STRING_BYTES = 5
#: the least BSON bytes one element of a list takes (type, a one-digit index, NUL)
_MIN_LIST_ELEMENT_BYTES = 3


class _Size:
    """The running BSON size of the record being normalized."""

    __slots__ = ("bytes",)

    def __init__(self) -> None:
        self.bytes = 0


def normalize_document(document: Mapping[Any, Any], *, where: str) -> dict[str, Any]:
    """Return a deep, normalized copy of ``document`` or raise ValidationError.

    Raises
    ------
    ValidationError
        For a value a record cannot hold (see the module docstring), a bad field name, nesting
        deeper than :data:`MAX_DEPTH`, or more than :data:`MAX_RECORD_BYTES` in all.
    """
    if type(document) is dict:
        try:
            return _copied_plain_document(document)
        except _NotPlain:
            pass  # the full walk below normalizes it, or explains what is wrong and where
    return _normalized_document(document, where)


# -- the fast path: documents that are already plain ----------------------------------------------
#
# Most records arrive as dicts of str, int, float, bool and None (JSON-like). For those,
# normalizing is a checked deep copy; this path does it without building the ``where`` text of
# every value (the full walk's main cost). Anything else, including every invalid value, makes
# it give up, and the full walk runs from the start: same result, same error messages.


class _NotPlain(Exception):
    """The document needs the full walk (an unusual type, or something to refuse)."""


_PLAIN_SCALARS = frozenset({bool, type(None)})


def _copied_plain_document(document: dict[Any, Any]) -> dict[str, Any]:
    size = [_CONTAINER_BYTES]
    copy = _copied_plain_mapping(document, 1, size)
    if size[0] > MAX_RECORD_BYTES:
        raise _NotPlain
    return copy


def _copied_plain_mapping(mapping: dict[Any, Any], depth: int, size: list[int]) -> dict[str, Any]:
    copy: dict[str, Any] = {}
    total = 0
    for name, value in mapping.items():
        name_bytes = _PLAIN_NAME_BYTES.get(name) if type(name) is str else None
        if name_bytes is None:
            name_bytes = _plain_name_bytes(name)
        kind = type(value)
        if kind is str and value.isascii():  # most values: no call
            total += name_bytes + _STRING_BYTES + len(value)
        else:
            scalar_bytes = _plain_scalar_bytes(value, kind)
            if scalar_bytes is None:
                value = _copied_plain_container(value, kind, depth, size)
                scalar_bytes = 0  # the container counted itself into ``size``
            total += name_bytes + scalar_bytes
        copy[name] = value
    size[0] += total
    return copy


#: field name -> its BSON bytes besides the value, for names already found plain (records of
#: one model repeat the same few names); cleared when full
_PLAIN_NAME_BYTES: dict[str, int] = {}


def _plain_name_bytes(name: Any) -> int:
    if type(name) is not str or not name or name[0] == "$" or "." in name or "\x00" in name \
            or not name.isascii():
        raise _NotPlain
    if len(_PLAIN_NAME_BYTES) >= 4096:
        _PLAIN_NAME_BYTES.clear()
    _PLAIN_NAME_BYTES[name] = found = _ELEMENT_BYTES + len(name)
    return found


def _copied_plain_container(value: Any, kind: type, depth: int, size: list[int]) -> Any:
    if depth >= MAX_DEPTH:
        raise _NotPlain
    if kind is dict:
        size[0] += _CONTAINER_BYTES
        return _copied_plain_mapping(value, depth + 1, size)
    if kind is not list:
        raise _NotPlain
    size[0] += _CONTAINER_BYTES + _ELEMENT_BYTES * len(value) + _index_name_bytes(len(value))
    copy = []
    for item in value:
        item_kind = type(item)
        scalar_bytes = _plain_scalar_bytes(item, item_kind)
        if scalar_bytes is None:
            item = _copied_plain_container(item, item_kind, depth + 1, size)
        else:
            size[0] += scalar_bytes
        copy.append(item)
    return copy


def _plain_scalar_bytes(value: Any, kind: type) -> int | None:
    """The BSON bytes of a plain scalar value, None for a container (a list or a dict, or
    anything else, which the container path refuses)."""
    if kind is str:
        return _STRING_BYTES + _plain_utf8_length(value)
    if kind is int:
        if not fits_int64(value):
            raise _NotPlain
        return 8
    if kind is float:
        if not math.isfinite(value):
            raise _NotPlain
        return 8
    return 1 if kind in _PLAIN_SCALARS else None


def _plain_utf8_length(text: str) -> int:
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: the full walk names it
        raise _NotPlain from None


# -- the full walk ----------------------------------------------------------------------------------


def _normalized_document(document: Any, where: str) -> dict[str, Any]:
    if not isinstance(document, Mapping):
        raise ValidationError(f"{where} must be a mapping, got {type(document).__name__}")
    size = _Size()
    size.bytes = _CONTAINER_BYTES
    normalized = {_named(k, where, size): normalize_value(v, where=f"{where}[{k!r}]", depth=1, size=size)
                  for k, v in document.items()}
    if size.bytes > MAX_RECORD_BYTES:
        raise _too_large(where, size.bytes, normalized)
    return normalized


def _check_field_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValidationError(f"{where}: field names must be non-empty str, got {name!r}")
    if name.startswith("$") or "." in name or "\x00" in name:
        raise ValidationError(
            f"{where}: field name {name!r} may not start with '$' or contain '.' or NUL, "
            "because queries would read it as an operator or a path"
        )
    return name


def normalize_value(value: Any, *, where: str, depth: int = 0, size: _Size | None = None) -> Any:
    """Return ``value`` as a plain record value (see module docstring) or raise.

    ``size``, when given, is increased by the value's BSON size (``normalize_document``
    passes one to bound the whole record).
    """
    if size is None:
        size = _Size()
    if depth > MAX_DEPTH:
        raise ValidationError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if type(value) is str:  # fast path: most values
        size.bytes += _STRING_BYTES + (len(value) if value.isascii() else _utf8_length(value, where))
        return value
    if value is None or type(value) is bool:
        size.bytes += 1
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        size.bytes += _STRING_BYTES + _utf8_length(value, where)
        return value
    if value is None or isinstance(value, bool):
        size.bytes += 1
        return value
    if isinstance(value, int):
        size.bytes += 8
        return _checked_int(value, where)
    if isinstance(value, float):
        size.bytes += 8
        return _checked_float(value, where)
    if isinstance(value, datetime):
        size.bytes += 8
        return truncate_to_ms(require_aware(value, argument=where))
    if isinstance(value, np.ndarray):
        _refuse_oversized_array(value, where)  # before tolist() makes a Python object of each item
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        size.bytes += _CONTAINER_BYTES + _ELEMENT_BYTES * len(value) + _index_name_bytes(len(value))
        return [normalize_value(v, where=f"{where}[{i}]", depth=depth + 1, size=size) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        size.bytes += _CONTAINER_BYTES
        return {_named(k, where, size): normalize_value(v, where=f"{where}[{k!r}]", depth=depth + 1, size=size)
                for k, v in value.items()}
    raise ValidationError(
        f"{where}: a {type(value).__name__} cannot be stored in a record; use str, bool, int, "
        "float, None, an aware datetime, a list or a dict of these"
    )


def _named(key: Any, where: str, size: _Size) -> str:
    name = _check_field_name(key, where)
    size.bytes += _ELEMENT_BYTES + _utf8_length(name, where)
    return name


def _utf8_length(text: str, where: str) -> int:
    """UTF-8 length of ``text``; ``isascii`` answers in constant time for the common case."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as err:
        raise ValidationError(
            f"{where}: {text[:40]!r} is not valid Unicode (a lone surrogate at position {err.start}); "
            "records hold UTF-8 text only") from None


def _index_name_bytes(count: int) -> int:
    """Total length of the element names "0", "1", ..., str(count - 1) of a BSON array."""
    total, digits, start = 0, 1, 0
    while start < count:
        end = min(count, 10**digits)
        total += (end - start) * digits
        start, digits = end, digits + 1
    return total


def _refuse_oversized_array(array: np.ndarray, where: str) -> None:
    if array.size * _MIN_LIST_ELEMENT_BYTES > MAX_RECORD_BYTES:
        raise ValidationError(
            f"{where}: an array of {array.size} values cannot be stored in a record: a record "
            f"holds at most {MAX_RECORD_BYTES // _MIB} MiB; store it as a data object (a blob) and "
            "reference it by name")


def _too_large(where: str, total: int, normalized: dict[str, Any]) -> ValidationError:
    field_sizes = {name: _size_of(value, where) for name, value in normalized.items()}  # failure path only
    largest = max(field_sizes, key=field_sizes.__getitem__)
    return ValidationError(
        f"{where} takes {total / _MIB:.1f} MiB when encoded, more than the "
        f"{MAX_RECORD_BYTES // _MIB} MiB a record may hold (MongoDB stores a record in one 16 MiB "
        f"document, with its event's and view's fields); its largest field is {where}[{largest!r}] "
        f"({field_sizes[largest] / _MIB:.1f} MiB). Keep large content in the data object's blob, "
        "not in the record")


def _size_of(value: Any, where: str) -> int:
    size = _Size()
    normalize_value(value, where=where, size=size)  # idempotent on a normalized value
    return size.bytes


def _checked_int(value: int, where: str) -> int:
    if not fits_int64(value):
        raise ValidationError(f"{where}: integer {value} does not fit in 64 bits")
    return value


def _checked_float(value: float, where: str) -> float:
    if not math.isfinite(value):
        raise ValidationError(f"{where}: {value!r} is not a finite number; store None instead")
    return value
