"""Projectors: pure folds of the event log into the views that queries read.

A projector names the view it builds, the event types it wants, and two pure functions:
``row_id(event, context)`` says which row an event changes and ``apply(row, event, context)``
returns the row's new document (or ``None`` to delete it). The runner in
:mod:`projections.runner` feeds it commits, keeps every state a row has had with its validity
interval ``[from_seq, to_seq)`` (which is what time travel reads) and a per-view checkpoint.
"""

from projections.domain_models import DomainModelsProjector
from projections.protocol import EventContext, Projector
from projections.purged_blobs import PurgedBlobsProjector
from projections.records import RecordsProjector, record_row_id
from projections.runner import ProjectionRunner, RowPosition, ViewWriter

BUILTIN_PROJECTORS: tuple[Projector, ...] = (
    RecordsProjector(),
    DomainModelsProjector(),
    PurgedBlobsProjector(),
)

__all__ = [
    "BUILTIN_PROJECTORS",
    "DomainModelsProjector",
    "EventContext",
    "ProjectionRunner",
    "Projector",
    "PurgedBlobsProjector",
    "RecordsProjector",
    "RowPosition",
    "ViewWriter",
    "record_row_id",
]
