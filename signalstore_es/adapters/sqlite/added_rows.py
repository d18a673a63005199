"""The ``records`` view's ``RecordAdded`` rows, spliced from the events' JSON text.

Almost every event of a log is a ``RecordAdded``, and its row is a fixed function of the
event body and its commit's time: the record's fields, then the key, ``has_file``, the save
time, ``_key``, ``_generation`` and ``_blob`` (:func:`projections.records._added`). Through
the projector, a rebuild decodes each body into an event (dates, keys and blob references
become objects), builds the row and encodes it again. The row's JSON is the record's JSON as
the body holds it with those fields appended, so :func:`added_rows` (rebuilds) and
:func:`appended_row` (commits, from the body just encoded) splice it from the body text
instead, after checking the parsed body has exactly the shape
:func:`signalstore_es.domain.codec.event_json` writes (the text around the record is
compared with the parsed key and blob, so the slice is exactly the record's JSON). Anything
else (another schema version, a record holding one of the row's own field names, an unusual
blob) goes through the projector itself.

:class:`BulkAdds` runs one replay: the backend reads the log once; the adds' rows are
inserted in bulk and every other event (and every other projector) goes through the
projection runner as usual, with the rows inserted before the runner sees a commit that may
change them. That order gives the same tables:

* the row of a ``RecordAdded`` is a new row, ``<key>@<seq>``; a remove, restore or purge of
  that generation comes later in the log. One at a lower position than the add (which the
  library never writes) is skipped by the runner, which ignores events older than the row
  they touch, just as the projector ignores a change to a row that does not exist yet.
* two adds of one key in one commit write one row id; the later one wins (``INSERT OR
  REPLACE`` in log order), as in the runner.

``tests/integration/test_sqlite_rebuild_bulk.py`` compares the tables of both paths, byte for
byte, on random logs.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import orjson

from projections.protocol import EventContext
from projections.purged_blobs import PurgedBlobsProjector
from projections.records import BLOB_FIELD, GENERATION_FIELD, KEY_FIELD, RecordsProjector
from projections.runner import ProjectionRunner
from signalstore_es._bulk import paused_gc
from signalstore_es.adapters.sqlite.schema import COLUMN_NAMES
from signalstore_es.adapters.sqlite.views import plain_column, row_columns
from signalstore_es.domain.codec import DATE_TAG, blob_fields, dumps_json, event_from_json, is_plain_blob
from signalstore_es.domain.events import BlobRef, RecordAdded
from signalstore_es.domain.time import from_epoch_ms, to_epoch_ms
from signalstore_es.errors import StorageError

RECORD_ADDED = RecordAdded.event_type
#: a body whose blob is null ends like this: blob is the last field event_json writes, and
#: a blob reference (its only other value) ends with "}}"
BLOBLESS_SUFFIX = '"blob":null}'
#: the fields of a blob reference in the order the codec writes them (see codec.blob_fields)
_BLOB_FIELDS = tuple(blob_fields(BlobRef(address="", adapter="", file_format="", extension="", size=0)))
_PROJECTOR = RecordsProjector()

#: a row as the view's current table takes it: row_id, from_seq, from_idx, removed, key,
#: schema_ref, data_name, schema_name, doc (schema.COLUMN_NAMES)
TableRow = tuple[str, int, int, int, str | None, str | None, str | None, str | None, str]


def added_rows(events: Iterable[tuple[int, int, int, str]]) -> Iterator[TableRow]:
    """The ``records`` rows of ``(seq, index, committed_at epoch ms, body)`` of
    ``RecordAdded`` events, in the order given."""
    loads = orjson.loads
    for seq, index, committed_at, body in events:
        try:
            event = loads(body)
        except orjson.JSONDecodeError:
            event = None
        row = _spliced_row(event, body, seq, index, committed_at) if type(event) is dict else None
        yield row if row is not None else _projected_row(seq, index, committed_at, body)


def _spliced_row(event: dict[str, Any], body: str, seq: int, index: int, committed_at: int) -> TableRow | None:
    """The row of a body of exactly the shape ``event_json`` writes, or None; ``event`` is the
    parsed ``body``."""
    key, record, blob = event.get("key"), event.get("record"), event.get("blob", _MISSING)
    if (type(key) is not dict or type(record) is not dict or len(key) != 3 or len(event) != 5
            or (blob is not None and not _plain_blob(blob))):
        return None
    schema_ref, data_name, version = key.get("schema_ref"), key.get("data_name"), key.get("version_timestamp")
    if type(version) is dict and len(version) == 1 and type(version.get(DATE_TAG)) is int:
        version = version[DATE_TAG]
        is_date = True
    elif type(version) is int:
        is_date = False
    else:
        return None
    if type(schema_ref) is not str or type(data_name) is not str:
        return None
    blob_text = "null" if blob is None else orjson.dumps(blob).decode()
    return _splice(body, record, schema_ref, data_name, version, is_date, blob_text, seq, index, committed_at)


def appended_row(event: RecordAdded, body: str, seq: int, index: int, committed_at: int) -> TableRow:
    """The row of an event being appended, whose body ``event_json`` just wrote."""
    key, blob = event.key, event.blob
    version = key.version_timestamp
    stamp, is_date = (version, False) if isinstance(version, int) else (to_epoch_ms(version), True)
    blob_text = "null" if blob is None else orjson.dumps(blob_fields(blob)).decode()
    row = _splice(body, event.record, key.schema_ref, key.data_name, stamp, is_date, blob_text, seq, index,
                  committed_at)
    return row if row is not None else _projected(event, seq, index, committed_at)


def _splice(body: str, record: Mapping[str, Any], schema_ref: str, data_name: str, version: int, is_date: bool,
            blob_text: str, seq: int, index: int, committed_at: int) -> TableRow | None:
    """The row whose document is the record's JSON text as ``body`` holds it with the row
    fields appended, or None if ``body`` is not exactly ``event_json``'s text of this key,
    record and blob (``version``: 0 or the version's epoch ms, ``is_date`` telling which).

    That is what ``RecordsProjector.apply`` followed by the view encoding writes, provided the
    record has none of the row's fields (a record written by ``add`` never has: the key fields
    and store fields are kept apart). The body's text around the record is compared with the
    key and blob, so the slice is exactly the record's JSON."""
    if not _ROW_FIELDS.isdisjoint(record):
        return None
    version_text = f'{{"{DATE_TAG}":{version}}}' if is_date else str(version)
    names = f'"schema_ref":"{schema_ref}","data_name":"{data_name}","version_timestamp":{version_text}'
    head = f'{{"event_type":"{RECORD_ADDED}","schema_version":1,"key":{{{names}}},"record":'
    tail = f',"blob":{blob_text}}}'
    if not (body.startswith(head) and body.endswith(tail)):
        return None  # other fields, another order or version, escaped names: not this shape
    record_text = body[len(head):len(body) - len(tail)]
    row_key = f"{schema_ref}/{data_name}/{version if is_date else 0}"  # RecordKey.as_string()
    document = (f'{record_text[:-1]}{"," if record else ""}{names},'
                f'"has_file":{"false" if blob_text == "null" else "true"},'
                f'"time_of_save":{{"{DATE_TAG}":{committed_at}}},"time_of_removal":null,'
                f'"{KEY_FIELD}":"{row_key}","{GENERATION_FIELD}":{seq},"{BLOB_FIELD}":{blob_text}}}')
    return (f"{row_key}@{seq}", seq, index, 0, row_key, schema_ref, data_name,
            plain_column(record.get("schema_name")), document)


