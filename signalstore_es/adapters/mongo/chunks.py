"""Staged event chunks that no commit references, for garbage collection.

A chunk ``{commit_id, seq, n}`` is referenced when the commit document at ``_id = seq`` has
that ``commit_id`` and more than ``n`` chunks. Others are orphans: their writer died before
writing the commit document, or lost the seq to another writer and retried at the next one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_FIELDS = {"commit_id": 1, "seq": 1, "n": 1}


def find_orphans(events: Any, chunks: Any, query: Mapping[str, Any]) -> list[str]:
    """Ids of the chunks matching ``query`` that no commit references, sorted."""
    candidates = list(chunks.find(dict(query), projection=_FIELDS))
    commit_ids = sorted({chunk["commit_id"] for chunk in candidates})
    landed = events.find({"commit_id": {"$in": commit_ids}}, projection={"commit_id": 1, "chunks": 1})
    referenced = {(d["commit_id"], d["_id"]): d.get("chunks", 0) for d in landed}
    return sorted(c["_id"] for c in candidates
                  if c["n"] >= referenced.get((c["commit_id"], c["seq"]), 0))


def delete_orphans(events: Any, chunks: Any, chunk_ids: Iterable[str]) -> int:
    """Delete those of ``chunk_ids`` that are orphans now; return how many were deleted."""
    doomed = find_orphans(events, chunks, {"_id": {"$in": list(chunk_ids)}})
    return int(chunks.delete_many({"_id": {"$in": doomed}}).deleted_count) if doomed else 0
