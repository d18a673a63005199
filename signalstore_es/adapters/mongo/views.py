"""Views as MongoDB collections: the runner's view writer, view indexes and view queries.

Current rows are ``{_id: row_id, **document, _pos: [seq, index]}``; history rows are
``{_id: "<row_id>@<seq>:<index>", _row: row_id, _from_seq, _to_seq, **document}``, valid
for ``_from_seq <= s < _to_seq`` (``_to_seq`` null while current). A deleted row leaves a
tombstone ``{_id: row_id, _pos, _deleted: true}`` that queries skip: without it, a slower
process catching up at the same time could write the row again after it was deleted.

:class:`MongoViewWriter` buffers the changes of one commit per view and writes them when the
runner sets that view's checkpoint, with few round trips: new rows with ``insert_many``,
changed rows with one ``bulk_write`` per collection (in small bulks on FerretDB, see
:data:`BULK_SIZE`). Every write is idempotent (deterministic ids; an existing
history row only ever gets its ``_to_seq`` set) and a current row is only replaced if it
still holds the position it was read at (a new one: if no row is there yet), so a runner
that died half-way, or two processes catching up at once, leave the rows of one clean run.

Checkpoints cost one round trip per projection, not two per view and commit: the writer
starts from the checkpoints the backend has just read (``known_checkpoints``), and the
checkpoints the runner sets are kept in memory and written together by
:meth:`MongoViewWriter.save_checkpoints`, which the backend calls after ``runner.apply``
(and the writer itself every :data:`CHECKPOINT_EVERY` commits of a long catch-up). A view's
rows are always written before its checkpoint is, so a checkpoint never claims rows that
are not there; a checkpoint saved late only means that a crash repeats some idempotent work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs
from pymongo import ReplaceOne, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from projections.protocol import EventContext, Projector
from projections.runner import RowPosition
from signalstore_es.adapters.mongo.schema import CHECKPOINTS, versions_name
from signalstore_es.domain.commits import Commit
from signalstore_es.ports.storage import SortSpec

Document = dict[str, Any]
RowState = tuple[Document | None, RowPosition | None]

#: fields the backend adds to view documents, removed from what queries return
INTERNAL_FIELDS = ("_id", "_pos", "_row", "_from_seq", "_to_seq")
_HIDDEN = dict.fromkeys(INTERNAL_FIELDS, 0)
TOMBSTONE_FIELD = "_deleted"
_LIVE = {TOMBSTONE_FIELD: {"$ne": True}}
_DUPLICATE_KEY = 11000
#: statements per update command on FerretDB 1.x, which handles a multi-statement update in
#: time quadratic in its size (100 statements take minutes); MongoDB gets each collection's
#: changes of a commit in one ``bulk_write`` (pymongo splits it at the server's limits)
BULK_SIZE = 20
#: ids per prefetch query, and their total size: FerretDB 1.x scans the whole view for every
#: ``$in`` query (one query of 10,000 ids over 10,000 rows took a quarter of the time of ten
#: queries of 1,000), MongoDB takes 10,000 ids in stride, and the size bound keeps long ids
#: far below the 16 MiB command limit
_PREFETCH_BATCH = 10_000
_PREFETCH_BYTES = 4 * 1024 * 1024
#: during a long catch-up or rebuild, checkpoints are saved at least this often (in commits),
#: which bounds the work a crash makes the next catch-up repeat
CHECKPOINT_EVERY = 100

def find_rows(db: Database[Document], view: str, filter: Mapping[str, Any], *, as_of: int | None,
              sort: SortSpec | None, limit: int | None) -> list[Document]:
    """Rows of ``view`` (or of its history, valid at seq ``as_of``) matching ``filter``."""
    if as_of is None:
        # merged at top level rather than with $and, which keeps FerretDB's SQL pushdown
        live = {**filter, **_LIVE} if TOMBSTONE_FIELD not in filter else {"$and": [dict(filter), _LIVE]}
        collection, query = db[view], live
    else:
        valid = [{"_from_seq": {"$lte": as_of}}, {"$or": [{"_to_seq": None}, {"_to_seq": {"$gt": as_of}}]}]
        collection, query = db[versions_name(view)], {"$and": [dict(filter), *valid]}
    cursor = collection.find(query, projection=_HIDDEN)
    if sort:
        cursor = cursor.sort(list(sort))
    if limit:
        cursor = cursor.limit(limit)
    return list(cursor)


def _state(stored: Document | None) -> RowState:
    if stored is None:
        return None, None
    position = RowPosition(*stored["_pos"])
    if stored.get(TOMBSTONE_FIELD):
        return None, position
    return {k: v for k, v in stored.items() if k not in ("_id", "_pos")}, position


def _history_id(row_id: str, position: RowPosition) -> str:
    return f"{row_id}@{position.seq}:{position.index}"


@attrs.define
class _Pending:
    """The changes of one view since its last checkpoint."""

    #: final state of each changed row (document None: deleted)
    rows: dict[str, tuple[Document | None, RowPosition]] = attrs.Factory(dict)
    stored: dict[str, RowPosition | None] = attrs.Factory(dict)  #: its position in the db
    history: dict[str, Document] = attrs.Factory(dict)  #: new history rows by id
    closes: dict[str, int] = attrs.Factory(dict)  #: stored history row id -> its new _to_seq


class MongoViewWriter:
    """Implements :class:`projections.runner.ViewWriter` on one database.

    The checkpoints the runner sets are written by :meth:`save_checkpoints`: call it once
    ``runner.apply`` returns (until then they are only saved every CHECKPOINT_EVERY commits).
    """

    def __init__(self, db: Database[Document], known_checkpoints: Mapping[str, int] | None = None,
                 bulk_size: int | None = BULK_SIZE) -> None:
        """``known_checkpoints``: checkpoints the caller has just read from the database, by
        view (a view left out is read when the runner asks for it). ``bulk_size``: statements
        per update command (None: all of a collection's changes in one ``bulk_write``)."""
        self._db = db
        self._bulk_size = bulk_size
        self._pending: dict[str, _Pending] = {}
        self._known: dict[str, dict[str, RowState]] = {}  #: rows read from the db
        self._checkpoints: dict[str, int] = {}  #: applied through, by view (as the runner set it)
        self._stored_checkpoints: dict[str, int] = dict(known_checkpoints or {})  #: as in the db
        self._unsaved: dict[str, int] = {}  #: checkpoints set but not yet written, by view

    # -- prefetching: one query per view and commit instead of one per event -----------------
    def feed(self, commits: Iterable[Commit], projectors: Sequence[Projector]) -> Iterator[Commit]:
        """Yield ``commits``, first loading the rows each will touch in one query per view.

        When the runner asks for a commit it is done with the previous one, so this is also
        where a long replay saves its checkpoints every :data:`CHECKPOINT_EVERY` commits.
        """
        for count, commit in enumerate(commits):
            if count and count % CHECKPOINT_EVERY == 0:
                self.save_checkpoints()
            for projector in projectors:
                if self._checkpoints.get(projector.view, 0) < commit.seq:
                    self._prefetch(projector.view, _row_ids(projector, commit))
            yield commit

    def _prefetch(self, view: str, row_ids: set[str]) -> None:
        known = self._known.setdefault(view, {})
        pending = self._pending.get(view, _Pending())
        missing = sorted(r for r in row_ids if r not in known and r not in pending.rows)
        for batch in _batches(missing):
            found = {d["_id"]: d for d in self._db[view].find(_ids_filter(batch))}
            known.update((row_id, _state(found.get(row_id))) for row_id in batch)

    # -- the ViewWriter protocol ----------------------------------------------------------------
    def read_row(self, view: str, row_id: str) -> RowState:
        pending = self._pending.get(view)
        if pending is not None and row_id in pending.rows:
            return pending.rows[row_id]
        known = self._known.setdefault(view, {})
        if row_id not in known:
            known[row_id] = _state(self._db[view].find_one({"_id": row_id}))
        return known[row_id]

    def write_row(self, view: str, row_id: str, document: Document | None,
                  position: RowPosition) -> None:
        before, previous = self.read_row(view, row_id)
        pending = self._pending.setdefault(view, _Pending())
        if row_id not in pending.rows:
            pending.stored[row_id] = previous  # what the db holds, for the guarded write
        if before is not None and previous is not None:
            closed = _history_id(row_id, previous)
            if closed in pending.history:
                pending.history[closed]["_to_seq"] = position.seq
            else:
                pending.closes[closed] = position.seq
        pending.rows[row_id] = (document, position)  # None: a tombstone
        if document is None:
            return
        opened = _history_id(row_id, position)
        pending.history[opened] = {"_id": opened, "_row": row_id, "_from_seq": position.seq,
                                   "_to_seq": None, **document}

    def checkpoint(self, view: str) -> int:
        if view not in self._stored_checkpoints:
            found = self._db[CHECKPOINTS].find_one({"_id": view})
            self._stored_checkpoints[view] = int(found["seq"]) if found else 0
        self._checkpoints[view] = self._stored_checkpoints[view]
        return self._checkpoints[view]

    def set_checkpoint(self, view: str, seq: int) -> None:
        """Write the view's pending rows now; its checkpoint waits for :meth:`save_checkpoints`."""
        pending = self._pending.pop(view, None)
        if pending is not None:
            self._flush(view, pending)
        self._known.pop(view, None)  # the next commit prefetches fresh rows
        self._unsaved[view] = seq
        self._checkpoints[view] = seq

    def save_checkpoints(self) -> None:
        """Write every checkpoint set since the last save, in one ``bulk_write``."""
        if not self._unsaved:
            return
        # $max: a slower process catching up at the same time never moves one backwards
        updates = [UpdateOne({"_id": view}, {"$max": {"seq": seq}}, upsert=True)
                   for view, seq in self._unsaved.items()]
        try:
            self._db[CHECKPOINTS].bulk_write(updates, ordered=False)
        except BulkWriteError as err:
            # two upserts of a missing checkpoint racing: the loser's document now exists,
            # so its $max applies normally the second time
            if any(e.get("code") != _DUPLICATE_KEY for e in err.details.get("writeErrors", [])):
                raise
            self._db[CHECKPOINTS].bulk_write([updates[e["index"]] for e in err.details["writeErrors"]],
                                             ordered=False)
        self._stored_checkpoints.update(self._unsaved)
        self._unsaved.clear()

    # -- writing a view's pending changes ----------------------------------------------------------
    def _flush(self, view: str, pending: _Pending) -> None:
        history = self._db[versions_name(view)]
        _insert_then_fix(history, list(pending.history.values()), _close_if_closed, self._bulk_size)
        _bulk(history, [UpdateOne({"_id": hid}, {"$set": {"_to_seq": to}})
                        for hid, to in pending.closes.items()], self._bulk_size)
        inserts: list[Document] = []
        changes: list[Any] = []
        for row_id, (document, position) in pending.rows.items():
            content = {TOMBSTONE_FIELD: True} if document is None else document
            row = {"_id": row_id, **content, "_pos": [position.seq, position.index]}
            stored = pending.stored[row_id]
            if stored is None:
                inserts.append(row)
            else:
                changes.append(ReplaceOne({"_id": row_id, "_pos": [stored.seq, stored.index]}, row))
        _insert_then_fix(self._db[view], inserts, _replace_if_older, self._bulk_size)
        _bulk(self._db[view], changes, self._bulk_size)


def _replace_if_older(row: Document) -> Any | None:
    """For a current row that exists already: replace it only if it holds an older position
    (another process may have moved it further)."""
    seq, index = row["_pos"]
    older = {"_id": row["_id"], "$or": [{"_pos.0": {"$lt": seq}}, {"_pos.0": seq, "_pos.1": {"$lt": index}}]}
    return ReplaceOne(older, row)


def _close_if_closed(version: Document) -> Any | None:
    """For a history row that exists already: its content is the same (same position, same
    event), but only a run that saw the next change knows ``_to_seq``; never reopen it."""
    if version["_to_seq"] is None:
        return None
    return UpdateOne({"_id": version["_id"]}, {"$set": {"_to_seq": version["_to_seq"]}})


def _insert_then_fix(collection: Any, documents: list[Document], fix: Any, bulk_size: int | None) -> None:
    """Insert ``documents``; for those whose id exists, apply the request ``fix`` returns."""
    if not documents:
        return
    try:
        collection.insert_many(documents, ordered=False)
    except BulkWriteError as err:
        errors = err.details.get("writeErrors", [])
        if any(e.get("code") != _DUPLICATE_KEY for e in errors):
            raise
        fixes = (fix(documents[e["index"]]) for e in errors)
        _bulk(collection, [request for request in fixes if request is not None], bulk_size)


def _batches(row_ids: list[str]) -> Iterator[list[str]]:
    """``row_ids`` in runs of at most _PREFETCH_BATCH ids and about _PREFETCH_BYTES."""
    batch: list[str] = []
    size = 0
    for row_id in row_ids:
        if batch and (len(batch) == _PREFETCH_BATCH or size > _PREFETCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(row_id)
        size += len(row_id.encode("utf-8")) + 16  # and the element's type, index key, length
    if batch:
        yield batch


def _ids_filter(row_ids: list[str]) -> dict[str, Any]:
    """The filter for rows by id: a plain equality for one id, which FerretDB 1.x pushes
    down to its SQL backend (an ``$in`` makes it scan the whole view); the same on MongoDB."""
    return {"_id": row_ids[0]} if len(row_ids) == 1 else {"_id": {"$in": row_ids}}


def _bulk(collection: Any, requests: list[Any], size: int | None) -> None:
    """Send ``requests`` (independent of each other: unordered) in bulks of ``size``."""
    if not requests:
        return
    step = size or len(requests)
    for start in range(0, len(requests), step):
        collection.bulk_write(requests[start:start + step], ordered=False)


def _row_ids(projector: Projector, commit: Commit) -> set[str]:
    ids = set()
    for index, event in enumerate(commit.events):
        if event.event_type in projector.event_types:
            context = EventContext(seq=commit.seq, index=index, commit_id=commit.commit_id,
                                   committed_at=commit.committed_at, actor=commit.actor,
                                   message=commit.message)
            row_id = projector.row_id(event, context)
            if row_id is not None:
                ids.add(row_id)
    return ids