_MISSING = object()
#: the fields a records row sets after the record's own (projections.records._added)
_ROW_FIELDS = frozenset({"schema_ref", "data_name", "version_timestamp", "has_file", "time_of_save",
                         "time_of_removal", KEY_FIELD, GENERATION_FIELD, BLOB_FIELD})


def _plain_blob(blob: Any) -> bool:
    """A blob reference written by the current codec: all fields, in order, plain types."""
    return type(blob) is dict and tuple(blob) == _BLOB_FIELDS and is_plain_blob(blob)


def _projected_row(seq: int, index: int, committed_at: int, body: str) -> TableRow:
    """The row of an unusual body, built by the projector itself."""
    return _projected(event_from_json(body), seq, index, committed_at)


def _projected(event: Any, seq: int, index: int, committed_at: int) -> TableRow:
    context = EventContext(seq=seq, index=index, commit_id="", committed_at=from_epoch_ms(committed_at),
                           actor="", message=None)
    row_id = _PROJECTOR.row_id(event, context)
    document = _PROJECTOR.apply(None, event, context)
    assert document is not None, "a RecordAdded always makes a row"
    return (row_id, seq, index, *row_columns(document), dumps_json(document))


class _Skipped:
    """Stands for an event no Python projector of the rebuild needs (its body is not decoded)."""

    event_type = "(not decoded)"


