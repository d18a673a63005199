"""``UnitOfWork``: the repositories of one project, and an explicit, atomic commit.

Everything a unit of work does is staged; ``commit()`` appends it as one atomic batch.
Leaving the ``with`` block without committing (normally or by an exception) discards what
was staged: no event, no visible record (blobs already written stay as invisible orphans
until ``gc``).
"""

from __future__ import annotations

import contextlib
from collections.abc import MutableMapping
from datetime import datetime
from typing import Any

from projections.runner import ProjectionRunner
from signalstore_es._bulk import paused_gc
from signalstore_es.api.audit import read_log
from signalstore_es.api.committer import Committer
from signalstore_es.api.context import CallLog, WorkContext, public_view
from signalstore_es.api.data import DataRepository
from signalstore_es.api.domain_models import DomainModelRepository
from signalstore_es.api.memory import MemoryRepository
from signalstore_es.api.purge import plan_purge
from signalstore_es.api.receipts import CommitReceipt
from signalstore_es.api.time_travel import PointInTime, context_at
from signalstore_es.domain.query import check_filter
from signalstore_es.errors import ArgumentTypeError, UnitOfWorkStateError, ValidationError, ViewsBehindError
from signalstore_es.ports.blob_store import BlobStore
from signalstore_es.ports.storage import Head, StorageBackend

calls = CallLog(__name__)
#: staged operations from which a commit runs with the cyclic GC paused (see ``_bulk``)
BULK_COMMIT = 256


