"""Serialization of commits and events.

Two styles share one shape: the JSON style (SQLite, canonical hashing) writes datetimes as
``{"$date": <epoch ms>}``; the BSON style (MongoDB) leaves them as datetimes, which BSON stores
natively at millisecond precision. Old event shapes are upcast here.

The hot paths (event bodies, view documents, commit hashes) go through ``orjson``: datetimes
reach its ``default`` hook (``OPT_PASSTHROUGH_DATETIME``) and ``{"$date": ms}`` dicts are
revived in place after parsing, so no Python walker visits the other values. Every fast path
falls back to the stdlib ``json`` and the private cattrs converters (the reference, kept for
``EventCodec``) on anything unusual, so errors and results stay what they were.

:func:`canonical_json` must stay byte-identical to ``json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)``, because commit hashes of existing logs are
recomputed by ``verify``. orjson writes the same bytes for str, int, bool, None, lists and
dicts; it formats some floats differently (``1e-7`` vs ``1e-07``), so any output that may hold
a float (a digit followed by ``.``, ``e`` or ``E``, also inside strings) is re-encoded with the
stdlib. Inputs hold finite floats only (records, models and blob references are validated
before they become events).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import cattrs
import orjson

from signalstore_es.domain.events import (
    EVENT_TYPES,
    BlobPurged,
    BlobRef,
    DomainModelAdded,
    DomainModelRemoved,
    Event,
    RecordAdded,
    RecordPurged,
    RecordRemoved,
    RecordRestored,
)
from signalstore_es.domain.keys import RecordKey
from signalstore_es.domain.time import from_epoch_ms, to_epoch_ms
from signalstore_es.errors import IntegrityError

DATE_TAG = "$date"
_DATE_TEXT = '"$date"'
_DATE_BYTES = b'"$date"'


_SCALARS = (str, int, float, bool, type(None))


def encode_json_value(value: Any) -> Any:
    """Turn a record value into plain JSON (datetimes become ``{"$date": ms}``)."""
    if type(value) in _SCALARS:  # the common case first: this runs for every value of every row
        return value
    if type(value) is dict:
        return {k: encode_json_value(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return {DATE_TAG: to_epoch_ms(value)}
    if isinstance(value, Mapping):
        return {k: encode_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_json_value(v) for v in value]
    return value


def decode_json_value(value: Any) -> Any:
    """Inverse of :func:`encode_json_value`."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, dict):
        if len(value) == 1 and DATE_TAG in value:
            return from_epoch_ms(value[DATE_TAG])
        return {k: decode_json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_json_value(v) for v in value]
    return value


# ------------------------------------------------------------------------ JSON text, fast


#: (the last datetime encoded, its tag), in one slot so threads always see a matching pair:
#: every row of a commit carries the same committed_at object
_LAST_DATE: list[tuple[Any, Any]] = [(None, None)]


def _json_default(value: Any) -> Any:
    """orjson's hook for what it does not write itself: datetimes and read-only mappings."""
    kind = type(value)
    if kind is datetime:
        last = _LAST_DATE[0]
        if value is last[0]:
            return last[1]
        tag = {DATE_TAG: to_epoch_ms(value)}
        _LAST_DATE[0] = (value, tag)
        return tag
    if kind is MappingProxyType:  # read-only mappings of user projectors' documents
        return dict(value)
    if isinstance(value, datetime):
        return {DATE_TAG: to_epoch_ms(value)}
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_DUMP_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME
_CANONICAL_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_SORT_KEYS
_STDLIB_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                                   default=_json_default)
_MAY_HOLD_FLOAT = re.compile(rb"[0-9][.eE]").search


def dumps_json(document: Any) -> str:
    """Compact JSON text of a document holding record values (datetimes as ``{"$date": ms}``).

    Same value space as ``json.dumps(encode_json_value(document))``; not canonical (keys keep
    their order)."""
    try:
        return orjson.dumps(document, default=_json_default, option=_DUMP_OPTIONS).decode("utf-8")
    except orjson.JSONEncodeError:  # e.g. an int beyond 64 bits: the stdlib decides, as before
        return _STDLIB_ENCODER.encode(document)


