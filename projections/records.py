"""The ``records`` view: every generation of every record, live or soft-deleted.

A row is one *generation* of a record key: the state created by one ``RecordAdded`` and
changed by later removes and restores, until it is purged. Row documents hold the record's
fields at top level (so MongoDB filters apply to them as written) plus internal fields whose
names start with ``_`` (user fields cannot, by the naming rules).
"""

from __future__ import annotations

from typing import Any

from projections.protocol import EventContext, Row
from signalstore_es.domain.codec import blob_fields
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
    # the record's fields first, then these (a field of the record with one of these names
    # keeps its place and takes the new value, as {**record, ...} would do, only faster)
    row = dict(event.record)
    key = event.key
    row["schema_ref"] = key.schema_ref
    row["data_name"] = key.data_name
    row["version_timestamp"] = key.version_timestamp
    row["has_file"] = event.blob is not None
    row["time_of_save"] = context.committed_at
    row["time_of_removal"] = None
    row[KEY_FIELD] = key.as_string()
    row[GENERATION_FIELD] = context.seq
    row[BLOB_FIELD] = None if event.blob is None else blob_fields(event.blob)
    return row
