"""The audit trail: the commit log and the history of one record, read from the log itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from signalstore_es.api.context import WorkContext
from signalstore_es.domain.codec import BSON_CODEC
from signalstore_es.domain.commits import Commit
from signalstore_es.domain.events import Event, RecordAdded
from signalstore_es.domain.keys import RecordKey, check_data_name, check_schema_name, check_version_timestamp
from signalstore_es.domain.time import require_aware
from signalstore_es.errors import ArgumentTypeError, ValidationError


def commit_entry(commit: Commit) -> dict[str, Any]:
    """A commit as ``uow.log()`` returns it: audit fields, hashes and its events."""
    return {**commit.header(), "prev_hash": commit.prev_hash, "hash": commit.hash,
            "events": [BSON_CODEC.event_to_document(e) for e in commit.events]}


def read_log(context: WorkContext, since: Any = None, until: Any = None, actor: str | None = None,
             limit: int | None = None) -> list[dict[str, Any]]:
    """Commits with ``since <= seq/instant <= until``, optionally by one actor, oldest first."""
    after = _bound(context, since, "since", lower=True)
    upto = _bound(context, until, "until", lower=False)
    if actor is not None and not isinstance(actor, str):
        raise ArgumentTypeError(f"actor must be a str, got {actor!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValidationError(f"limit must be an int >= 0, got {limit!r}")
    entries = []
    for commit in context.backend.read_commits(after=after, upto=upto):
        if actor is None or commit.actor == actor:
            entries.append(commit_entry(commit))
            if limit and len(entries) >= limit:
                break
    return entries


def _bound(context: WorkContext, value: Any, name: str, *, lower: bool) -> int | None:
    """A seq bound for read_commits: ``after`` (exclusive) or ``upto`` (inclusive)."""
    if value is None:
        return 0 if lower else None
    if isinstance(value, datetime):
        seq = context.backend.seq_at(require_aware(value, argument=name))
        if lower:  # commits at or after the instant: after the last commit strictly before it
            return context.backend.seq_at(value - timedelta(milliseconds=1)) if seq else 0
        return seq
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(f"{name} must be a commit seq or an aware datetime, got {value!r}")
    return max(value - 1, 0) if lower else value


def record_history(context: WorkContext, schema_ref: Any, data_name: Any,
                   version_timestamp: Any = None) -> list[dict[str, Any]]:
    """Every event that touched the record (all versions when ``version_timestamp`` is None)."""
    check_schema_name(schema_ref, argument="schema_ref")
    check_data_name(data_name)
    version = None if version_timestamp is None else check_version_timestamp(version_timestamp)
    return list(_history_entries(context, schema_ref, data_name, version))


def _history_entries(context: WorkContext, schema_ref: str, data_name: str,
                     version: Any) -> Iterator[dict[str, Any]]:
    for commit in context.backend.read_commits():
        for event in commit.events:
            key = getattr(event, "key", None)
            if _matches(key, schema_ref, data_name, version):
                yield _history_entry(commit, event, key)


def _matches(key: RecordKey | None, schema_ref: str, data_name: str, version: Any) -> bool:
    if key is None or (key.schema_ref, key.data_name) != (schema_ref, data_name):
        return False
    return version is None or key.version_timestamp == version


def _history_entry(commit: Commit, event: Event, key: RecordKey) -> dict[str, Any]:
    blob = event.blob if isinstance(event, RecordAdded) else None
    return {"seq": commit.seq, "commit_id": commit.commit_id, "committed_at": commit.committed_at,
            "actor": commit.actor, "message": commit.message, "event_type": event.event_type,
            "schema_ref": key.schema_ref, "data_name": key.data_name,
            "version_timestamp": key.version_timestamp, "address": blob.address if blob else None}
