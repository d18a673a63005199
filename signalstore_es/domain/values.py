"""Record values: what a record may hold, normalized at the boundary.

A record (and an object's attrs) may hold ``str``, ``bool``, ``int`` (64-bit), finite
``float``, ``None``, timezone-aware ``datetime``, lists and string-keyed mappings of these.
NumPy scalars become their Python equivalents and NumPy arrays become (nested) lists, because
netCDF and Zarr hand attrs back as NumPy values; everything else is refused with a message
naming the key, never stringified behind the user's back.
"""

from __future__ import annotations

import math
from datetime import datetime
from collections.abc import Mapping
from typing import Any

import numpy as np

from signalstore_es.domain.time import require_aware, truncate_to_ms
from signalstore_es.errors import ValidationError

MAX_DEPTH = 32
_INT64 = (-(2**63), 2**63 - 1)


def normalize_document(document: Mapping[Any, Any], *, where: str) -> dict[str, Any]:
    """Return a deep, normalized copy of ``document`` or raise ValidationError."""
    if not isinstance(document, Mapping):
        raise ValidationError(f"{where} must be a mapping, got {type(document).__name__}")
    return {_check_field_name(k, where): normalize_value(v, where=f"{where}[{k!r}]", depth=1)
            for k, v in document.items()}


def _check_field_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValidationError(f"{where}: field names must be non-empty str, got {name!r}")
    if name.startswith("$") or "." in name or "\x00" in name:
        raise ValidationError(
            f"{where}: field name {name!r} may not start with '$' or contain '.' or NUL, "
            "because queries would read it as an operator or a path"
        )
    return name


def normalize_value(value: Any, *, where: str, depth: int = 0) -> Any:
    """Return ``value`` as a plain record value (see module docstring) or raise."""
    if depth > MAX_DEPTH:
        raise ValidationError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if type(value) is str or value is None or type(value) is bool:  # fast path: most values
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return _checked_int(value, where)
    if isinstance(value, float):
        return _checked_float(value, where)
    if isinstance(value, datetime):
        return truncate_to_ms(require_aware(value, argument=where))
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [normalize_value(v, where=f"{where}[{i}]", depth=depth + 1) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {_check_field_name(k, where): normalize_value(v, where=f"{where}[{k!r}]", depth=depth + 1)
                for k, v in value.items()}
    raise ValidationError(
        f"{where}: a {type(value).__name__} cannot be stored in a record; use str, bool, int, "
        "float, None, an aware datetime, a list or a dict of these"
    )


def _checked_int(value: int, where: str) -> int:
    if not _INT64[0] <= value <= _INT64[1]:
        raise ValidationError(f"{where}: integer {value} does not fit in 64 bits")
    return value


def _checked_float(value: float, where: str) -> float:
    if not math.isfinite(value):
        raise ValidationError(f"{where}: {value!r} is not a finite number; store None instead")
    return value
