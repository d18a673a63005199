"""Resolving ``as_of=`` (a commit seq or an aware instant) to a read-only context."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from signalstore_es.api.context import WorkContext
from signalstore_es.api.staging import Staging
from signalstore_es.domain.time import require_aware
from signalstore_es.errors import ArgumentTypeError, ReadOnlyError, ValidationError


def resolve_as_of(context: WorkContext, as_of: Any) -> int:
    """The seq that ``as_of`` denotes: the last commit at or before an instant, or a seq."""
    head = context.backend.head().seq
    if isinstance(as_of, datetime):
        return context.backend.seq_at(require_aware(as_of, argument="as_of"))
    if isinstance(as_of, bool) or not isinstance(as_of, int):
        raise ArgumentTypeError(f"as_of must be a commit seq (int) or a timezone-aware datetime, "
                                f"got {type(as_of).__name__}: {as_of!r}")
    if not 0 <= as_of <= head:
        raise ValidationError(f"as_of={as_of} is not a commit of this project: pass a seq between "
                              f"0 and the head ({head}), or a datetime")
    return as_of


def context_at(context: WorkContext, as_of: Any | None) -> WorkContext:
    """``context`` itself, or a copy that reads the views as of a past commit (no staging)."""
    if as_of is None:
        return context
    return attrs.evolve(context, as_of=resolve_as_of(context, as_of), staging=Staging())


def require_writable(context: WorkContext) -> None:
    if context.as_of is not None:
        raise ReadOnlyError(f"this is a read-only view of {context.project!r} as of seq {context.as_of}; "
                            "write through the unit of work itself")


class PointInTime:
    """``uow.as_of(point)``: the project as it was at a commit, with read methods only."""

    def __init__(self, context: WorkContext) -> None:
        from signalstore_es.api.data import DataRepository
        from signalstore_es.api.domain_models import DomainModelRepository

        self.seq = context.as_of
        self.domain_models = DomainModelRepository(context)
        self.data = DataRepository(context, self.domain_models.lookup)

    def __repr__(self) -> str:
        return f"<PointInTime seq={self.seq}>"

    def commit(self, message: str | None = None) -> None:
        raise ReadOnlyError(f"a view as of seq {self.seq} is read-only; nothing to commit")

    def purge(self, time_threshold: Any = None) -> int:
        raise ReadOnlyError(f"a view as of seq {self.seq} is read-only; purge through the unit of work")
