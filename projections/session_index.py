"""An example user-defined projector: data objects by the recording session they reference.

Register it with ``provider.register_projector(SessionIndexProjector())``; it replays the log
from seq 0 at the next unit of work and then follows every commit. Query it with
``uow.find_view("session_index", {"session": "2024-04-28-AM-Animal1", "is_removed": False})``.

It shows the whole protocol: ``view`` (the view's name), ``event_types`` (what it wants),
``row_id`` (which row an event changes) and ``apply`` (a pure function of the row and the
event; ``None`` deletes the row). Rows are keyed like the ``records`` view, one per record
generation, so removals, restores and purges find their row without any other state.
"""

from __future__ import annotations

from projections.protocol import EventContext, Row
from projections.records import record_row_id
from signalstore_es.domain.events import Event, RecordAdded, RecordPurged, RecordRemoved, RecordRestored


class SessionIndexProjector:
    view = "session_index"
    event_types = frozenset({RecordAdded.event_type, RecordRemoved.event_type,
                             RecordRestored.event_type, RecordPurged.event_type})

    def row_id(self, event: Event, context: EventContext) -> str | None:
        assert isinstance(event, (RecordAdded, RecordRemoved, RecordRestored, RecordPurged))
        if isinstance(event, RecordAdded):
            if event.blob is None or not isinstance(event.record.get("session_data_ref"), dict):
                return None  # only data objects that name their session
            return record_row_id(event.key, context.seq)
        return record_row_id(event.key, event.generation)

    def apply(self, row: Row, event: Event, context: EventContext) -> Row:
        if isinstance(event, RecordAdded):
            return {"session": event.record["session_data_ref"].get("data_name"),
                    "schema_ref": event.key.schema_ref, "data_name": event.key.data_name,
                    "version_timestamp": event.key.version_timestamp,
                    "address": event.blob.address if event.blob else None, "is_removed": False}
        if row is None or isinstance(event, RecordPurged):
            return None
        return {**row, "is_removed": isinstance(event, RecordRemoved)}
