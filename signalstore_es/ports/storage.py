"""The storage port: an append-only commit log plus the views projected from it.

One adapter module per backend implements :class:`StorageBackend` (``adapters/sqlite``,
``adapters/mongo``). The core never sees a driver: adapters translate driver errors into
:mod:`signalstore_es.errors` at this boundary.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs

from projections.runner import ProjectionRunner
from signalstore_es.domain.commits import Commit


class SeqTakenError(Exception):
    """Internal signal: another writer appended at this seq first. Never reaches users."""


@attrs.frozen(kw_only=True)
class Head:
    """The newest commit of a log (``seq`` 0 and empty hash for an empty log)."""

    seq: int
    hash: str
    committed_at: datetime | None


SortSpec = Sequence[tuple[str, int]]


class StorageBackend(Protocol):
    """An append-only, gapless, hash-chained commit log with projected views."""

    #: the project (database) this backend serves
    project: str

    def head(self) -> Head:
        """The newest visible commit."""
        ...

    def read_commits(self, *, after: int = 0, upto: int | None = None) -> Iterator[Commit]:
        """Commits with ``after < seq <= upto`` in seq order."""
        ...

    def find_commit(self, commit_id: str) -> Commit | None:
        """The commit with this id, if it landed."""
        ...

    def seq_at(self, instant: datetime) -> int:
        """The seq of the last commit at or before ``instant`` (0 if none)."""
        ...

    def append(self, commit: Commit, runner: ProjectionRunner) -> None:
        """Append ``commit`` atomically at ``commit.seq`` and bring the views up to date.

        Raises :class:`SeqTakenError` if that seq is already taken. When this returns, the
        commit is durable and visible to this process's reads (read-your-writes).
        """
        ...

    def catch_up(self, runner: ProjectionRunner) -> None:
        """Apply every commit the views have not seen (repairs a crash after an append)."""
        ...

    def rebuild(self, runner: ProjectionRunner) -> tuple[int, int]:
        """Drop the runner's views and replay the whole log; returns (commits, events)."""
        ...

    def find_rows(self, view: str, filter: Mapping[str, Any], *, as_of: int | None = None,
                  sort: SortSpec | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Rows of ``view`` matching ``filter`` (MongoDB syntax), current or as of a seq."""
        ...

    def close(self) -> None: ...
