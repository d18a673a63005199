"""Commits: the unit of atomicity, ordering and audit, chained by hashes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs
import blake3
import orjson

from signalstore_es.domain.codec import JSON_CODEC, canonical_json, event_canonical_json
from signalstore_es.domain.events import BlobPurged, DomainModelAdded, DomainModelRemoved, Event, RecordAdded
from signalstore_es.domain.time import to_epoch_ms

HASH_ALGORITHM = "blake3"
GENESIS_HASH = ""  #: ``prev_hash`` of the first commit


@attrs.frozen(kw_only=True)
class CommitDraft:
    """Everything of a commit except its position in the log and its hashes."""

    commit_id: str
    committed_at: datetime
    actor: str
    message: str | None
    library_version: str
    events: tuple[Event, ...] = attrs.field(converter=tuple)

    def seal(self, *, seq: int, prev_hash: str) -> Commit:
        """Place the draft at ``seq`` after a commit whose hash is ``prev_hash``."""
        fields = {"seq": seq, "prev_hash": prev_hash, "commit_id": self.commit_id,
                  "committed_at": self.committed_at, "actor": self.actor, "message": self.message,
                  "library_version": self.library_version, "events": self.events}
        return Commit(hash=commit_hash(Commit(hash="", **fields)), **fields)


@attrs.frozen(kw_only=True)
class Commit:
    """A commit as stored: gapless ``seq``, identity, audit fields, events and hash chain."""

    seq: int
    commit_id: str
    committed_at: datetime
    actor: str
    message: str | None
    library_version: str
    events: tuple[Event, ...] = attrs.field(converter=tuple)
    prev_hash: str
    hash: str

    def header(self) -> dict[str, Any]:
        """The audit fields, without events."""
        return {"seq": self.seq, "commit_id": self.commit_id, "committed_at": self.committed_at,
                "actor": self.actor, "message": self.message,
                "library_version": self.library_version}


def canonical_commit_document(commit: Commit) -> dict[str, Any]:
    """The hashed form: every field but ``hash``, datetimes as epoch milliseconds."""
    return {
        "seq": commit.seq,
        "commit_id": commit.commit_id,
        "committed_at": to_epoch_ms(commit.committed_at),
        "actor": commit.actor,
        "message": commit.message,
        "library_version": commit.library_version,
        "events": [JSON_CODEC.event_to_document(e) for e in commit.events],
        "prev_hash": commit.prev_hash,
    }


def canonical_commit_bytes(commit: Commit) -> bytes:
    """``canonical_json(canonical_commit_document(commit))``, assembled from each event's
    canonical text and the header fields written one by one (no float can hide in a header,
    so the library version's dots never send the whole commit down the stdlib path)."""
    header = (commit.actor, commit.commit_id, commit.library_version, commit.prev_hash)
    if not (all(type(v) is str for v in header) and type(commit.seq) is int
            and (commit.message is None or type(commit.message) is str)
            and isinstance(commit.committed_at, datetime)):
        return canonical_json(canonical_commit_document(commit))
    try:
        actor, commit_id, version, prev_hash, message = (
            orjson.dumps(v) for v in (*header, commit.message))
    except orjson.JSONEncodeError:  # e.g. a lone surrogate: the reference raises as it always did
        return canonical_json(canonical_commit_document(commit))
    events = b",".join([event_canonical_json(e) for e in commit.events])
    return b"".join((b'{"actor":', actor, b',"commit_id":', commit_id, b',"committed_at":',
                     str(to_epoch_ms(commit.committed_at)).encode(), b',"events":[', events,
                     b'],"library_version":', version, b',"message":', message,
                     b',"prev_hash":', prev_hash, b',"seq":', str(commit.seq).encode(), b"}"))


def commit_hash(commit: Commit) -> str:
    """``blake3:<hex>`` over the canonical encoding, which includes every blob address."""
    return f"{HASH_ALGORITHM}:{blake3.blake3(canonical_commit_bytes(commit)).hexdigest()}"


@attrs.frozen(kw_only=True)
class Footprint:
    """What a batch of events writes and reads, for optimistic-concurrency checks."""

    writes: frozenset[str]  #: ``record:<key>`` and ``model:<schema_name>`` it changes
    reads: frozenset[str]  #: models its validation relied on
    referenced: frozenset[str]  #: blob addresses newly referenced by added records
    purged: frozenset[str]  #: blob addresses whose bytes the batch deletes

    @classmethod
    def of(cls, events: Iterable[Event]) -> Footprint:
        writes: set[str] = set()
        reads: set[str] = set()
        referenced: set[str] = set()
        purged: set[str] = set()
        for event in events:
            if isinstance(event, BlobPurged):
                purged.add(event.address)
            elif isinstance(event, (DomainModelAdded, DomainModelRemoved)):
                writes.add(f"model:{event.schema_name}")
                reads.update(_model_reads(event))
            else:
                writes.add(f"record:{event.key.as_string()}")
                if isinstance(event, RecordAdded):
                    reads.update(_record_reads(event))
                    if event.blob is not None:
                        referenced.add(event.blob.address)
        return cls(writes=frozenset(writes), reads=frozenset(reads),
                   referenced=frozenset(referenced), purged=frozenset(purged))

    def clash(self, earlier: Footprint) -> str | None:
        """The first key that makes this batch conflict with an ``earlier`` commit, or None.

        Conflicts: both write the same record or model; this batch was validated against a
        model the earlier commit changed; a purge meets any reference to the same address.
        Two records added with the same content do not clash: that is deduplication.
        """
        blob_keys = (self.purged & (earlier.referenced | earlier.purged)) | (earlier.purged & self.referenced)
        shared = (self.writes & earlier.writes) | (self.reads & earlier.writes) \
            | {f"blob:{address}" for address in blob_keys}
        return min(shared) if shared else None


def _model_reads(event: DomainModelAdded | DomainModelRemoved) -> set[str]:
    if isinstance(event, DomainModelAdded) and event.model.get("metamodel_ref"):
        return {f"model:{event.model['metamodel_ref']}"}
    return set()


def _record_reads(event: RecordAdded) -> set[str]:
    """The data model and the property models the record was validated against."""
    names = {"data_ref" if name.endswith("_data_ref") else name for name in event.record}
    return {f"model:{event.key.schema_ref}"} | {f"model:{name}" for name in names}
