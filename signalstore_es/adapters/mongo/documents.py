"""Commits as MongoDB documents: one document per commit, or staged chunks plus a header.

A commit whose encoded size stays under :data:`INLINE_LIMIT_BYTES` is one document
``{_id: seq, commit_id, committed_at, ..., chunks: 0, events: [...]}``. A larger one has its
events split into chunks of at most :data:`CHUNK_LIMIT_BYTES` (by BSON-encoded size), each a
document ``{_id: "<commit_id>:<seq>:<n>", commit_id, seq, n, written_at, events}`` in
``event_chunks``, written first; the commit document (``chunks: N``, ``events: []``) is
written last and is the single atomic commit point. The chunk id includes the seq because
the committer retries a batch under the same ``commit_id`` at the next seq with different
events (their generation is their seq): every attempt's chunks are distinct and never
overwritten, and the chunks of a losing attempt are orphans.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import bson

from signalstore_es.domain.codec import BSON_CODEC
from signalstore_es.domain.commits import Commit
from signalstore_es.domain.events import Event
from signalstore_es.errors import IntegrityError, ValidationError

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  #: MongoDB's BSON document limit
#: largest inline commit: leaves 1 MiB for what the size estimate does not count exactly
INLINE_LIMIT_BYTES = MAX_DOCUMENT_BYTES - 1024 * 1024
#: target size of one chunk; half the limit keeps every chunk insert far from it
CHUNK_LIMIT_BYTES = MAX_DOCUMENT_BYTES // 2
#: per array element: type byte, decimal index key up to 7 digits and its NUL, rounded up
_ELEMENT_OVERHEAD = 16

#: the commit fields that :class:`~signalstore_es.ports.storage.Head` needs
HEAD_PROJECTION = {"hash": 1, "committed_at": 1}


@attrs.frozen
class EncodedCommit:
    """The commit document and the chunk documents to write before it (often none)."""

    document: dict[str, Any]
    chunks: list[dict[str, Any]]


def chunk_id(commit_id: str, seq: int, n: int) -> str:
    return f"{commit_id}:{seq}:{n}"


def encode_commit(commit: Commit, *, written_at: datetime) -> EncodedCommit:
    """Encode ``commit``, splitting its events into chunks if one document cannot hold them.

    Raises
    ------
    ValidationError
        A single event is too large for a MongoDB document.
    """
    events = [BSON_CODEC.event_to_document(event) for event in commit.events]
    sizes = [len(bson.encode(event)) + _ELEMENT_OVERHEAD for event in events]
    header = {"_id": commit.seq, "commit_id": commit.commit_id, "committed_at": commit.committed_at,
              "actor": commit.actor, "message": commit.message,
              "library_version": commit.library_version, "prev_hash": commit.prev_hash,
              "hash": commit.hash}
    if len(bson.encode(header)) + sum(sizes) <= INLINE_LIMIT_BYTES:
        return EncodedCommit({**header, "chunks": 0, "events": events}, [])
    groups = _pack(events, sizes, commit)
    chunks = [{"_id": chunk_id(commit.commit_id, commit.seq, n), "commit_id": commit.commit_id,
               "seq": commit.seq, "n": n, "written_at": written_at, "events": group}
              for n, group in enumerate(groups)]
    return EncodedCommit({**header, "chunks": len(chunks), "events": []}, chunks)


def _pack(events: list[dict[str, Any]], sizes: list[int], commit: Commit) -> list[list[dict[str, Any]]]:
    """Greedy, order-preserving groups of events of at most CHUNK_LIMIT_BYTES each."""
    groups: list[list[dict[str, Any]]] = [[]]
    filled = 0
    for index, (event, size) in enumerate(zip(events, sizes, strict=True)):
        if size > INLINE_LIMIT_BYTES:
            raise ValidationError(
                f"event {index} ({event['event_type']}) of commit {commit.commit_id} encodes to "
                f"{size} bytes, more than a MongoDB document holds ({MAX_DOCUMENT_BYTES}); "
                "keep large content in the data object, not in the record"
            )
        if groups[-1] and filled + size > CHUNK_LIMIT_BYTES:
            groups.append([])
            filled = 0
        groups[-1].append(event)
        filled += size
    return groups


def chunk_ids_of(document: Mapping[str, Any]) -> list[str]:
    """The ids of the chunks a commit document references, in order."""
    return [chunk_id(document["commit_id"], document["_id"], n) for n in range(document.get("chunks", 0))]


def decode_commit(document: Mapping[str, Any], chunks: Sequence[Mapping[str, Any]] = ()) -> Commit:
    """Rebuild a :class:`Commit` from its document and (for a chunked one) its chunks.

    Raises
    ------
    IntegrityError
        A chunk the commit references is missing.
    """
    expected = chunk_ids_of(document)
    found = {chunk["_id"]: chunk for chunk in chunks}
    missing = [cid for cid in expected if cid not in found]
    if missing:
        raise IntegrityError(
            f"commit {document['commit_id']} (seq {document['_id']}) references event chunks "
            f"that are missing: {missing[:3]}; the log was edited outside the library or a "
            "garbage collection removed chunks it should not have"
        )
    stored = list(document["events"]) + [e for cid in expected for e in found[cid]["events"]]
    events: list[Event] = [BSON_CODEC.event_from_document(e) for e in stored]
    return Commit(seq=document["_id"], commit_id=document["commit_id"],
                  committed_at=document["committed_at"], actor=document["actor"],
                  message=document["message"], library_version=document["library_version"],
                  # mypy's attrs plugin cannot solve the generic ``converter=tuple`` of Commit
                  events=events,  # type: ignore[arg-type]
                  prev_hash=document["prev_hash"], hash=document["hash"])
