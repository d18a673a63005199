"""Events: immutable, past-tense facts appended to the log.

Each event class has a stable ``event_type`` tag and a ``schema_version``; old shapes are
upcast on read by :mod:`signalstore_es.domain.codec`, never rewritten. Module paths are
never stored in the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Union

import attrs

from signalstore_es.domain.keys import RecordKey


class FrozenDict(dict):  # type: ignore[type-arg]
    """A dict that refuses changes: an event's record and model are facts.

    A dict subclass rather than a ``MappingProxyType`` because encoders (orjson, BSON, the
    stdlib ``json``) write dicts natively, while a proxy has to be copied for each of the
    three encodings every event goes through (hash, log, view)."""

    __slots__ = ()

    def _refuse(self, *_args: Any, **_kwargs: Any) -> Any:
        raise TypeError("an event's fields are read-only: copy it (dict(...)) to change it")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:  # pickle and deepcopy would call __setitem__
        return (FrozenDict, (dict(self),))


def _read_only(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return FrozenDict(value)


@attrs.frozen(kw_only=True)
class BlobRef:
    """Where a record's data bytes live and what they are."""

    address: str  #: ``<algorithm>:<hex digest>`` of the object's logical content
    adapter: str  #: name of the data adapter that wrote it, e.g. ``xarray.dataarray.netcdf``
    file_format: str  #: e.g. ``netcdf``, ``zarr``
    extension: str  #: file extension of the blob path, e.g. ``.nc`` or ``.zarr``
    size: int  #: bytes on storage
    shape: tuple[int, ...] = attrs.field(converter=tuple, default=())
    dtype: str = ""
    #: ``blake3:<hex>`` of the stored bytes (any changed byte shows); "" if not recorded
    file_digest: str = ""


@attrs.frozen(kw_only=True)
class DomainModelAdded:
    """A model was added; ``json_schema`` is kept as canonical JSON text because JSON Schema
    keys such as ``$ref`` are not valid field names in every backend."""

    event_type: ClassVar[str] = "domain_model_added"
    schema_version: ClassVar[int] = 1

    schema_name: str
    model: Mapping[str, Any] = attrs.field(converter=_read_only)
    json_schema: str


@attrs.frozen(kw_only=True)
class DomainModelRemoved:
    event_type: ClassVar[str] = "domain_model_removed"
    schema_version: ClassVar[int] = 1

    schema_name: str


@attrs.frozen(kw_only=True)
class RecordAdded:
    """A new generation of a record; its generation number is the ``seq`` of its commit."""

    event_type: ClassVar[str] = "record_added"
    schema_version: ClassVar[int] = 1

    key: RecordKey
    record: Mapping[str, Any] = attrs.field(converter=_read_only)
    blob: BlobRef | None = None


@attrs.frozen(kw_only=True)
class RecordRemoved:
    """A soft delete: the record is hidden from get/find but kept for restore and history."""

    event_type: ClassVar[str] = "record_removed"
    schema_version: ClassVar[int] = 1

    key: RecordKey
    generation: int  #: ``seq`` of the commit that added this generation of the record


@attrs.frozen(kw_only=True)
class RecordRestored:
    event_type: ClassVar[str] = "record_restored"
    schema_version: ClassVar[int] = 1

    key: RecordKey
    generation: int


@attrs.frozen(kw_only=True)
class RecordPurged:
    """A removed record was purged: it leaves the current views; history keeps it."""

    event_type: ClassVar[str] = "record_purged"
    schema_version: ClassVar[int] = 1

    key: RecordKey
    generation: int


@attrs.frozen(kw_only=True)
class BlobPurged:
    """The bytes at ``address`` are deleted once this commit has landed."""

    event_type: ClassVar[str] = "blob_purged"
    schema_version: ClassVar[int] = 1

    address: str


RecordEvent = Union[RecordAdded, RecordRemoved, RecordRestored, RecordPurged]
DomainModelEvent = Union[DomainModelAdded, DomainModelRemoved]
Event = Union[RecordEvent, DomainModelEvent, BlobPurged]

EVENT_CLASSES: tuple[type, ...] = (
    DomainModelAdded,
    DomainModelRemoved,
    RecordAdded,
    RecordRemoved,
    RecordRestored,
    RecordPurged,
    BlobPurged,
)
EVENT_TYPES: Mapping[str, type] = MappingProxyType({cls.event_type: cls for cls in EVENT_CLASSES})