SKIPPED: Any = _Skipped()
VIEW = RecordsProjector.view
INSERT = (f'INSERT OR REPLACE INTO "{VIEW}" (row_id, from_seq, from_idx, {COLUMN_NAMES}, doc) '
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def handles(projectors: Iterable[Any]) -> bool:
    """Whether the built-in ``records`` projector is among ``projectors`` (exactly that class:
    a subclass may project differently)."""
    return any(type(p) is RecordsProjector for p in projectors)


class BulkAdds:
    """One replay of the whole log: :meth:`insert_rows` writes the ``records`` rows of every
    ``RecordAdded``, then the runner (:attr:`runner`, the same projectors without that rule)
    replays the log read through :meth:`decode`, which decodes only the bodies it needs.

    On a machine with several cores, a large log's rows are spliced by a worker process (one
    more core) while this one inserts them (SQLite allows one writer); the first
    :data:`CHUNK` rows are always made here, so small logs never start one."""

    def __init__(self, db: sqlite3.Connection, runner: ProjectionRunner) -> None:
        self._db = db
        self.runner = without_adds(runner)
        self._wanted, self._blob_adds_only = _decoded_types(self.runner)
        #: the log's events: the adds :meth:`insert_rows` inserted plus the others :meth:`decode` saw
        self.events = 0

    @property
    def sparse(self) -> Sparse | None:
        """The events the runner's replay must read (None: all). Most of a log is adds without a
        blob, which no projector of the runner needs; leaving them to SQLite's scan spares
        building a million Python rows only to skip them."""
        if RECORD_ADDED not in self._wanted:
            return Sparse("event_type != ?", (RECORD_ADDED,), SKIPPED)
        if self._blob_adds_only:
            return Sparse(f"event_type != ? OR substr(body, -{len(BLOBLESS_SUFFIX)}) != ?",
                          (RECORD_ADDED, BLOBLESS_SUFFIX), SKIPPED)
        return None

    def insert_rows(self, path: str) -> None:
        rest = self._db.execute(  # the add after the first chunk, if any
            "SELECT seq, idx FROM events WHERE event_type = ? ORDER BY seq, idx LIMIT 1 OFFSET ?",
            (RECORD_ADDED, CHUNK)).fetchone()
        worker = _start_worker(path, rest) if rest is not None and (os.cpu_count() or 1) > 1 else None
        try:  # the worker starts up while the first chunk is made here
            rows, after = spliced_chunk(self._db, FIRST_POSITION)
            self._insert(rows)
            for rows in _worker_chunks(worker) if worker is not None else _chunks_here(self._db, after):
                self._insert(rows)
        finally:
            if worker is not None:
                _stop(worker)

    def _insert(self, rows: list[TableRow]) -> None:
        self._db.executemany(INSERT, rows)
        self.events += len(rows)

    def decode(self, seq: int, index: int, event_type: str, body: str, committed_at: int) -> Any:
        """An event :attr:`sparse` let through: decoded if some projector of the runner wants
        its type (the adds it lets through are wanted ones)."""
        if event_type != RECORD_ADDED:
            self.events += 1
        return event_from_json(body) if event_type in self._wanted else SKIPPED


@attrs.frozen
class Sparse:
    """Which events a replay reads: an SQL condition on the ``events`` table and its
    parameters; each event left out stands in the commit as ``filler``, so that indexes stay."""

    where: str
    params: tuple[Any, ...]
    filler: Any


#: rows spliced per chunk (about 10 MB of text)
CHUNK = 20_000
#: (seq, index) of the first event of any log
FIRST_POSITION = (0, 0)
Position = tuple[int, int]
#: spliced rows and the position after them (None: the log has no more)
Chunk = tuple[list[TableRow], Position | None]


def spliced_chunk(db: sqlite3.Connection, start: Position, limit: int | None = None) -> Chunk:
    """The rows of up to ``limit`` (default :data:`CHUNK`, read at each call) ``RecordAdded``
    events at or after log position ``start``, and the position to continue from (None: the
    log has no more)."""
    limit = CHUNK if limit is None else limit
    found = db.execute(  # no join with commits: a lookup per event cost more than the rest of the read
        "SELECT seq, idx, body FROM events WHERE (seq, idx) >= (?, ?) AND event_type = ? ORDER BY seq, idx LIMIT ?",
        (*start, RECORD_ADDED, limit)).fetchall()
    if not found:
        return [], None
    after = (found[-1][0], found[-1][1] + 1) if len(found) == limit else None
    committed_at = dict(db.execute("SELECT seq, committed_at FROM commits WHERE seq BETWEEN ? AND ?",
                                   (found[0][0], found[-1][0])))
    events = ((seq, index, committed_at[seq], body) for seq, index, body in found
              if seq in committed_at)  # no commit row: not part of the log
    return list(added_rows(events)), after


def _chunks_here(db: sqlite3.Connection, after: Position | None) -> Iterator[list[TableRow]]:
    while after is not None:
        rows, after = spliced_chunk(db, after)
        yield rows


def _start_worker(path: str, start: Position) -> subprocess.Popen[bytes]:
    """A child process (:func:`splice_to_stdout`) that splices the chunks from ``start`` on,
    reading the log through its own read-only connection (the log does not change while the
    rebuild holds the write lock), and writes them to its stdout; the pipe's buffer keeps it
    at most a chunk ahead of the inserts."""
    root = str(Path(__file__).resolve().parents[3])  # where signalstore_es and projections live
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-c", _WORKER, Path(path).resolve().as_uri(), *map(str, start)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


#: a frame's header: the length of the marshalled chunk that follows
_FRAME = struct.Struct("<Q")
#: the worker's program (not ``-m`` this module: the package imports it first, and runpy warns)
_WORKER = f"import sys; from {__name__} import splice_to_stdout; splice_to_stdout(*sys.argv[1:])"


def _worker_chunks(worker: subprocess.Popen[bytes]) -> Iterator[list[TableRow]]:
    assert worker.stdout is not None
    while (header := worker.stdout.read(_FRAME.size)):
        size = _FRAME.unpack(header)[0] if len(header) == _FRAME.size else -1
        frame = worker.stdout.read(size) if size >= 0 else b""
        if len(frame) != size:
            worker.wait()
            raise StorageError(f"the rebuild's worker process stopped in the middle of a chunk: {_errors(worker)}")
        yield marshal.loads(frame)
    if worker.wait() != 0:
        raise StorageError(f"the rebuild's worker process failed: {_errors(worker)}")


def _errors(worker: subprocess.Popen[bytes]) -> str:
    """What an exited worker wrote to stderr."""
    assert worker.stderr is not None
    return worker.stderr.read().decode(errors="replace")


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:  # the rebuild failed before reading everything
        worker.kill()
    worker.wait()
    for stream in (worker.stdout, worker.stderr):
        if stream is not None:
            stream.close()


def splice_to_stdout(uri: str, seq: str, index: str) -> None:
    """Write the chunks from ``(seq, index)`` on to stdout, one frame each: the length, then
    the rows in :mod:`marshal` format (the reader is the same interpreter; marshal writes these
    tuples of str and int 2.6 times as fast as pickle and reads them 1.4 times as fast)."""
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True)
    out = sys.stdout.buffer
    try:
        with paused_gc():
            for rows in _chunks_here(db, (int(seq), int(index))):
                frame = marshal.dumps(rows)
                out.write(_FRAME.pack(len(frame)))
                out.write(frame)
        out.flush()
    finally:
        db.close()


def without_adds(runner: ProjectionRunner) -> ProjectionRunner:
    """``runner`` with the ``records`` projector's ``RecordAdded`` rule taken out."""
    return ProjectionRunner([_WithoutAdds(p) if type(p) is RecordsProjector else p for p in runner.projectors])


class _WithoutAdds:
    """The records projector for every event but ``RecordAdded`` (inserted in bulk)."""

    def __init__(self, inner: RecordsProjector) -> None:
        self.view = inner.view
        self.event_types = inner.event_types - {RECORD_ADDED}
        self.row_id = inner.row_id
        self.apply = inner.apply


def _decoded_types(runner: ProjectionRunner) -> tuple[frozenset[str], bool]:
    """(the event types some projector of ``runner`` wants, whether only adds with a blob are
    wanted): the built-in ``purged_blobs`` projector ignores adds without a blob (its
    ``row_id`` is None for them), so unless another projector wants adds, those bodies are not
    decoded."""
    wanted: set[str] = set()
    blob_adds_only = True
    for projector in runner.projectors:
        wanted |= projector.event_types
        if RECORD_ADDED in projector.event_types and type(projector) is not PurgedBlobsProjector:
            blob_adds_only = False
    return frozenset(wanted), blob_adds_only
