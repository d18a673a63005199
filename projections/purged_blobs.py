"""The ``purged_blobs`` view: addresses whose bytes a purge deleted (and not rewritten since)."""

from __future__ import annotations

from projections.protocol import EventContext, Row
from signalstore_es.domain.events import BlobPurged, Event, RecordAdded


class PurgedBlobsProjector:
    view = "purged_blobs"
    event_types = frozenset({BlobPurged.event_type, RecordAdded.event_type})

    def row_id(self, event: Event, context: EventContext) -> str | None:
        if isinstance(event, BlobPurged):
            return event.address
        assert isinstance(event, RecordAdded)
        return event.blob.address if event.blob is not None else None

    def apply(self, row: Row, event: Event, context: EventContext) -> Row:
        if isinstance(event, BlobPurged):
            return {"address": event.address, "purged_at": context.committed_at,
                    "purged_seq": context.seq}
        return None  # a later add wrote the bytes again
