"""Planning a purge: which removed records leave the views and which blobs lose their bytes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from signalstore_es.api import records as rows
from signalstore_es.api.context import WorkContext
from signalstore_es.api.staging import StagedRecordChange
from signalstore_es.domain.events import BlobPurged, RecordPurged
from signalstore_es.domain.time import require_aware
from signalstore_es.errors import ArgumentTypeError


def plan_purge(context: WorkContext, time_threshold: datetime | None) -> int:
    """Stage RecordPurged for each removed record (removed strictly before the threshold) and
    BlobPurged for each of their blobs that no other record references."""
    condition: dict[str, Any] = {"$ne": None}
    if time_threshold is not None:
        if not isinstance(time_threshold, datetime):
            raise ArgumentTypeError(f"time_threshold must be an aware datetime, got {time_threshold!r}")
        condition["$lt"] = require_aware(time_threshold, argument="time_threshold")
    touched = context.staging.live.keys() | context.staging.removed.keys()
    doomed = [r for r in context.backend.find_rows(rows.VIEW, {"time_of_removal": condition})
              if rows.key_of_row(r) not in touched]  # keys this unit of work changed are left for next time
    for row in doomed:
        context.staging.stage(StagedRecordChange(kind=RecordPurged, key=rows.key_of_row(row),
                                                 generation=rows.generation_of(row)))
    for address, extension in _orphaned_blobs(context, doomed):
        context.staging.stage(BlobPurged(address=address))
        context.staging.purged_extensions[address] = extension
    return len(doomed)


def _orphaned_blobs(context: WorkContext, doomed: list[dict[str, Any]]) -> list[tuple[str, str]]:
    doomed_ids = {(r[rows.KEY_FIELD], rows.generation_of(r)) for r in doomed}
    blobs = {b["address"]: b["extension"] for b in map(rows.blob_of, doomed) if b is not None}
    keep = context.staging.written_addresses()
    orphaned = []
    for address in sorted(blobs):
        users = context.backend.find_rows(rows.VIEW, {"_blob.address": address})
        if address not in keep and all((u[rows.KEY_FIELD], rows.generation_of(u)) in doomed_ids for u in users):
            orphaned.append((address, blobs[address]))
    return orphaned
