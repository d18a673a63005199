"""Integrity verification and garbage collection of blobs.

``verify`` recomputes the hash chain from the log and every committed blob's content address
from its bytes. ``gc`` removes blobs no commit references (and leftover temporaries) once they
are older than a grace period, and finishes byte deletions of committed purges.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

import attrs

from signalstore_es.domain.commits import Commit, commit_hash
from signalstore_es.domain.events import BlobPurged, BlobRef, RecordAdded
from signalstore_es.errors import SignalStoreError
from signalstore_es.ports.blob_store import BlobStore
from signalstore_es.ports.storage import StorageBackend

Progress = Callable[[int], None]


@attrs.frozen(kw_only=True)
class VerifyReport:
    """What ``provider.verify`` found. ``ok`` is True only if nothing is wrong."""

    project: str
    commits_checked: int
    blobs_checked: int
    first_broken_seq: int | None = None
    broken_reason: str | None = None
    damaged_blobs: tuple[tuple[str, str], ...] = ()  #: (address, what is wrong)

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None and not self.damaged_blobs

    def summary(self) -> str:
        if self.ok:
            return (f"{self.project}: OK - {self.commits_checked} commits, hash chain intact; "
                    f"{self.blobs_checked} blobs match their addresses")
        lines = [f"{self.project}: DAMAGED"]
        if self.first_broken_seq is not None:
            lines.append(f"  first broken commit: seq {self.first_broken_seq}: {self.broken_reason}")
        lines.extend(f"  blob {address}: {why}" for address, why in self.damaged_blobs)
        return "\n".join(lines)


@attrs.frozen(kw_only=True)
class GcReport:
    project: str
    removed_blobs: tuple[str, ...]
    removed_temporaries: int
    finished_purges: int
    kept_referenced: int


def verify_log(commits: Iterable[Commit], progress: Progress = lambda _: None) -> tuple[int, int | None, str | None]:
    """(commits checked, first broken seq, reason) for a chain of commits read in order."""
    expected_seq, prev_hash, count = 1, "", 0
    for commit in commits:
        reason = _chain_problem(commit, expected_seq, prev_hash)
        if reason is not None:
            return count, commit.seq, reason
        expected_seq, prev_hash, count = commit.seq + 1, commit.hash, count + 1
        progress(1)
    return count, None, None


def _chain_problem(commit: Commit, expected_seq: int, prev_hash: str) -> str | None:
    if commit.seq != expected_seq:
        return f"seq {commit.seq} found where {expected_seq} was expected (a commit is missing or moved)"
    if commit.prev_hash != prev_hash:
        return "prev_hash does not match the previous commit's hash (history was reordered or replaced)"
    if commit_hash(commit) != commit.hash:
        return "its content does not match its hash (an event or field was edited)"
    return None


def live_blobs(commits: Iterable[Commit]) -> dict[str, BlobRef]:
    """Blobs referenced by the log whose bytes have not been purged since."""
    blobs: dict[str, BlobRef] = {}
    for commit in commits:
        for event in commit.events:
            if isinstance(event, RecordAdded) and event.blob is not None:
                blobs[event.blob.address] = event.blob
            elif isinstance(event, BlobPurged):
                blobs.pop(event.address, None)
    return blobs


def purged_addresses(commits: Iterable[Commit]) -> dict[str, bool]:
    """Every address whose latest blob event is a purge (True) or an add (False)."""
    state: dict[str, bool] = {}
    for commit in commits:
        for event in commit.events:
            if isinstance(event, RecordAdded) and event.blob is not None:
                state[event.blob.address] = False
            elif isinstance(event, BlobPurged):
                state[event.address] = True
    return state


def check_blob(blobs: BlobStore, registry: Any, blob: BlobRef) -> str | None:
    """None if the blob's bytes still hash to its address, else what is wrong."""
    if not blobs.exists(blob.address, blob.extension):
        return "missing"
    stored = getattr(blobs, "file_digest", None)
    if blob.file_digest and stored is not None and stored(blob.address, blob.extension) != blob.file_digest:
        return "stored bytes differ from those committed (a byte was changed on storage)"
    try:
        adapter = registry.by_name(blob.adapter)
        obj = blobs.get(blob.address, blob.extension, adapter)
        actual = adapter.content_address(obj)
    except SignalStoreError as err:
        return f"unreadable: {err}"
    except Exception as err:  # a damaged file can fail inside any decoder
        return f"unreadable: {type(err).__name__}: {err}"
    return None if actual == blob.address else f"content hashes to {actual}"