def loads_json(text: str | bytes) -> Any:
    """Inverse of :func:`dumps_json`: ``{"$date": ms}`` objects come back as UTC datetimes."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN tokens, huge ints: what the stdlib accepted, it accepts
        return decode_json_value(json.loads(text))
    if (_DATE_TEXT not in text) if isinstance(text, str) else (_DATE_BYTES not in text):
        return value  # no datetime anywhere (a key spelled "$date" can only be our tag)
    if type(value) is dict and len(value) == 1 and DATE_TAG in value:
        return from_epoch_ms(value[DATE_TAG])
    if type(value) is dict or type(value) is list:
        _revive_in_place(value)
    return value


def _revive_in_place(container: dict[str, Any] | list[Any]) -> None:
    """Replace ``{"$date": ms}`` values with datetimes, in place (keys never start with "$")."""
    slots = container.items() if type(container) is dict else enumerate(container)
    for slot, value in slots:  # replacing a value does not resize: safe while iterating
        kind = type(value)
        if kind is dict and len(value) == 1 and DATE_TAG in value:
            container[slot] = from_epoch_ms(value[DATE_TAG])  # type: ignore[index]
        elif kind is dict or kind is list:
            _revive_in_place(value)


def canonical_json(document: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no whitespace, UTF-8.

    Byte-identical to ``json.dumps(document, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False, allow_nan=False).encode()``, which it falls back to whenever floats may
    be present, a NaN may hide behind a null, or orjson refuses the document (so results and
    errors are the stdlib's, as before)."""
    try:
        text = orjson.dumps(document, option=_CANONICAL_OPTIONS)
    except orjson.JSONEncodeError:
        text = None
    if text is None or _MAY_HOLD_FLOAT(text) is not None or (b"null" in text and has_non_finite(document)):
        return _stdlib_canonical(document)  # orjson writes NaN as null; the stdlib refuses it
    return text


def has_non_finite(value: Any) -> bool:
    """Whether a JSON-like value holds a NaN or an infinity anywhere (orjson writes them as null)."""
    return _any_leaf(value, _is_non_finite)


#: the integers JSON text may hold here: orjson reads larger ones back as floats (silently), and
#: BSON stores 64-bit integers only
INT64_RANGE = (-(2**63), 2**63 - 1)


def fits_int64(value: int) -> bool:
    return INT64_RANGE[0] <= value <= INT64_RANGE[1]


def has_wide_int(value: Any) -> bool:
    """Whether a JSON-like value holds an integer beyond 64 bits anywhere."""
    return _any_leaf(value, _is_wide_int)


def _any_leaf(value: Any, test: Callable[[Any], bool]) -> bool:
    """Whether ``test`` holds for a value of ``value`` (walking plain dicts, lists, tuples)."""
    kind = type(value)
    if kind is dict:
        return any(_any_leaf(v, test) for v in value.values())
    if kind is list or kind is tuple:
        return any(_any_leaf(v, test) for v in value)
    return test(value)


def _is_non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _is_wide_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not fits_int64(value)


