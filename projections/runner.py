"""The projection runner: feeds commits to projectors through a backend's view writer.

Projection is idempotent: each row remembers the position ``(seq, index)`` of the last event
applied to it, and an event at or before that position is skipped. So a runner that died
half-way through a commit can simply run again from the view's checkpoint.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Protocol, Sequence

import attrs

from projections.protocol import EventContext, Projector
from signalstore_es._bulk import paused_gc
from signalstore_es.domain.commits import Commit
from signalstore_es.errors import ProjectorError


@attrs.frozen(order=True)
class RowPosition:
    """The log position of the event that produced a row state."""

    seq: int
    index: int


class ViewWriter(Protocol):
    """What a backend offers the runner: rows with positions, history, checkpoints."""

    def read_row(self, view: str, row_id: str) -> tuple[Optional[dict[str, Any]], Optional[RowPosition]]:
        """The current document of a row (None if absent) and the position that wrote it."""
        ...

    def write_row(self, view: str, row_id: str, document: Optional[dict[str, Any]],
                  position: RowPosition) -> None:
        """Replace the current row (None deletes it) and close/open its history interval."""
        ...

    def checkpoint(self, view: str) -> int:
        """The seq of the last commit fully applied to ``view`` (0 if none)."""
        ...

    def set_checkpoint(self, view: str, seq: int) -> None: ...


class ProjectionRunner:
    """Applies commits to a set of projectors, each from its own checkpoint.

    A writer may also offer ``prefetch(view, row_ids)``: the runner then announces the rows
    each commit will touch before applying it, so a backend can load them in a few queries.
    """

    def __init__(self, projectors: Sequence[Projector]) -> None:
        self.projectors = tuple(projectors)

    @property
    def views(self) -> tuple[str, ...]:
        return tuple(p.view for p in self.projectors)

    def apply(self, commits: Iterable[Commit], writer: ViewWriter) -> tuple[int, int]:
        """Apply ``commits`` (in seq order) to every projector that has not seen them.

        Returns how many commits and events were replayed into at least one view.
        """
        with paused_gc():
            return self._apply(commits, writer)

    def _apply(self, commits: Iterable[Commit], writer: ViewWriter) -> tuple[int, int]:
        replayed_commits = replayed_events = 0
        checkpoints = {p.view: writer.checkpoint(p.view) for p in self.projectors}
        prefetch = getattr(writer, "prefetch", None)
        for commit in commits:
            pending = [p for p in self.projectors if checkpoints[p.view] < commit.seq]
            contexts: list[Optional[EventContext]] = [None] * len(commit.events)  # shared by projectors
            for projector in pending:
                _apply_commit(projector, commit, writer, prefetch, contexts)
                writer.set_checkpoint(projector.view, commit.seq)
                checkpoints[projector.view] = commit.seq
            if pending:
                replayed_commits += 1
                replayed_events += len(commit.events)
        return replayed_commits, replayed_events


def _apply_commit(projector: Projector, commit: Commit, writer: ViewWriter, prefetch: Any,
                  contexts: list[Optional[EventContext]]) -> None:
    wanted = projector.event_types
    view = projector.view
    work: list[tuple[str, Any, EventContext]] = []
    for index, event in enumerate(commit.events):
        if event.event_type not in wanted:
            continue
        context = contexts[index]
        if context is None:
            context = contexts[index] = EventContext(
                seq=commit.seq, index=index, commit_id=commit.commit_id, committed_at=commit.committed_at,
                actor=commit.actor, message=commit.message)
        try:
            row_id = projector.row_id(event, context)  # pure: may be asked before earlier events apply
        except Exception as err:
            raise _failed(projector, "row_id", event, context, err) from err
        if row_id is not None:
            work.append((row_id, event, context))
    if prefetch is not None and len(work) > 1:
        prefetch(view, [row_id for row_id, _, _ in work])
    read_row, write_row, apply = writer.read_row, writer.write_row, projector.apply
    for row_id, event, context in work:
        row, written_at = read_row(view, row_id)
        if written_at is not None and (written_at.seq, written_at.index) >= (context.seq, context.index):
            continue  # already applied by a runner that died before its checkpoint
        try:
            new_row = apply(row, event, context)
        except Exception as err:
            raise _failed(projector, "apply", event, context, err) from err
        if new_row is None and row is None:
            continue
        write_row(view, row_id, new_row, RowPosition(context.seq, context.index))


def _failed(projector: Projector, method: str, event: Any, context: EventContext,
            err: Exception) -> ProjectorError:
    """The error that names where a projector failed (the projector's own error is its cause)."""
    return ProjectorError(
        f"{type(projector).__name__}.{method} for view {projector.view!r} failed on event "
        f"{context.index} ({event.event_type}) of commit {context.seq}: {type(err).__name__}: {err}. "
        "The log is intact; fix the projector (its view then catches up from its checkpoint) or "
        "stop registering it.", view=projector.view, seq=context.seq, index=context.index)
