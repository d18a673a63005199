"""Record identity and the naming rules every key must follow."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Union

import attrs

from signalstore_es.domain.time import require_aware, to_epoch_ms, truncate_to_ms
from signalstore_es.errors import ArgumentTypeError, ValidationError

#: SignalStore's identifier rule for schema names: lowercase snake case, no ``__``.
SCHEMA_NAME_PATTERN = re.compile(r"^(?!.*__)[a-z][a-z0-9_]*[a-z0-9]$")
#: data_name: 1-256 of ``A-Z a-z 0-9 _ . -``, starting with a letter or digit, no ``__``.
DATA_NAME_PATTERN = re.compile(r"^(?!.*__)[A-Za-z0-9][A-Za-z0-9_.\-]{0,255}$")

VersionTimestamp = Union[int, datetime]


def check_schema_name(value: Any, *, argument: str = "schema_name") -> str:
    """Return ``value`` if it is a valid schema identifier, else raise ValidationError."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{argument} must be a str, got {type(value).__name__}: {value!r}")
    if not SCHEMA_NAME_PATTERN.fullmatch(value):
        raise ValidationError(
            f"{argument}={value!r} breaks the naming rule: lowercase letters, digits and single "
            "underscores, starting with a letter and ending with a letter or digit (e.g. 'spike_times')"
        )
    return value


def check_data_name(value: Any) -> str:
    """Return ``value`` if it is a valid data_name, else raise ValidationError."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"data_name must be a str, got {type(value).__name__}: {value!r}")
    if not DATA_NAME_PATTERN.fullmatch(value):
        raise ValidationError(
            f"data_name={value!r} breaks the naming rule: 1-256 characters of A-Z a-z 0-9 _ . -, "
            "starting with a letter or digit, without '__' (e.g. '2024-04-28-AM-Animal1')"
        )
    return value


def check_version_timestamp(value: Any) -> VersionTimestamp:
    """Return 0 or the UTC, millisecond version of an aware datetime; refuse anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, datetime)):
        raise ArgumentTypeError(
            f"version_timestamp must be 0 or a timezone-aware datetime, got "
            f"{type(value).__name__}: {value!r}"
        )
    if isinstance(value, int):
        if value != 0:
            raise ValidationError(
                f"version_timestamp={value!r}: the only integer allowed is 0 (unversioned)"
            )
        return 0
    return truncate_to_ms(require_aware(value, argument="version_timestamp"))


@attrs.frozen(kw_only=True, cache_hash=True)  # a dict key of every staged add and view lookup
class RecordKey:
    """The identity of a record: ``(schema_ref, data_name, version_timestamp)``."""

    schema_ref: str
    data_name: str
    version_timestamp: VersionTimestamp = 0
    #: :meth:`as_string`, computed once (row ids and conflict keys ask for it several times)
    _string: str | None = attrs.field(default=None, init=False, eq=False, repr=False)

    @classmethod
    def checked(cls, schema_ref: Any, data_name: Any, version_timestamp: Any = 0) -> RecordKey:
        """Build a key from user input, validating every part."""
        return cls(
            schema_ref=check_schema_name(schema_ref, argument="schema_ref"),
            data_name=check_data_name(data_name),
            version_timestamp=check_version_timestamp(version_timestamp),
        )

    @property
    def is_versioned(self) -> bool:
        return self.version_timestamp != 0

    def as_string(self) -> str:
        """A stable, unique string form, used as a view row id and a conflict key."""
        string = self._string
        if string is None:
            version = self.version_timestamp
            stamp = "0" if isinstance(version, int) else str(to_epoch_ms(version))
            string = f"{self.schema_ref}/{self.data_name}/{stamp}"
            object.__setattr__(self, "_string", string)  # a cache: the key itself never changes
        return string

    def describe(self) -> str:
        """The form used in error messages: ``('spike_times', 'unit7', 0)``."""
        version = self.version_timestamp
        shown = "0" if isinstance(version, int) else version.isoformat()
        return f"({self.schema_ref!r}, {self.data_name!r}, {shown})"
