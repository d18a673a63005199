"""Appending a staged batch as one commit, with optimistic concurrency.

A batch is appended at ``seq = head + 1``. If another writer took that seq, the commits it
missed are read and checked against the batch's footprint: a clash is a conflict (reported,
nothing written), otherwise the batch is retried at the next seq. Nothing is lost, nothing is
duplicated, no seq is skipped.

Before the first attempt every blob the batch references is *refreshed* (its time set to now,
and its presence confirmed), so that a concurrent ``gc`` keeps it; a blob gc already removed
fails the commit with ConcurrencyError and nothing is written. A committed event therefore
never references a blob that gc deleted (see ``maintenance.collect_garbage``).
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import attrs

from projections.runner import ProjectionRunner
from signalstore_es._logging import get_logger
from signalstore_es._version import __version__
from signalstore_es.api.receipts import CommitReceipt
from signalstore_es.api.staging import Staging
from signalstore_es.domain.commits import Commit, CommitDraft, Footprint
from signalstore_es.domain.events import RecordAdded
from signalstore_es.domain.time import utc_now_ms
from signalstore_es.errors import (
    AlreadyExistsError,
    BackendUnavailableError,
    CommitAlreadyLandedError,
    ConcurrencyError,
    ViewsBehindError,
)
from signalstore_es.ports.blob_store import BlobStore
from signalstore_es.ports.storage import Head, SeqTakenError, StorageBackend

log = get_logger(__name__)
MAX_ATTEMPTS = 1000  # each failed attempt means another commit landed: progress is global
MAX_UNAVAILABLE = 4  # lost connections tolerated per commit, with exponential backoff


@attrs.define
class Committer:
    backend: StorageBackend
    runner: ProjectionRunner
    actor: str
    base_seq: int  #: the head this unit of work's reads and validation were based on
    #: the project's blobs; without them the batch's blobs are not refreshed before appending
    blobs: BlobStore | None = None
    #: the head as this unit of work's previous commit left it, if known: the first attempt
    #: assumes it is still the head instead of reading it (one query fewer per commit of a
    #: loop). If another writer appended meanwhile, that seq is taken, the append fails with
    #: SeqTakenError and the next attempt reads the real head, as after any lost race.
    known_head: Head | None = None
    #: set when a commit landed but updating the views failed (the unit of work repairs them
    #: before its next read)
    views_behind: ViewsBehindError | None = None

    def commit(self, staging: Staging, message: str | None) -> CommitReceipt:
        self._keep_blobs_alive(staging)
        commit_id = str(uuid.uuid4())
        unavailable = 0
        for _ in range(MAX_ATTEMPTS):
            landed = self.backend.find_commit(commit_id) if unavailable else None
            if landed is not None:  # an attempt whose answer was lost did land
                return self._landed(landed)
            head, self.known_head = self.known_head or self.backend.head(), None
            self._check_newer_commits(staging, head)
            commit = self._seal(staging, head, commit_id, message)
            try:
                self.backend.append(commit, self.runner)
            except SeqTakenError:
                continue
            except CommitAlreadyLandedError:
                return self._landed(self.backend.find_commit(commit_id) or commit)
            except ViewsBehindError as err:  # durable: report success, repair before reading
                self.views_behind = err
                log.warning("views_behind", commit_id=err.commit_id, seq=err.seq, error=str(err))
            except BackendUnavailableError:
                unavailable += 1  # retrying under the same commit_id can never duplicate it
                if unavailable >= MAX_UNAVAILABLE:
                    raise
                time.sleep(0.2 * 2**unavailable)
                continue
            return self._landed(commit)
        raise ConcurrencyError(f"commit {commit_id} could not find a free seq after "
                               f"{MAX_ATTEMPTS} attempts; retry later")

    def _keep_blobs_alive(self, staging: Staging) -> None:
        """Refresh every blob the batch references; ConcurrencyError if gc removed one.

        Done right before appending, so a gc whose grace period is longer than one commit
        takes cannot judge these blobs unused: it either sees the refreshed time, or it
        removed the blob first and the refresh reports it missing. Once per commit, not per
        attempt: retries take milliseconds, the grace period hours.
        """
        if self.blobs is None:
            return
        refresh = getattr(self.blobs, "refresh", self.blobs.exists)
        referenced = sorted({(op.blob.address, op.blob.extension) for op in staging.staged_adds()
                             if op.blob is not None})
        for address, extension in referenced:
            if not refresh(address, extension):
                raise ConcurrencyError(
                    f"blob {address}, which this unit of work stored or reused, was removed before "
                    "the commit (gc collects blobs that no commit references once they are older "
                    "than its grace period); nothing was written. Roll back, add the data again "
                    "and commit.", key=address)

    def _landed(self, commit: Commit) -> CommitReceipt:
        self.base_seq = max(self.base_seq, commit.seq)
        return CommitReceipt.of(commit)

    def _seal(self, staging: Staging, head: Head, commit_id: str, message: str | None) -> Commit:
        committed_at = utc_now_ms()
        if head.committed_at is not None and committed_at <= head.committed_at:
            # keep committed_at strictly increasing with seq, so time travel by instant
            # is well defined and commit-time versions never collide across commits
            committed_at = head.committed_at + timedelta(milliseconds=1)
        draft = CommitDraft(commit_id=commit_id, committed_at=committed_at, actor=self.actor,
                            message=message, library_version=__version__,
                            events=staging.events_for(head.seq + 1, committed_at))
        return draft.seal(seq=head.seq + 1, prev_hash=head.hash)

    def _check_newer_commits(self, staging: Staging, head: Head) -> None:
        if head.seq <= self.base_seq:
            return
        events = staging.events_for(head.seq + 1, utc_now_ms())
        mine = Footprint.of(events)
        added_here = {f"record:{e.key.as_string()}" for e in events if isinstance(e, RecordAdded)}
        for other in self.backend.read_commits(after=self.base_seq, upto=head.seq):
            clash = mine.clash(Footprint.of(other.events))
            if clash is not None:
                raise _conflict(clash, other, added_here)
        self.base_seq = head.seq


def _conflict(clash: str, winner: Commit, added_here: set[str]) -> Exception:
    """AlreadyExistsError when both added the same key; ConcurrencyError for any other clash."""
    added_there = {f"record:{e.key.as_string()}": e.key for e in winner.events
                   if isinstance(e, RecordAdded)}
    if clash in added_there and clash in added_here:
        key = added_there[clash]
        return AlreadyExistsError(
            f"record {key.describe()} was committed first by another writer (seq {winner.seq}, "
            f"commit {winner.commit_id}); nothing of this unit of work was written. Add it with "
            "versioning_on=True to keep both versions.", key=key)
    return ConcurrencyError(
        f"{clash} was changed by another writer (seq {winner.seq}, commit {winner.commit_id}, "
        f"actor {winner.actor!r}) after this unit of work read it; nothing was written. "
        "Open a new unit of work and redo the change against the new state.",
        key=clash, winning_seq=winner.seq)
