"""Turning a record row into what ``get`` returns: the data object or the record."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from projections.records import BLOB_FIELD, KEY_FIELD
from signalstore_es.api.context import WorkContext, public_view
from signalstore_es.api.staging import StagedRecordAdd
from signalstore_es.domain.codec import BSON_CODEC
from signalstore_es.errors import (
    ArgumentTypeError,
    IntegrityError,
    NotFoundError,
    PurgedError,
    StorageError,
)

_RESTORE_HINT = "restore it from a backup ('signalstore-es verify' lists every damaged blob)"


def staged_row(staged: StagedRecordAdd) -> dict[str, Any]:
    """A row for a record added in this unit of work (not yet committed: no time_of_save)."""
    key = staged.key
    return {**staged.record, "schema_ref": key.schema_ref, "data_name": key.data_name,
            "version_timestamp": key.version_timestamp, "has_file": staged.blob is not None,
            "time_of_save": None, "time_of_removal": None, KEY_FIELD: key.as_string(),
            BLOB_FIELD: None if staged.blob is None else BSON_CODEC.blob_to_document(staged.blob)}


def load_row(context: WorkContext, row: dict[str, Any], *, lazy: bool = False, verify: bool = False) -> Any:
    """The data object of ``row`` carrying the record as attrs, or the record itself.

    Raises
    ------
    IntegrityError
        If the loaded object's shape or dtype contradicts the blob reference its commit
        recorded (a substituted blob), if the blob cannot be decoded because its bytes changed
        since the commit, or (``verify=True``) if its bytes differ from those committed.
    PurgedError, NotFoundError, StorageError
        If the bytes were purged, are missing, or the filesystem fails.
    """
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
    except StorageError as err:
        if not verify:  # with verify the bytes were just found intact: a real storage fault
            _refuse_if_damaged(context, blob, err)
        raise
    _check_against_reference(obj, blob, record)
    return adapter.attach_attrs(obj, record)


def _refuse_if_damaged(context: WorkContext, blob: dict[str, Any], err: StorageError) -> None:
    """Diagnose a failed load: IntegrityError if the bytes changed since the commit.

    Only runs after a failure, so a plain ``get`` pays nothing for it. A decoder can fail on
    damaged bytes with any exception, which the blob store reports as a StorageError; the
    digest recorded at commit tells damage apart from a failing filesystem.
    """
    try:
        _check_stored_bytes(context, blob, failure=str(err))
    except StorageError:
        return  # the filesystem fails for the check too: the original error says it best


def _check_stored_bytes(context: WorkContext, blob: dict[str, Any], failure: str = "") -> None:
    expected = blob.get("file_digest") or ""
    if not expected or not context.blobs.exists(blob["address"], blob["extension"]):
        return  # nothing to compare with, or gone: the load reports missing or purged bytes
    actual = context.blobs.file_digest(blob["address"], blob["extension"])  # type: ignore[attr-defined]
    if actual != expected:
        reading = f" Loading it failed with: {failure}" if failure else ""
        raise IntegrityError(
            f"blob {blob['address']} is damaged on storage: its bytes hash to {actual}, not to the "
            f"{expected} recorded when it was committed; {_RESTORE_HINT}.{reading}")


def _check_against_reference(obj: Any, blob: dict[str, Any], record: dict[str, Any]) -> None:
    """Refuse an object whose shape or dtype contradicts the blob reference of its commit.

    A valid blob of other content put in place of the committed one loads without error;
    only its metadata can betray it. Shape and dtype are metadata of the loaded object (no
    data are read, a dask-backed object stays lazy), so this costs nothing measurable.
    Nothing is compared when the reference records neither (a Dataset, a dict of tensors).
    """
    expected_shape = tuple(blob.get("shape") or ())
    expected_dtype = blob.get("dtype") or ""
    if not expected_shape and not expected_dtype:
        return
    problem = _shape_problem(obj, expected_shape) or _dtype_problem(obj, expected_dtype)
    if problem is not None:
        raise IntegrityError(
            f"blob {blob['address']} does not match record ({record.get('schema_ref')!r}, "
            f"{record.get('data_name')!r}): {problem}. The blob was replaced or damaged on "
            f"storage; {_RESTORE_HINT}")


def _shape_problem(obj: Any, expected: tuple[Any, ...]) -> str | None:
    shape = getattr(obj, "shape", None)
    if shape is None:
        return f"it has no shape, where its commit recorded {expected}" if expected else None
    dims = tuple(shape)
    if not all(isinstance(n, numbers.Integral) for n in dims):
        return None  # a lazy frame of unknown length: nothing to compare without computing it
    actual = tuple(int(n) for n in dims)
    if actual != tuple(int(n) for n in expected):
        return f"it has shape {actual}, where its commit recorded {tuple(expected)}"
    return None


def _dtype_problem(obj: Any, expected: str) -> str | None:
    actual = getattr(obj, "dtype", None)
    if not expected or actual is None:
        return None
    try:
        wanted, found = np.dtype(expected), np.dtype(actual)
    except (TypeError, ValueError, SyntaxError):
        return None  # a dtype NumPy cannot parse back from its name: nothing reliable to compare
    # byte order is a storage detail (formats store little-endian; dedup records the input's)
    if wanted.newbyteorder("=") != found.newbyteorder("="):
        return f"it has dtype {found}, where its commit recorded {wanted}"
    return None