class UnitOfWork:
    """Use as ``with provider("project") as uow: ...; uow.commit()``."""

    def __init__(self, *, project: str, actor: str, backend: StorageBackend, blobs: BlobStore,
                 registry: Any, runner: ProjectionRunner, memory_store: MutableMapping[Any, Any]) -> None:
        self.project = project
        self.actor = actor
        self._backend = backend
        self._blobs = blobs
        self._registry = registry
        self._runner = runner
        self._memory_store = memory_store
        self._context: WorkContext | None = None
        #: committed domain models as of the base seq, kept across commits (validation asks for
        #: them on every add); see :meth:`commit` for when entries are dropped
        self._models: dict[str, dict[str, Any] | None] = {}
        #: a commit of this unit of work that landed while updating the views failed
        self._views_behind: ViewsBehindError | None = None

    def __repr__(self) -> str:
        state = "open" if self._context else "closed"
        return f"<UnitOfWork project={self.project!r} actor={self.actor!r} {state}>"

    def __enter__(self) -> UnitOfWork:
        if self._context is not None:
            raise UnitOfWorkStateError("this unit of work is already open; leave its with block first")
        # the base is read before catching up: every commit after it is checked for conflicts at
        # commit time, and the views read here hold at least the commits up to it
        base = self._backend.head().seq
        self._backend.catch_up(self._runner)  # repairs views left behind by a crashed writer
        self._views_behind = None
        self._models = {}
        self._open(base)
        self._memory = MemoryRepository(self._memory_store, self.project)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.rollback()
        self._context = None

    def _open(self, base_seq: int, known_head: Head | None = None) -> None:
        committer = Committer(backend=self._backend, runner=self._runner, actor=self.actor,
                              base_seq=base_seq, blobs=self._blobs, known_head=known_head)
        self._context = WorkContext(project=self.project, actor=self.actor, backend=self._backend,
                                    blobs=self._blobs, registry=self._registry, committer=committer)
        self._domain_models = DomainModelRepository(self._context, self._models)
        self._data = DataRepository(self._context, self._domain_models.lookup)

    def _require_open(self) -> WorkContext:
        if self._context is None:
            raise UnitOfWorkStateError(
                f"unit of work for {self.project!r} is not open; use it inside 'with provider(...) as uow:'")
        if self._views_behind is not None:
            self._repair_views(self._views_behind)
        return self._context

    def _repair_views(self, behind: ViewsBehindError) -> None:
        """Catch the views up to a commit of ours whose projection failed (MongoDB appends
        before projecting), or refuse to go on: reads and checks would miss that commit."""
        try:
            self._backend.catch_up(self._runner)
        except Exception as err:
            raise ViewsBehindError(
                f"commit {behind.commit_id} landed at seq {behind.seq}, but the views are still "
                f"behind it: catching them up failed ({type(err).__name__}: {err}), so reads "
                "would miss it. Fix the cause (a registered projector's error: the projector) "
                "and try again; the commit itself is durable.",
                commit_id=behind.commit_id, seq=behind.seq) from err
        self._views_behind = None

    @property
    def domain_models(self) -> DomainModelRepository:
        self._require_open()
        return self._domain_models

    @property
    def data(self) -> DataRepository:
        self._require_open()
        return self._data

    @property
    def memory(self) -> MemoryRepository:
        self._require_open()
        return self._memory

    def commit(self, message: str | None = None) -> CommitReceipt | None:
        """Append everything staged as one atomic commit.

        Returns the receipt (``seq``, ``commit_id``, ``committed_at``, ...), or None when
        nothing was staged (nothing is appended). The unit of work stays open for more work.

        Raises
        ------
        AlreadyExistsError, ConcurrencyError
            Another writer committed a conflicting change first; nothing was written.
        StorageError
            The log could not be written; nothing was written.
        """
        context = self._require_open()
        if message is not None and not isinstance(message, str):
            raise ArgumentTypeError(f"message must be a str or None, got {type(message).__name__}")
        with calls.call("commit", context) as extra:
            receipt = None
            if context.staging:
                base = context.committer.base_seq
                try:
                    with paused_gc() if len(context.staging) >= BULK_COMMIT else contextlib.nullcontext():
                        receipt = context.committer.commit(context.staging, message)
                except BaseException:
                    if context.committer.base_seq != base:  # it read past other writers' commits
                        self._models.clear()
                    raise
                extra.update(seq=receipt.seq, commit_id=receipt.commit_id, events=receipt.event_count)
                self._views_behind = context.committer.views_behind
                self._forget_changed_models(context, landed_right_after=receipt.seq == base + 1)
                self._delete_purged_bytes(context)
                self._open(receipt.seq, known_head=Head(seq=receipt.seq, hash=receipt.hash,
                                                        committed_at=receipt.committed_at))
            self._memory.commit()
            return receipt

    def rollback(self) -> None:
        """Discard everything staged since the last commit."""
        if self._context is None:
            return
        self._open(self._context.committer.base_seq)
        self._memory.rollback()

    def purge(self, time_threshold: datetime | None = None) -> int:
        """Stage the purge of records removed before ``time_threshold`` (all removed if None).

        Their blobs' bytes are deleted after the commit that records the purge lands, and only
        if no remaining record references them. Returns the number of records staged for purge.
        """
        context = self._require_open()
        with calls.call("purge", context) as extra:
            extra["records"] = count = plan_purge(context, time_threshold)
            return count

    def log(self, since: Any = None, until: Any = None, actor: str | None = None,
            limit: int | None = None) -> list[dict[str, Any]]:
        """Committed commits with their events, oldest first.

        ``since``/``until`` are inclusive bounds, each a commit seq or an aware datetime;
        ``actor`` keeps one actor's commits; ``limit`` caps the count.
        """
        context = self._require_open()
        with calls.call("log", context):
            return read_log(context, since=since, until=until, actor=actor, limit=limit)

    def find_view(self, view: str, filter: dict[str, Any] | None = None, as_of: Any = None) -> list[dict[str, Any]]:
        """Rows of any view (built-in or a registered projector's) matching a MongoDB filter."""
        context = context_at(self._require_open(), as_of)
        if view not in self._runner.views:
            raise ValidationError(f"unknown view {view!r}; the views are {sorted(self._runner.views)}")
        checked = check_filter(filter)
        with calls.call("find_view", context, view=view):
            return [public_view(r) for r in context.backend.find_rows(view, checked, as_of=context.as_of)]

    def as_of(self, point: Any) -> PointInTime:
        """A read-only view of the whole project at a commit ``seq`` or an aware instant.

        Raises
        ------
        ValidationError
            For a naive datetime or a seq beyond the head.
        """
        return PointInTime(context_at(self._require_open(), point))

    def _forget_changed_models(self, context: WorkContext, *, landed_right_after: bool) -> None:
        """Keep the model cache valid at the new base: drop the models this commit changed,
        or everything when other writers' commits landed in between (they may have changed
        models this unit of work never read, so the commit-time conflict check let them pass)."""
        if landed_right_after:
            for name in context.staging.models:
                self._models.pop(name, None)
        else:
            self._models.clear()

    def _delete_purged_bytes(self, context: WorkContext) -> None:
        for address, extension in context.staging.purged_blobs():
            try:
                self._blobs.delete(address, extension)
            except Exception as err:  # the purge is committed; gc finishes the deletion later
                calls.warning("purge.delete_failed", address=address, error=str(err))
