"""What a unit of work has staged but not committed.

Staged operations are *intents*: the events they become depend on the commit's ``seq`` (a
record's generation number) and ``committed_at`` (the version stamp of ``versioning_on``
adds), which are only known at each append attempt. :meth:`Staging.events_for` turns them
into events for one attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Union

import attrs

from signalstore_es.domain.events import (
    BlobPurged,
    BlobRef,
    DomainModelAdded,
    DomainModelRemoved,
    Event,
    RecordAdded,
    RecordPurged,
    RecordRemoved,
    RecordRestored,
)
from signalstore_es.domain.keys import RecordKey

#: ``generation`` of a record added in the commit being staged (its seq is not known yet)
THIS_COMMIT = -1


@attrs.frozen(kw_only=True)
class StagedRecordAdd:
    key: RecordKey  #: for commit-time versions, version_timestamp is a placeholder
    record: dict[str, Any]
    blob: BlobRef | None
    is_stamped_at_commit: bool

    def resolve(self, committed_at: datetime) -> RecordKey:
        if self.is_stamped_at_commit:
            return attrs.evolve(self.key, version_timestamp=committed_at)
        return self.key


@attrs.frozen(kw_only=True)
class StagedRecordChange:
    """A remove, restore or purge of one generation of a record."""

    kind: type  #: RecordRemoved, RecordRestored or RecordPurged
    key: RecordKey
    generation: int  #: THIS_COMMIT for a record added by this same unit of work
    added: StagedRecordAdd | None = None  #: the staged add when generation is THIS_COMMIT


Staged = Union[StagedRecordAdd, StagedRecordChange, DomainModelAdded, DomainModelRemoved, BlobPurged]


class Generation:
    """One generation of a record as this unit of work sees it.

    ``row`` is the view row; for a staged add it is built from the add when first asked for
    (most staged adds are never read back before the commit)."""

    __slots__ = ("_row", "generation", "added")

    def __init__(self, *, row: dict[str, Any] | None = None, generation: int,
                 added: StagedRecordAdd | None = None) -> None:
        if row is None and added is None:
            raise ValueError("a Generation needs its row or its staged add")
        self._row = row
        self.generation = generation  #: THIS_COMMIT for a generation added by this unit of work
        self.added = added  #: the staged add, when generation is THIS_COMMIT

    @property
    def row(self) -> dict[str, Any]:
        if self._row is None:
            from signalstore_es.api.loading import staged_row  # noqa: PLC0415 - loading imports us

            self._row = staged_row(self.added)  # type: ignore[arg-type]
        return self._row

    def __repr__(self) -> str:
        return f"Generation(generation={self.generation}, added={self.added is not None})"


class Staging:
    """The ordered staged operations of a unit of work, plus what its own reads must see.

    ``live`` overrides the committed view per key: a :class:`Generation` that is live in this
    unit of work, or None for a key it removed. ``removed`` stacks the generations it removed,
    newest last, for ``restore``.
    """

    def __init__(self) -> None:
        self.operations: list[Staged] = []
        self.models: dict[str, dict[str, Any] | None] = {}  #: name -> model, None if removed
        self.live: dict[RecordKey, Generation | None] = {}
        self.removed: dict[RecordKey, list[Generation]] = {}
        self.purged_extensions: dict[str, str] = {}  #: address -> extension, for byte deletion

    def __len__(self) -> int:
        return len(self.operations)

    def stage(self, operation: Staged) -> None:
        self.operations.append(operation)

    def staged_adds(self) -> list[StagedRecordAdd]:
        return [op for op in self.operations if isinstance(op, StagedRecordAdd)]

    def events_for(self, seq: int, committed_at: datetime) -> tuple[Event, ...]:
        """The events of this batch if it lands as commit ``seq`` at ``committed_at``."""
        return tuple(self._event(op, seq, committed_at) for op in self.operations)

    @staticmethod
    def _event(op: Staged, seq: int, committed_at: datetime) -> Event:
        if isinstance(op, StagedRecordAdd):
            return RecordAdded(key=op.resolve(committed_at), record=op.record, blob=op.blob)
        if isinstance(op, StagedRecordChange):
            key = op.added.resolve(committed_at) if op.added else op.key
            generation = seq if op.generation == THIS_COMMIT else op.generation
            return op.kind(key=key, generation=generation)  # type: ignore[no-any-return]
        return op

    def purged_blobs(self) -> list[tuple[str, str]]:
        """``(address, extension)`` of every blob whose bytes this batch deletes."""
        return [(op.address, self.purged_extensions[op.address]) for op in self.operations
                if isinstance(op, BlobPurged)]

    def written_addresses(self) -> set[str]:
        return {op.blob.address for op in self.staged_adds() if op.blob is not None}


__all__ = [
    "THIS_COMMIT",
    "Generation",
    "BlobPurged",
    "DomainModelAdded",
    "DomainModelRemoved",
    "RecordPurged",
    "RecordRemoved",
    "RecordRestored",
    "Staged",
    "StagedRecordAdd",
    "StagedRecordChange",
    "Staging",
]