def _stdlib_canonical(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


# --------------------------------------------------------------------------- cattrs (reference)


def _identity(value: Any) -> Any:
    return value


def _make_converter(encode: Callable[[Any], Any], decode: Callable[[Any], Any]) -> cattrs.Converter:
    converter = cattrs.Converter()
    is_document = lambda t: getattr(t, "__origin__", None) is Mapping  # noqa: E731 - a cattrs type predicate
    converter.register_unstructure_hook_func(is_document, encode)
    converter.register_structure_hook_func(is_document, lambda v, _: decode(v))
    converter.register_unstructure_hook(
        RecordKey,
        lambda key: {"schema_ref": key.schema_ref, "data_name": key.data_name,
                     "version_timestamp": encode(key.version_timestamp)},
    )
    converter.register_structure_hook(
        RecordKey,
        lambda doc, _: RecordKey(schema_ref=doc["schema_ref"], data_name=doc["data_name"],
                                 version_timestamp=decode(doc["version_timestamp"])),
    )
    converter.register_structure_hook(datetime, lambda v, _: decode(v))
    converter.register_unstructure_hook(datetime, encode)
    return converter


class EventCodec:
    """Encodes events and commit headers to documents and back, for one storage style."""

    def __init__(self, encode: Callable[[Any], Any], decode: Callable[[Any], Any]) -> None:
        self._converter = _make_converter(encode, decode)
        self.encode_value = encode
        self.decode_value = decode

    def event_to_document(self, event: Event) -> dict[str, Any]:
        body = self._converter.unstructure(event)
        return {"event_type": event.event_type, "schema_version": event.schema_version, **body}

    def event_from_document(self, document: Mapping[str, Any]) -> Event:
        fields = dict(document)
        event_type = fields.pop("event_type")
        fields.pop("schema_version", None)  # version 1 is the only shape so far: nothing to upcast
        try:
            cls = EVENT_TYPES[event_type]
        except KeyError as err:
            raise IntegrityError(f"unknown event_type {event_type!r} in the log") from err
        return self._converter.structure(fields, cls)  # type: ignore[no-any-return]

    def blob_to_document(self, blob: BlobRef) -> dict[str, Any]:
        return self.encode_value(self._converter.unstructure(blob))  # type: ignore[no-any-return]


JSON_CODEC = EventCodec(encode_json_value, decode_json_value)


def _bson_encode(value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return {k: _bson_encode(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_bson_encode(v) for v in value]
    return value


BSON_CODEC = EventCodec(_bson_encode, _identity)


# ------------------------------------------------------------------- events as JSON text, fast
#
# Hand-written equivalents of ``JSON_CODEC.event_to_document`` / ``event_from_document`` for
# the closed set of event classes (tests/unit/test_codec.py checks they agree with cattrs).
# The documents keep datetimes and read-only mappings; orjson's ``default`` encodes them.


def _key_fields(key: RecordKey) -> dict[str, Any]:
    return {"schema_ref": key.schema_ref, "data_name": key.data_name,
            "version_timestamp": key.version_timestamp}


def blob_fields(blob: BlobRef) -> dict[str, Any]:
    """A blob reference as a plain document (``shape`` as a list), as the views hold it."""
    return {"address": blob.address, "adapter": blob.adapter, "file_format": blob.file_format,
            "extension": blob.extension, "size": blob.size, "shape": list(blob.shape),
            "dtype": blob.dtype, "file_digest": blob.file_digest}


def _record_added(e: RecordAdded) -> dict[str, Any]:
    return {"event_type": "record_added", "schema_version": 1, "key": _key_fields(e.key),
            "record": e.record, "blob": None if e.blob is None else blob_fields(e.blob)}


def _generation_event(e: RecordRemoved | RecordRestored | RecordPurged) -> dict[str, Any]:
    return {"event_type": e.event_type, "schema_version": 1, "key": _key_fields(e.key),
            "generation": e.generation}


_FIELDS: dict[type, Callable[[Any], dict[str, Any]]] = {
    RecordAdded: _record_added,
    RecordRemoved: _generation_event,
    RecordRestored: _generation_event,
    RecordPurged: _generation_event,
    DomainModelAdded: lambda e: {"event_type": "domain_model_added", "schema_version": 1,
                                 "schema_name": e.schema_name, "model": e.model,
                                 "json_schema": e.json_schema},
    DomainModelRemoved: lambda e: {"event_type": "domain_model_removed", "schema_version": 1,
                                   "schema_name": e.schema_name},
    BlobPurged: lambda e: {"event_type": "blob_purged", "schema_version": 1, "address": e.address},
}


def event_fields(event: Event) -> dict[str, Any]:
    """The event as a document with datetimes and mappings left as they are (cheap)."""
    fields = _FIELDS.get(type(event))
    if fields is None:
        return JSON_CODEC.event_to_document(event)
    return fields(event)


def event_json(event: Event) -> str:
    """The event as JSON text for the log (fields in declaration order)."""
    return dumps_json(event_fields(event))


def event_canonical_json(event: Event) -> bytes:
    """``canonical_json(JSON_CODEC.event_to_document(event))``, without the cattrs walk.

    Events hold finite floats only (records and models are validated before they become
    events), so unlike :func:`canonical_json` this does not look for NaN, which orjson would
    write as null."""
    fields = event_fields(event)
    try:
        text = orjson.dumps(fields, default=_json_default, option=_CANONICAL_OPTIONS)
    except orjson.JSONEncodeError:
        text = None
    if text is None or _MAY_HOLD_FLOAT(text) is not None:
        return canonical_json(JSON_CODEC.event_to_document(event))
    return text


def _key(doc: Mapping[str, Any]) -> RecordKey:
    return RecordKey(schema_ref=doc["schema_ref"], data_name=doc["data_name"],
                     version_timestamp=doc["version_timestamp"])


def _blob(doc: Any) -> BlobRef | None:
    if doc is None:
        return None
    return BlobRef(address=doc["address"], adapter=doc["adapter"], file_format=doc["file_format"],
                   extension=doc["extension"], size=doc["size"], shape=doc.get("shape", ()),
                   dtype=doc.get("dtype", ""), file_digest=doc.get("file_digest", ""))


_BUILDERS: dict[str, Callable[[dict[str, Any]], Event]] = {
    "record_added": lambda d: RecordAdded(key=_key(d["key"]), record=d["record"], blob=_blob(d.get("blob"))),
    "record_removed": lambda d: RecordRemoved(key=_key(d["key"]), generation=d["generation"]),
    "record_restored": lambda d: RecordRestored(key=_key(d["key"]), generation=d["generation"]),
    "record_purged": lambda d: RecordPurged(key=_key(d["key"]), generation=d["generation"]),
    "domain_model_added": lambda d: DomainModelAdded(schema_name=d["schema_name"], model=d["model"],
                                                     json_schema=d["json_schema"]),
    "domain_model_removed": lambda d: DomainModelRemoved(schema_name=d["schema_name"]),
    "blob_purged": lambda d: BlobPurged(address=d["address"]),
}
_EXPECTED_TYPES: dict[str, tuple[tuple[str, type], ...]] = {
    "record_added": (("key", dict), ("record", dict)),
    "record_removed": (("key", dict), ("generation", int)),
    "record_restored": (("key", dict), ("generation", int)),
    "record_purged": (("key", dict), ("generation", int)),
    "domain_model_added": (("schema_name", str), ("model", dict), ("json_schema", str)),
    "domain_model_removed": (("schema_name", str),),
    "blob_purged": (("address", str),),
}


def event_from_json(text: str | bytes) -> Event:
    """Inverse of :func:`event_json`; anything unusual takes the cattrs path (same errors)."""
    document = loads_json(text)
    try:
        if type(document) is dict:
            event_type = document.get("event_type")
            if event_type == "record_added":  # the bulk of every log: checked inline
                key, record, blob = document["key"], document["record"], document.get("blob")
                if (type(record) is dict and type(key) is dict and type(key["schema_ref"]) is str
                        and type(key["data_name"]) is str and type(key["version_timestamp"]) in _VERSION_TYPES
                        and (blob is None or is_plain_blob(blob))):
                    return RecordAdded(key=RecordKey(schema_ref=key["schema_ref"], data_name=key["data_name"],
                                                     version_timestamp=key["version_timestamp"]),
                                       record=record, blob=None if blob is None else _blob(blob))
            else:
                expected = _EXPECTED_TYPES.get(event_type) if type(event_type) is str else None
                if expected is not None and all(type(document[name]) is kind for name, kind in expected) \
                        and _plain_key(document):
                    return _BUILDERS[str(event_type)](document)
    except (KeyError, TypeError, ValueError):
        pass
    return JSON_CODEC.event_from_document(json.loads(text))


_VERSION_TYPES = (int, datetime)
_BLOB_TYPES = (("address", str), ("adapter", str), ("file_format", str), ("extension", str), ("size", int))


def is_plain_blob(blob: Any) -> bool:
    """A blob reference as the codec writes it, with plain types (missing optional fields allowed)."""
    return (type(blob) is dict and all(type(blob.get(name)) is kind for name, kind in _BLOB_TYPES)
            and type(blob.get("shape", ())) in (list, tuple) and all(type(n) is int for n in blob.get("shape", ()))
            and type(blob.get("dtype", "")) is str and type(blob.get("file_digest", "")) is str)


def _plain_key(document: Mapping[str, Any]) -> bool:
    key = document.get("key")
    if key is None:
        return True
    return (type(key) is dict and type(key.get("schema_ref")) is str and type(key.get("data_name")) is str
            and (type(key.get("version_timestamp")) in _VERSION_TYPES))
