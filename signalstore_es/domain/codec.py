"""Serialization of commits and events, through private cattrs converters.

Two converters share one configuration: the JSON converter (SQLite, canonical hashing) writes
datetimes as ``{"$date": <epoch ms>}``; the BSON converter (MongoDB) leaves them as datetimes,
which BSON stores natively at millisecond precision. Old event shapes are upcast here.
"""

from __future__ import annotations

import json
from datetime import datetime
from collections.abc import Callable, Mapping
from typing import Any

import cattrs

from signalstore_es.domain.events import EVENT_TYPES, BlobRef, Event
from signalstore_es.domain.keys import RecordKey
from signalstore_es.domain.time import from_epoch_ms, to_epoch_ms
from signalstore_es.errors import IntegrityError

DATE_TAG = "$date"


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


def canonical_json(document: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")
