"""A pure, in-memory fold of commits: the reference that every backend's views must equal."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from projections.protocol import Projector
from projections.runner import ProjectionRunner, RowPosition
from signalstore_es.domain.commits import Commit


class InMemoryViews:
    """A :class:`~projections.runner.ViewWriter` over dicts (current rows only)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, tuple[dict[str, Any], RowPosition]]] = {}
        self.checkpoints: dict[str, int] = {}

    def read_row(self, view: str, row_id: str) -> tuple[dict[str, Any] | None, RowPosition | None]:
        found = self.rows.get(view, {}).get(row_id)
        return (None, None) if found is None else (dict(found[0]), found[1])

    def write_row(self, view: str, row_id: str, document: dict[str, Any] | None,
                  position: RowPosition) -> None:
        table = self.rows.setdefault(view, {})
        if document is None:
            table.pop(row_id, None)
        else:
            table[row_id] = (dict(document), position)

    def checkpoint(self, view: str) -> int:
        return self.checkpoints.get(view, 0)

    def set_checkpoint(self, view: str, seq: int) -> None:
        self.checkpoints[view] = seq

    def documents(self, view: str) -> list[dict[str, Any]]:
        return [doc for doc, _ in self.rows.get(view, {}).values()]


def fold(commits: Iterable[Commit], projectors: Sequence[Projector]) -> InMemoryViews:
    """The views after applying ``commits`` in order to fresh state."""
    views = InMemoryViews()
    ProjectionRunner(projectors).apply(commits, views)
    return views
