"""The ``records`` view: every generation of every record, live or soft-deleted.

A row is one *generation* of a record key: the state created by one ``RecordAdded`` and
changed by later removes and restores, until it is purged. Row documents hold the record's
fields at top level (so MongoDB filters apply to them as written) plus internal fields whose
names start with ``_`` (user fields cannot, by the naming rules).
"""

from __future__ import annotations

from typing import Any

from projections.protocol import EventContext, Row
from signalstore_es.domain.codec import BSON_CODEC
from signalstore_es.domain.events import Event, RecordAdded, RecordPurged, RecordRemoved, RecordRestored
from signalstore_es.domain.keys import RecordKey

KEY_FIELD = "_key"
GENERATION_FIELD = "_generation"
BLOB_FIELD = "_blob"


def record_row_id(key: RecordKey, generation: int) -> str:
    return f"{key.as_string()}@{generation}"


class RecordsProjector:
    view = "records"
    event_types = frozenset(
        {RecordAdded.event_type, RecordRemoved.event_type, RecordRestored.event_type,
         RecordPurged.event_type}
    )

    def row_id(self, event: Event, context: EventContext) -> str:
        assert isinstance(event, (RecordAdded, RecordRemoved, RecordRestored, RecordPurged))
        generation = context.seq if isinstance(event, RecordAdded) else event.generation
        return record_row_id(event.key, generation)

    def apply(self, row: Row, event: Event, context: EventContext) -> Row:
        if isinstance(event, RecordAdded):
            return _added(event, context)
        if row is None:
            return None  # a remove/restore/purge of a generation this view never saw
        if isinstance(event, RecordRemoved):
            return {**row, "time_of_removal": context.committed_at}
        if isinstance(event, RecordRestored):
            return {**row, "time_of_removal": None}
        return None  # RecordPurged


def _added(event: RecordAdded, context: EventContext) -> dict[str, Any]:
    blob = None if event.blob is None else BSON_CODEC.blob_to_document(event.blob)
    return {
        **event.record,
        "schema_ref": event.key.schema_ref,
        "data_name": event.key.data_name,
        "version_timestamp": event.key.version_timestamp,
        "has_file": event.blob is not None,
        "time_of_save": context.committed_at,
        "time_of_removal": None,
        KEY_FIELD: event.key.as_string(),
        GENERATION_FIELD: context.seq,
        BLOB_FIELD: blob,
    }
