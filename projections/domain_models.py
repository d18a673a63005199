"""The ``domain_models`` view: schemas and the controlled vocabulary, one row per name."""

from __future__ import annotations

import json

from projections.protocol import EventContext, Row
from signalstore_es.domain.events import DomainModelAdded, DomainModelRemoved, Event


class DomainModelsProjector:
    view = "domain_models"
    event_types = frozenset({DomainModelAdded.event_type, DomainModelRemoved.event_type})

    def row_id(self, event: Event, context: EventContext) -> str:
        assert isinstance(event, (DomainModelAdded, DomainModelRemoved))
        return event.schema_name

    def apply(self, row: Row, event: Event, context: EventContext) -> Row:
        if isinstance(event, DomainModelAdded):
            return {
                **event.model,
                "json_schema": json.loads(event.json_schema),
                "version_timestamp": 0,
                "time_of_save": context.committed_at,
                "time_of_removal": None,
            }
        if row is None:
            return None
        return {**row, "time_of_removal": context.committed_at}
