"""Reading records out of the views: live lookups, versions, generations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from projections.records import BLOB_FIELD, GENERATION_FIELD, KEY_FIELD  # noqa: F401 - re-exported
from signalstore_es.api.context import WorkContext
from signalstore_es.domain.keys import RecordKey

VIEW = "records"
LIVE = {"time_of_removal": None}
#: keys per query of :func:`live_rows`: a few hundred keep each statement small (SQLite binds one
#: parameter per key; FerretDB 1.x scans the view once per ``$in`` query, not once per key)
KEYS_PER_QUERY = 500


def live_row(context: WorkContext, key: RecordKey) -> dict[str, Any] | None:
    """The committed live row of ``key`` (as of the context's point in time)."""
    rows = context.backend.find_rows(VIEW, {KEY_FIELD: key.as_string(), **LIVE},
                                     as_of=context.as_of, limit=1)
    return rows[0] if rows else None


def live_rows(context: WorkContext, keys: Iterable[RecordKey]) -> dict[RecordKey, dict[str, Any]]:
    """The committed live rows of ``keys`` (as of the context's point in time), by key.

    Asks one ``{"_key": {"$in": [...]}, "time_of_removal": None}`` query per
    :data:`KEYS_PER_QUERY` keys, which both backends answer from their ``_key`` index; keys
    without a live row are absent from the result.
    """
    by_string = {key.as_string(): key for key in keys}
    strings = list(by_string)
    found: dict[RecordKey, dict[str, Any]] = {}
    for start in range(0, len(strings), KEYS_PER_QUERY):
        chunk = strings[start:start + KEYS_PER_QUERY]
        for row in context.backend.find_rows(VIEW, {KEY_FIELD: {"$in": chunk}, **LIVE}, as_of=context.as_of):
            found.setdefault(by_string[row[KEY_FIELD]], row)
    return found


def removed_rows(context: WorkContext, key: RecordKey) -> list[dict[str, Any]]:
    """Committed soft-deleted generations of ``key``, newest removal first."""
    rows = context.backend.find_rows(VIEW, {KEY_FIELD: key.as_string(),
                                            "time_of_removal": {"$ne": None}},
                                     as_of=context.as_of)
    return sorted(rows, key=lambda r: (r["time_of_removal"], r[GENERATION_FIELD]), reverse=True)


def live_versions(context: WorkContext, schema_ref: str, data_name: str) -> list[dict[str, Any]]:
    """Committed live rows of every version of a name, newest version first (0 last)."""
    rows = context.backend.find_rows(VIEW, {"schema_ref": schema_ref, "data_name": data_name, **LIVE},
                                     as_of=context.as_of)
    return sorted(rows, key=version_order, reverse=True)


def version_order(row: dict[str, Any]) -> float:
    version = row["version_timestamp"]
    return version.timestamp() if isinstance(version, datetime) else float("-inf")


def generation_of(row: dict[str, Any]) -> int:
    return int(row[GENERATION_FIELD])


def blob_of(row: dict[str, Any]) -> dict[str, Any] | None:
    return row.get(BLOB_FIELD)  # type: ignore[no-any-return]



def key_of_row(row: dict[str, Any]) -> RecordKey:
    """The record key a view row belongs to."""
    return RecordKey(schema_ref=row["schema_ref"], data_name=row["data_name"],
                     version_timestamp=row["version_timestamp"])