def verify(backend: StorageBackend, blobs: BlobStore, registry: Any, progress: Progress) -> VerifyReport:
    commits = list(backend.read_commits())
    checked, broken_seq, reason = verify_log(commits, progress)
    damaged = []
    referenced = live_blobs(commits)
    for blob in referenced.values():
        problem = check_blob(blobs, registry, blob)
        if problem is not None:
            damaged.append((blob.address, problem))
        progress(1)
    return VerifyReport(project=backend.project, commits_checked=checked, blobs_checked=len(referenced),
                        first_broken_seq=broken_seq, broken_reason=reason, damaged_blobs=tuple(damaged))


def collect_garbage(backend: StorageBackend, blobs: BlobStore, grace: timedelta) -> GcReport:
    """Delete unreferenced blobs and temporaries older than ``grace``; finish purges.

    A blob is removed only if no commit references it and it was neither written nor used
    within ``grace``. How that stays true while writers commit concurrently:

    1. The blob listing is taken *before* the log is read, so a blob committed before the
       read is seen as referenced.
    2. After deciding, gc reads the commits appended since its first read and keeps every
       blob they reference (cheap: only the new commits).
    3. A blob committed even later was *used* shortly before: a writer refreshes the time of
       every blob its batch references right before appending it (and when ``put`` finds an
       existing blob). gc deletes each candidate with ``delete_if_unused_since(cutoff)``,
       which on local disk first claims the blob by an atomic rename and then reads its time
       from the claimed file: a refresh lands either before the claim (the time is recent,
       the blob is put back) or after it (the refresh fails, and the writer raises
       ConcurrencyError instead of committing a reference to a missing blob). See
       ``FsspecBlobStore.delete_if_unused_since``.

    What remains is the grace period itself: it must exceed the time between a writer's
    refresh and its append (milliseconds; the default is 24 hours).
    """
    cutoff = time.time() - grace.total_seconds()
    listing = list(blobs.iter_blobs())
    temporaries = list(getattr(blobs, "iter_temporaries", list)())
    log = _LogReader(backend)
    state = purged_addresses(log.commits())
    candidates, finished, kept = [], 0, 0
    for address, extension, modified in listing:
        if state.get(address) is False:
            kept += 1
        elif state.get(address) is True:
            blobs.delete(address, extension)  # a purge whose byte deletion did not finish
            finished += 1
        elif modified < cutoff:
            candidates.append((address, extension))
    committed_meanwhile = log.referenced_since_read()
    kept += sum(1 for address, _ in candidates if address in committed_meanwhile)
    removed = [address for address, extension in candidates if address not in committed_meanwhile
               and _delete_if_unused_since(blobs, address, extension, cutoff)]
    old_temporaries = [path for path, modified in temporaries if modified < cutoff]
    for path in old_temporaries:
        blobs.remove_temporary(path)  # type: ignore[attr-defined]
    return GcReport(project=backend.project, removed_blobs=tuple(removed),
                    removed_temporaries=len(old_temporaries), finished_purges=finished, kept_referenced=kept)


@attrs.define
class _LogReader:
    """Reads the log once, remembering how far, to read only what was appended later."""

    backend: StorageBackend
    last_seq: int = 0

    def commits(self) -> Iterator[Commit]:
        for commit in self.backend.read_commits():
            self.last_seq = commit.seq
            yield commit

    def referenced_since_read(self) -> set[str]:
        """Addresses of blobs referenced by commits appended after :meth:`commits` ended."""
        return set(live_blobs(self.backend.read_commits(after=self.last_seq)))


def _delete_if_unused_since(blobs: BlobStore, address: str, extension: str, cutoff: float) -> bool:
    """Delete through the store's race-free check when it has one (see ``collect_garbage``)."""
    conditional = getattr(blobs, "delete_if_unused_since", None)
    if conditional is not None:
        return bool(conditional(address, extension, cutoff))
    blobs.delete(address, extension)  # a store without times: the grace period is all there is
    return True
