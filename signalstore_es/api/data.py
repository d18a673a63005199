"""``uow.data``: records and data objects (metadata-only dicts and arrays with attrs)."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from signalstore_es._bulk import paused_gc
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
from signalstore_es.errors import (
    AlreadyExistsError,
    ArgumentTypeError,
    NotFoundError,
    SignalStoreError,
    ValidationError,
)

calls = CallLog(__name__)

#: fields the store sets; accepted on input (e.g. re-adding an object read from a store) and ignored
STORE_FIELDS = ("time_of_save", "time_of_removal")
KEY_FIELDS = ("schema_ref", "data_name", "version_timestamp", "has_file")


class DataRepository:
    """Records are validated against their data model and the vocabulary when added."""

    def __init__(self, context: WorkContext, lookup_model: Any) -> None:
        self._context = context
        self._lookup_model = lookup_model
        self._stamped: set[tuple[str, str]] = set()  #: see _stamped_names
        self._scanned = 0  #: staged operations already looked at by _stamped_names

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
        _require_versioning_flag(versioning_on)
        with calls.call("data.add", self._context) as extra:
            now = utc_now_ms()
            parsed = _parse(obj, self._context.registry, versioning_on=versioning_on, now=now,
                            data_adapter=data_adapter, attrs=attrs)
            if calls.enabled():
                extra["key"] = parsed.key.describe()
            self._gate(versioning_on).require_new(parsed.key)
            staged = self._staged_add(parsed, versioning_on, data_adapter, now)
            if staged.blob is not None:
                extra["address"] = staged.blob.address
            self._stage(staged)
            return staged.key

    def add_many(self, objects: Iterable[Any], versioning_on: bool = False) -> list[RecordKey]:
        """Validate and stage a batch of records and data objects, all or nothing.

        The batch equivalent of calling :meth:`add` on each object in order, only faster: the
        keys are checked against the committed view with one query per few hundred keys
        instead of one per object, and the clock is read once per batch.

        - Each object is what ``add`` accepts without its keyword options: a ``dict`` (a
          metadata-only record) or a data object with ``.attrs`` (stored with the default
          adapter). Each is validated as ``add`` validates it and gets the key ``add`` would
          give it, with the same errors.
        - **All or nothing**: if any object fails, nothing of the batch is staged (the unit
          of work is as it was before the call) and the error - the one the first failing
          ``add`` of the loop would raise, of the same class - names the object: its index in
          the batch and, once known, its key. A key repeated within the batch fails like a
          second ``add`` of it (``AlreadyExistsError``), with or without ``versioning_on``.
        - With ``versioning_on`` every record's version is the commit's time, as with ``add``;
          the placeholder version of the returned keys is the time of the call.
        - Data objects write their blobs while the batch is checked, as ``add`` does. Blobs
          written for objects before a failing one stay unreferenced, exactly like the blobs
          of a unit of work that is rolled back: invisible, and removed by ``provider.gc``
          after its grace period.
        - One audit log line for the call (operation ``data.add_many`` with the ``count``).

        Parameters
        ----------
        objects
            An iterable (a list, a generator) of records and data objects. A single dict or
            data object is refused: pass a list, or use :meth:`add`.
        versioning_on
            As for :meth:`add`, for every object of the batch.

        Returns
        -------
        list of RecordKey
            The staged keys, in the order of ``objects``.

        Raises
        ------
        ArgumentTypeError, ValidationError, AlreadyExistsError, StorageError
        """
        require_writable(self._context)
        _require_versioning_flag(versioning_on)
        batch = _batch_of(objects)
        # a batch allocates many small acyclic objects that stay alive: see signalstore_es._bulk
        with calls.call("data.add_many", self._context, count=len(batch)) as extra, paused_gc():
            now = utc_now_ms()
            gate = self._gate(versioning_on)
            staged: list[StagedRecordAdd] = []
            for start in range(0, len(batch), rows.KEYS_PER_QUERY):
                self._prepare_chunk(batch, start, gate, now, staged)
            extra["blobs"] = sum(1 for s in staged if s.blob is not None)
            for one in staged:  # only now: a failure above leaves the unit of work untouched
                self._stage(one)
            return [one.key for one in staged]

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

    def _prepare_chunk(self, batch: list[Any], start: int, gate: _KeyGate, now: datetime,
                       staged: list[StagedRecordAdd]) -> None:
        """Check the objects ``batch[start:start + KEYS_PER_QUERY]`` as a loop of ``add`` would,
        appending their staged adds to ``staged`` (one existence query for the chunk).

        A failure is raised for the first object whose ``add`` would fail: when parsing fails
        at one object, the objects before it are still checked to the end first."""
        parsed: list[_Parsed] = []
        failure: tuple[int, SignalStoreError] | None = None
        for index in range(start, min(start + rows.KEYS_PER_QUERY, len(batch))):
            try:
                parsed.append(_parse(batch[index], self._context.registry, versioning_on=gate.versioning_on,
                                     now=now))
            except SignalStoreError as err:
                failure = (index, err)
                break
        gate.prefetch(one.key for one in parsed)
        for index, one in enumerate(parsed, start):
            try:
                gate.require_new(one.key)
                staged.append(self._staged_add(one, gate.versioning_on, None, now))
            except SignalStoreError as err:
                _name_object(err, index, one.key)
                raise
            gate.admit(one.key)
        if failure is not None:
            failed_at, error = failure
            _name_object(error, failed_at, None)
            raise error

    def _staged_add(self, parsed: _Parsed, versioning_on: bool, data_adapter: Any,
                  now: datetime) -> StagedRecordAdd:
        """Validate a parsed object and write its blob: the add to stage (nothing staged yet)."""
        key = parsed.key
        has_file = parsed.payload is not None
        fields = _own_fields(parsed.record, key, has_file=has_file)
        check_record({**fields, "schema_ref": key.schema_ref, "data_name": key.data_name,
                      "version_timestamp": key.version_timestamp, "has_file": has_file,
                      "time_of_save": now}, self._lookup_model)
        blob = self._write_blob(parsed.payload, data_adapter) if has_file else None
        return StagedRecordAdd(key=key, record=fields, blob=blob, is_stamped_at_commit=versioning_on)

    def _stage(self, staged: StagedRecordAdd) -> None:
        staging = self._context.staging
        staging.stage(staged)
        staging.live[staged.key] = Generation(generation=THIS_COMMIT, added=staged)  # row built if read

    def _gate(self, versioning_on: bool) -> _KeyGate:
        return _KeyGate(self._context, self._stamped_names() if versioning_on else None)

    def _stamped_names(self) -> set[tuple[str, str]]:
        """``(schema_ref, data_name)`` of every staged add versioned at commit time.

        Kept up to date incrementally (staged operations are only ever appended), so a loop of
        versioned adds does not rescan everything staged before each one."""
        operations = self._context.staging.operations
        for op in itertools.islice(operations, self._scanned, None):
            if isinstance(op, StagedRecordAdd) and op.is_stamped_at_commit:
                self._stamped.add((op.key.schema_ref, op.key.data_name))
        self._scanned = len(operations)
        return self._stamped

    def _write_blob(self, payload: Any, data_adapter: Any) -> BlobRef:
        adapter = self._context.registry.for_object(payload, data_adapter)
        written = self._context.blobs.put(payload, adapter)
        return BlobRef(address=written.address, adapter=adapter.name, file_format=adapter.file_format,
                       extension=adapter.extension, size=written.size, shape=written.shape,
                       dtype=written.dtype, file_digest=written.file_digest)


class _KeyGate:
    """Whether keys may be added now, as :meth:`DataRepository.add` decides it, for one call.

    Without versioning, a key must not be live as this unit of work sees it: what it staged
    first, then the committed view. With versioning, no other commit-time version of the same
    name may be staged (both would get the commit's time). Keys admitted by this gate (earlier
    objects of one ``add_many``) count as staged; :meth:`prefetch` asks the committed view
    about many keys at once.
    """

    def __init__(self, context: WorkContext, stamped_names: set[tuple[str, str]] | None) -> None:
        self._context = context
        self.versioning_on = stamped_names is not None
        self._stamped = stamped_names or set()  #: the repository's, read only (no copy per add)
        self._admitted: set[Any] = set()  #: keys admitted by this call (names, when versioning)
        self._committed: dict[RecordKey, bool] = {}  #: prefetched: whether a live committed row exists

    def prefetch(self, keys: Iterable[RecordKey]) -> None:
        """Look up in one query per chunk the committed rows of the keys staging does not decide."""
        if self.versioning_on:
            return  # commit-time versions are new by construction
        live = self._context.staging.live
        wanted = [k for k in dict.fromkeys(keys) if k not in live and k not in self._committed]
        if wanted:
            found = rows.live_rows(self._context, wanted)
            self._committed.update((k, k in found) for k in wanted)

    def require_new(self, key: RecordKey) -> None:
        if self.versioning_on:
            name = (key.schema_ref, key.data_name)
            if name in self._stamped or name in self._admitted:
                raise AlreadyExistsError(
                    f"a version of ({key.schema_ref!r}, {key.data_name!r}) is already staged in this unit "
                    "of work; versions are stamped with the commit time, so commit before adding another",
                    key=key)
        elif self._is_live(key):
            raise AlreadyExistsError(f"record {key.describe()} already exists; add it with "
                                     "versioning_on=True to keep both versions.", key=key)

    def admit(self, key: RecordKey) -> None:
        """Count ``key`` as staged for the rest of this call."""
        self._admitted.add((key.schema_ref, key.data_name) if self.versioning_on else key)

    def _is_live(self, key: RecordKey) -> bool:
        if key in self._admitted:
            return True
        live = self._context.staging.live
        if key in live:
            return live[key] is not None
        known = self._committed.get(key)
        return rows.live_row(self._context, key) is not None if known is None else known


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


class _Parsed(NamedTuple):
    """An object given to ``add``, parsed: its data (None for a metadata-only record), its
    normalized record and its key."""

    payload: Any
    record: dict[str, Any]
    key: RecordKey


def _parse(obj: Any, registry: Any, *, versioning_on: bool, now: datetime, data_adapter: Any = None,
           attrs: Mapping[str, Any] | None = None) -> _Parsed:
    """Split, normalize and key an object given to ``add`` (``now``: the commit-time version's
    placeholder)."""
    payload, source = _split(obj, data_adapter, attrs, registry)
    record = normalize_document(source, where="record")
    if payload is not None:
        record = _decode_data_refs(record)
    return _Parsed(payload, record, _key_of(record, now if versioning_on else None))


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


def _require_versioning_flag(versioning_on: Any) -> None:
    if not isinstance(versioning_on, bool):
        raise ArgumentTypeError(f"versioning_on must be a bool, got {versioning_on!r}")


def _batch_of(objects: Any) -> list[Any]:
    """The objects of an ``add_many`` batch as a list; one object on its own is refused, as
    iterating it would add its keys or elements."""
    if isinstance(objects, (Mapping, str, bytes)) or hasattr(objects, "attrs"):
        raise ArgumentTypeError(f"add_many takes an iterable of objects (e.g. a list of dicts), got a "
                                f"single {type(objects).__name__}; pass [obj], or use add(obj)")
    try:
        iterator = iter(objects)
    except TypeError:
        raise ArgumentTypeError(f"add_many takes an iterable of objects (e.g. a list of dicts), got "
                                f"{type(objects).__name__}") from None
    return list(iterator)


def _name_object(err: SignalStoreError, index: int, key: RecordKey | None) -> None:
    """Make ``err``'s message name the batch object it is about (and set ``batch_index``)."""
    where = f"add_many object [{index}]" + ("" if key is None else f" {key.describe()}")
    suffix = "; nothing of the batch was staged"
    if len(err.args) == 1 and isinstance(err.args[0], str):
        err.args = (f"{where}: {err.args[0]}{suffix}",)
    else:
        err.add_note(where + suffix)
    err.batch_index = index  # type: ignore[attr-defined]


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
            # text that is not JSON stays text: validation reports that a data ref must be an object
            with contextlib.suppress(json.JSONDecodeError):
                decoded[name] = normalize_value(json.loads(value), where=f"record[{name!r}]")
    return decoded


def _key_of(record: Mapping[str, Any], stamp: datetime | None) -> RecordKey:
    """The record's key; ``stamp`` (versioning on) replaces its own version_timestamp."""
    for field in ("schema_ref", "data_name"):
        if field not in record:
            raise ValidationError(f"record has no {field!r}; every record needs schema_ref and data_name")
    version = stamp if stamp is not None else record.get("version_timestamp", 0)
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
