"""``uow.data``: records and data objects (metadata-only dicts and arrays with attrs)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from signalstore_es.api import records as rows
from signalstore_es.api.audit import record_history
from signalstore_es.api.context import CallLog, WorkContext, public_view
from signalstore_es.api.loading import load_row
from signalstore_es.api.staging import THIS_COMMIT, Generation, StagedRecordAdd, StagedRecordChange
from signalstore_es.api.time_travel import context_at, require_writable
from signalstore_es.domain.events import BlobRef, RecordRemoved, RecordRestored
from signalstore_es.domain.keys import RecordKey, check_data_name, check_schema_name
from signalstore_es.domain.query import apply_projection, check_filter, check_limit, check_sort
from signalstore_es.domain.time import require_aware, utc_now_ms
from signalstore_es.domain.validation import check_record
from signalstore_es.domain.values import normalize_document, normalize_value
from signalstore_es.errors import AlreadyExistsError, ArgumentTypeError, NotFoundError, ValidationError

calls = CallLog(__name__)

#: fields the store sets; accepted on input (e.g. re-adding an object read from a store) and ignored
STORE_FIELDS = ("time_of_save", "time_of_removal")
KEY_FIELDS = ("schema_ref", "data_name", "version_timestamp", "has_file")


class DataRepository:
    """Records are validated against their data model and the vocabulary when added."""

    def __init__(self, context: WorkContext, lookup_model: Any) -> None:
        self._context = context
        self._lookup_model = lookup_model

    # -- writes ------------------------------------------------------------------------------
    def add(self, obj: Any, versioning_on: bool = False, data_adapter: Any = None,
            attrs: Mapping[str, Any] | None = None) -> RecordKey:
        """Validate and stage a record (a dict) or a data object (its ``attrs`` are the record).

        The object's data are written to a content-addressed blob now; the record is stored
        when the unit of work commits. The caller's object is never modified.

        Parameters
        ----------
        obj
            A ``dict`` (a metadata-only record, unless ``data_adapter`` is given) or an object
            with ``.attrs`` such as an ``xarray.DataArray``.
        versioning_on
            Keep every version: the record's ``version_timestamp`` becomes the commit's UTC
            time (ms precision). Otherwise the record's own ``version_timestamp`` (0 if absent).
        data_adapter
            An adapter (or adapter name) to store the data with, instead of the default.
        attrs
            The record of an object that has no ``.attrs`` (a NumPy array, a state dict); when
            given, ``obj`` is always stored as data and this replaces its own attrs.

        Returns
        -------
        RecordKey
            The staged key (for ``versioning_on`` its version is fixed at commit).

        Raises
        ------
        ValidationError, AlreadyExistsError, StorageError
        """
        require_writable(self._context)
        if not isinstance(versioning_on, bool):
            raise ArgumentTypeError(f"versioning_on must be a bool, got {versioning_on!r}")
        with calls.call("data.add", self._context) as extra:
            payload, source = _split(obj, data_adapter, attrs, self._context.registry)
            record = normalize_document(source, where="record")
            if payload is not None:
                record = _decode_data_refs(record)
            key = _key_of(record, versioning_on)
            if calls.enabled():
                extra["key"] = key.describe()
            self._check_new(key, versioning_on)
            has_file = payload is not None
            fields = _own_fields(record, key, has_file=has_file)
            check_record({**fields, "schema_ref": key.schema_ref, "data_name": key.data_name,
                          "version_timestamp": key.version_timestamp, "has_file": has_file,
                          "time_of_save": utc_now_ms()}, self._lookup_model)
            blob = self._write_blob(payload, data_adapter, extra) if has_file else None
            staged = StagedRecordAdd(key=key, record=fields, blob=blob, is_stamped_at_commit=versioning_on)
            staging = self._context.staging
            staging.stage(staged)
            staging.live[key] = Generation(generation=THIS_COMMIT, added=staged)  # row built if read
            return key

    def remove(self, schema_ref: str, data_name: str, version_timestamp: Any = 0) -> None:
        """Soft-delete the live record with exactly this key (restorable until purged)."""
        require_writable(self._context)
        key = RecordKey.checked(schema_ref, data_name, version_timestamp)
        with calls.call("data.remove", self._context, key=key.describe()):
            current = _live_generation(self._context, key)
            if current is None:
                raise NotFoundError(f"record {key.describe()} does not exist (or is already removed)",
                                    key=key)
            staging = self._context.staging
            staging.stage(StagedRecordChange(kind=RecordRemoved, key=key, generation=current.generation,
                                             added=current.added))
            staging.live[key] = None
            staging.removed.setdefault(key, []).append(current)

    def restore(self, schema_ref: str, data_name: str, version_timestamp: Any = 0) -> None:
        """Bring back the most recently removed generation of this key."""
        require_writable(self._context)
        key = RecordKey.checked(schema_ref, data_name, version_timestamp)
        with calls.call("data.restore", self._context, key=key.describe()):
            if _live_generation(self._context, key) is not None:
                raise AlreadyExistsError(f"record {key.describe()} is live; nothing to restore", key=key)
            staging = self._context.staging
            removed_here = staging.removed.get(key)
            target = removed_here.pop() if removed_here else _newest_committed_removal(self._context, key)
            if target is None:
                raise NotFoundError(f"record {key.describe()} was never removed, or was purged", key=key)
            staging.stage(StagedRecordChange(kind=RecordRestored, key=key, generation=target.generation,
                                             added=target.added))
            staging.live[key] = Generation(row={**target.row, "time_of_removal": None},
                                           generation=target.generation, added=target.added)

    # -- reads -------------------------------------------------------------------------------
    def get(self, schema_ref: str, data_name: str, version_timestamp: Any = 0,
            nth_most_recent: int | None = None, as_of: Any = None, lazy: bool = False,
            verify: bool = False) -> Any:
        """The live data object (data with the record's attrs) or metadata-only record.

        ``nth_most_recent=1`` is the newest version of ``(schema_ref, data_name)``, 2 the one
        before, and so on (``version_timestamp`` is then ignored). ``as_of`` (a commit seq or
        an aware datetime) reads the store as it was then. ``lazy=True`` opens Zarr and netCDF
        blobs as dask-backed arrays without reading the data; ``verify=True`` first checks the
        stored bytes against the digest recorded at commit (``IntegrityError`` if they differ).
        Returns None if there is no such live record.
        """
        _require_bools(lazy=lazy, verify=verify)
        with calls.call("data.get", self._context, schema_ref=schema_ref, data_name=data_name,
                        as_of=as_of):
            context = context_at(self._context, as_of)
            row = self._find_row(context, schema_ref, data_name, version_timestamp, nth_most_recent)
            return None if row is None else load_row(context, row, lazy=lazy, verify=verify)

    def exists(self, schema_ref: str, data_name: str, version_timestamp: Any = 0,
               as_of: Any = None) -> bool:
        """Whether a live record with exactly this key exists (now, or ``as_of``)."""
        key = RecordKey.checked(schema_ref, data_name, version_timestamp)
        with calls.call("data.exists", self._context, key=key.describe(), as_of=as_of):
            return _live(context_at(self._context, as_of), key) is not None

    def find(self, filter: Mapping[str, Any] | None = None,
             projection: Mapping[str, Any] | None = None,
             sort: Sequence[Any] | None = None, limit: int | None = None,
             get_data: bool = False, as_of: Any = None, lazy: bool = False) -> list[Any]:
        """Live committed records matching a MongoDB-syntax ``filter``.

        With ``get_data=True`` each result is the data object (or the record, for
        metadata-only records). Changes staged in this unit of work are not visible to
        ``find`` until they are committed (``get`` and ``exists`` do see them). ``as_of`` (a
        commit seq or an aware datetime) queries the store as it was then.
        """
        checked = check_filter(filter)
        limit = check_limit(limit)
        sort = check_sort(sort) if sort is not None else None
        _require_bools(get_data=get_data, lazy=lazy)
        if get_data and projection is not None:
            raise ValidationError("projection cannot be combined with get_data=True")
        with calls.call("data.find", self._context, as_of=as_of) as extra:
            context = context_at(self._context, as_of)
            found = context.backend.find_rows(
                rows.VIEW, {"$and": [checked, rows.LIVE]} if checked else rows.LIVE,
                as_of=context.as_of, sort=sort, limit=limit)
            extra["count"] = len(found)
            if get_data:
                return [load_row(context, row, lazy=lazy) for row in found]
            return [public_view(apply_projection(row, projection)) for row in found]

    def list_marked_for_deletion(self, time_threshold: Any = None, as_of: Any = None) -> list[dict[str, Any]]:
        """Removed (not purged) records, oldest removal first; with a threshold, only those
        removed strictly before it."""
        condition: dict[str, Any] = {"$ne": None}
        if time_threshold is not None:
            condition["$lt"] = require_aware(_datetime_arg(time_threshold), argument="time_threshold")
        with calls.call("data.list_marked_for_deletion", self._context):
            context = context_at(self._context, as_of)
            found = context.backend.find_rows(rows.VIEW, {"time_of_removal": condition}, as_of=context.as_of)
            return [public_view(r) for r in sorted(found, key=lambda r: r["time_of_removal"])]

    def history(self, schema_ref: str, data_name: str, version_timestamp: Any = None) -> list[dict[str, Any]]:
        """Every committed event that touched this record (all its versions when
        ``version_timestamp`` is None), oldest first, with ``seq``, ``commit_id``,
        ``committed_at``, ``actor``, ``message``, ``event_type`` and the blob ``address``."""
        with calls.call("data.history", self._context, schema_ref=schema_ref, data_name=data_name):
            return record_history(self._context, schema_ref, data_name, version_timestamp)

    # -- helpers -----------------------------------------------------------------------------
    def _find_row(self, context: WorkContext, schema_ref: Any, data_name: Any, version_timestamp: Any,
                  nth_most_recent: int | None) -> dict[str, Any] | None:
        if nth_most_recent is None:
            return _live(context, RecordKey.checked(schema_ref, data_name, version_timestamp))
        if isinstance(nth_most_recent, bool) or not isinstance(nth_most_recent, int):
            raise ArgumentTypeError(f"nth_most_recent must be an int >= 1, got {nth_most_recent!r}")
        if nth_most_recent < 1:
            raise ValidationError(f"nth_most_recent={nth_most_recent}: 1 is the newest version")
        versions = _versions(context, check_schema_name(schema_ref, argument="schema_ref"),
                             check_data_name(data_name))
        return versions[nth_most_recent - 1] if nth_most_recent <= len(versions) else None

    def _check_new(self, key: RecordKey, versioning_on: bool) -> None:
        staging = self._context.staging
        if versioning_on and any(s.key.schema_ref == key.schema_ref and s.key.data_name == key.data_name
                                 and s.is_stamped_at_commit for s in staging.staged_adds()):
            raise AlreadyExistsError(
                f"a version of ({key.schema_ref!r}, {key.data_name!r}) is already staged in this unit "
                "of work; versions are stamped with the commit time, so commit before adding another",
                key=key)
        if not versioning_on and _live(self._context, key) is not None:
            raise AlreadyExistsError(f"record {key.describe()} already exists; add it with "
                                     "versioning_on=True to keep both versions.", key=key)

    def _write_blob(self, payload: Any, data_adapter: Any, extra: dict[str, Any]) -> BlobRef:
        adapter = self._context.registry.for_object(payload, data_adapter)
        written = self._context.blobs.put(payload, adapter)
        extra["address"] = written.address
        return BlobRef(address=written.address, adapter=adapter.name, file_format=adapter.file_format,
                       extension=adapter.extension, size=written.size, shape=written.shape,
                       dtype=written.dtype, file_digest=written.file_digest)


def _versions(context: WorkContext, schema_ref: str, data_name: str) -> list[dict[str, Any]]:
    """Live versions of a name, newest first, as this unit of work sees them."""
    overridden = {k: g for k, g in context.staging.live.items()
                  if (k.schema_ref, k.data_name) == (schema_ref, data_name)}
    committed = [r for r in rows.live_versions(context, schema_ref, data_name)
                 if rows.key_of_row(r) not in overridden]
    staged = [g.row for g in overridden.values() if g is not None]
    return sorted(staged + committed, key=rows.version_order, reverse=True)


def _live_generation(context: WorkContext, key: RecordKey) -> Generation | None:
    """The live generation of ``key``, seen through what this unit of work has staged."""
    if key in context.staging.live:
        return context.staging.live[key]
    row = rows.live_row(context, key)
    return None if row is None else Generation(row=row, generation=rows.generation_of(row))


def _live(context: WorkContext, key: RecordKey) -> dict[str, Any] | None:
    found = _live_generation(context, key)
    return None if found is None else found.row


def _newest_committed_removal(context: WorkContext, key: RecordKey) -> Generation | None:
    removed = rows.removed_rows(context, key)
    return Generation(row=removed[0], generation=rows.generation_of(removed[0])) if removed else None


def _split(obj: Any, data_adapter: Any, attrs: Mapping[str, Any] | None,
           registry: Any) -> tuple[Any, Mapping[str, Any]]:
    """(payload or None, record source) of an object given to ``add``.

    A mapping is a metadata-only record unless an adapter is named, ``attrs=`` is given, or a
    registered adapter stores that type (an ``xarray.Dataset`` is a mapping too). ``attrs=``
    replaces the object's own attrs as its record.
    """
    if attrs is not None:
        if not isinstance(attrs, Mapping):
            raise ArgumentTypeError(f"attrs must be a dict holding the record, got {type(attrs).__name__}")
        registry.for_object(obj, data_adapter)  # refuses objects no adapter can store
        return obj, attrs
    if isinstance(obj, Mapping) and data_adapter is None and not registry.stores(obj):
        return None, obj
    if not (isinstance(obj, Mapping) or hasattr(obj, "attrs") or registry.stores(obj)):
        raise ArgumentTypeError(
            f"cannot add a {type(obj).__name__}: pass a dict (a metadata-only record), an object "
            "with .attrs holding its record (xarray, pandas), or data with attrs={...}")
    record = registry.for_object(obj, data_adapter).record_attrs(obj)
    if not record:
        raise ArgumentTypeError(
            f"cannot add a {type(obj).__name__} without a record: it carries no attrs, so pass "
            "attrs={'schema_ref': ..., 'data_name': ...}")
    return obj, record


def _require_bools(**flags: Any) -> None:
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ArgumentTypeError(f"{name} must be True or False, got {value!r}")


def _decode_data_refs(record: dict[str, Any]) -> dict[str, Any]:
    """Data refs stored in a file's attrs come back as JSON text (netCDF attributes cannot
    hold mappings, so SignalStore wrote them as JSON): decode those, and only those."""
    decoded = dict(record)
    for name, value in record.items():
        if name.endswith("_data_ref") and isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                decoded[name] = normalize_value(json.loads(value), where=f"record[{name!r}]")
            except json.JSONDecodeError:
                pass  # left as text: validation reports that a data ref must be an object
    return decoded


def _key_of(record: Mapping[str, Any], versioning_on: bool) -> RecordKey:
    for field in ("schema_ref", "data_name"):
        if field not in record:
            raise ValidationError(f"record has no {field!r}; every record needs schema_ref and data_name")
    version = utc_now_ms() if versioning_on else record.get("version_timestamp", 0)
    return RecordKey.checked(record["schema_ref"], record["data_name"], version)


#: fields a staged add does not keep: the key (kept as the event's key), has_file (implied by
#: the blob) and the fields the store sets
_NOT_OWN_FIELDS = frozenset(STORE_FIELDS + KEY_FIELDS)


def _own_fields(record: dict[str, Any], key: RecordKey, *, has_file: bool) -> dict[str, Any]:
    """The record's own fields, after checking that its has_file fits what was given."""
    if "has_file" in record and record["has_file"] is not has_file:
        raise ValidationError(
            f"record {key.describe()} says has_file={record['has_file']!r} but "
            f"{'a data object' if has_file else 'a metadata-only dict'} was given")
    return {k: v for k, v in record.items() if k not in _NOT_OWN_FIELDS}


def _datetime_arg(value: Any) -> Any:
    from datetime import datetime

    if not isinstance(value, datetime):
        raise ArgumentTypeError(f"time_threshold must be an aware datetime, got {value!r}")
    return value
