"""Values returned by public calls."""

from __future__ import annotations

from datetime import datetime

import attrs

from signalstore_es.domain.commits import Commit


@attrs.frozen(kw_only=True)
class CommitReceipt:
    """What ``uow.commit()`` returns: where the batch landed in the log."""

    seq: int
    commit_id: str
    committed_at: datetime
    actor: str
    message: str | None
    event_count: int
    hash: str

    @classmethod
    def of(cls, commit: Commit) -> CommitReceipt:
        return cls(seq=commit.seq, commit_id=commit.commit_id, committed_at=commit.committed_at,
                   actor=commit.actor, message=commit.message, event_count=len(commit.events),
                   hash=commit.hash)
