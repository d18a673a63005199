"""Turning a record row into what ``get`` returns: the data object or the record."""

from __future__ import annotations

from typing import Any

from projections.records import BLOB_FIELD, KEY_FIELD
from signalstore_es.api.context import WorkContext, public_view
from signalstore_es.api.staging import StagedRecordAdd
from signalstore_es.domain.codec import BSON_CODEC
from signalstore_es.errors import ArgumentTypeError, IntegrityError, NotFoundError, PurgedError


def staged_row(staged: StagedRecordAdd) -> dict[str, Any]:
    """A row for a record added in this unit of work (not yet committed: no time_of_save)."""
    key = staged.key
    return {**staged.record, "schema_ref": key.schema_ref, "data_name": key.data_name,
            "version_timestamp": key.version_timestamp, "has_file": staged.blob is not None,
            "time_of_save": None, "time_of_removal": None, KEY_FIELD: key.as_string(),
            BLOB_FIELD: None if staged.blob is None else BSON_CODEC.blob_to_document(staged.blob)}


def load_row(context: WorkContext, row: dict[str, Any], *, lazy: bool = False, verify: bool = False) -> Any:
    """The data object of ``row`` carrying the record as attrs, or the record itself."""
    record = public_view(row)
    blob = row.get(BLOB_FIELD)
    if blob is None:
        return record
    if not isinstance(lazy, bool) or not isinstance(verify, bool):
        raise ArgumentTypeError(f"lazy and verify must be bools, got {lazy!r} and {verify!r}")
    adapter = context.registry.by_name(blob["adapter"])
    try:
        if verify:
            _check_stored_bytes(context, blob)
        obj = context.blobs.get(blob["address"], blob["extension"], adapter, lazy=lazy)
    except NotFoundError:
        if context.backend.find_rows("purged_blobs", {"address": blob["address"]}, limit=1):
            raise PurgedError(
                f"the data of record ({record['schema_ref']!r}, {record['data_name']!r}) were purged "
                f"(blob {blob['address']}); its history is kept, its bytes are gone",
                key=row.get(KEY_FIELD), address=blob["address"]) from None
        raise
    return adapter.attach_attrs(obj, record)


def _check_stored_bytes(context: WorkContext, blob: dict[str, Any]) -> None:
    expected = blob.get("file_digest") or ""
    if not expected or not context.blobs.exists(blob["address"], blob["extension"]):
        return  # nothing to compare with, or gone: the load reports missing or purged bytes
    actual = context.blobs.file_digest(blob["address"], blob["extension"])  # type: ignore[attr-defined]
    if actual != expected:
        raise IntegrityError(
            f"blob {blob['address']} is damaged on storage: its bytes hash to {actual}, not to the "
            f"{expected} recorded when it was committed; restore it from a backup ('signalstore-es "
            "verify' lists every damaged blob)")
