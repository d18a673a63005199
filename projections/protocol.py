"""The projector protocol that built-in and user-defined projectors implement."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional, Protocol, runtime_checkable

import attrs

from signalstore_es.domain.events import Event

Row = Optional[dict[str, Any]]


@attrs.frozen(kw_only=True)
class EventContext:
    """Where an event sits in the log: its commit's audit fields and its index in the commit."""

    seq: int
    index: int
    commit_id: str
    committed_at: datetime
    actor: str
    message: str | None


@runtime_checkable
class Projector(Protocol):
    """A pure fold of events into one view.

    ``view`` is the view's name (a valid collection/table name); ``event_types`` the
    ``event_type`` tags the projector wants (others are never passed to it).
    """

    view: str
    event_types: frozenset[str]

    def row_id(self, event: Event, context: EventContext) -> str | None:
        """The id of the row this event changes, or None if it changes none."""
        ...

    def apply(self, row: Row, event: Event, context: EventContext) -> Row:
        """The row's new document after ``event`` (``None`` deletes the row). Must be pure."""
        ...
