"""``SqliteBackend``: the log and its views in one SQLite database, projected inline.

One transaction (``BEGIN IMMEDIATE``) checks the head, inserts the commit and its events and
applies the projections, so the views are always exactly consistent with the log. WAL mode
lets readers run while one writer appends; several processes may share the file, and a
busy timeout makes them queue instead of failing with "database is locked".

Durability: ``synchronous=FULL`` by default, so an acknowledged commit survives an
application crash and a power loss; ``durability="normal"`` survives application crashes
only (SQLite's WAL + NORMAL trade-off) and is faster.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from projections.runner import ProjectionRunner
from signalstore_es._bulk import paused_gc
from signalstore_es.adapters.sqlite import added_rows
from signalstore_es.adapters.sqlite.schema import LOG_TABLES, drop_view_ddl, upgrade_layout, view_indexes_ddl
from signalstore_es.adapters.sqlite.views import SqliteViewWriter, find_rows, run_script
from signalstore_es.domain.codec import event_from_json, event_json
from signalstore_es.domain.commits import Commit
from signalstore_es.domain.events import RecordAdded
from signalstore_es.domain.time import from_epoch_ms, to_epoch_ms
from signalstore_es.errors import StorageError, ValidationError
from signalstore_es.ports.storage import Head, SeqTakenError, SortSpec

#: turns one row of the events table (seq, idx, event_type, body, committed_at) into an event
Decoder = Callable[[int, int, str, str, int], Any]


def _decoded(seq: int, index: int, event_type: str, body: str, committed_at: int) -> Any:
    return event_from_json(body)


BUSY_TIMEOUT_SECONDS = 60.0
_SYNC_MODES = {"full": "FULL", "normal": "NORMAL"}
_PAGE = 500  #: commits per header query of read_commits
#: page cache of a rebuild, in KiB (SQLite's default is 2 MiB): index builds sort in memory
REBUILD_CACHE_KIB = 131_072
#: the size the WAL file is cut back to once SQLite starts it over: a rebuild grows it by the
#: size of the views (650 MB for 1M records), and without a limit the file keeps that size for
#: as long as a connection is open; everyday commits stay far below it
WAL_SIZE_LIMIT_BYTES = 64 * 2**20


class SqliteBackend:
    """The embedded :class:`~signalstore_es.ports.storage.StorageBackend`."""

    def __init__(self, path: str, project: str, *, durability: str = "full") -> None:
        if durability not in _SYNC_MODES:
            raise ValidationError(f"durability={durability!r}: choose one of {sorted(_SYNC_MODES)}")
        self.project = project
        self.path = path
        self._db = self._connect(path, _SYNC_MODES[durability])
        self._views_ready: set[str] = set()  #: view tables known to exist (DDL run once)
        self._writer = SqliteViewWriter(self._db, self._views_ready)
        #: (a runner, that runner without the records view's RecordAdded rule)
        self._without_adds: tuple[Any, ProjectionRunner | None] = (None, None)

    def __repr__(self) -> str:
        return f"SqliteBackend(path={self.path!r}, project={self.project!r})"

    @staticmethod
    def _connect(path: str, synchronous: str) -> sqlite3.Connection:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={synchronous}")
            db.execute("PRAGMA foreign_keys=ON")
            # Some builds (Debian's among them) zero every freed page and cell by default. Only
            # view rows are ever deleted here, and the log they derive from keeps their content
            # anyway, so zeroing protects nothing; it made a rebuild's DROP of the old views
            # write the whole of them to the WAL once more (6 of 28 s for 1M events).
            db.execute("PRAGMA secure_delete=OFF")
            db.execute(f"PRAGMA journal_size_limit={int(WAL_SIZE_LIMIT_BYTES)}")
            with _translated(path, "creating the log tables"):
                db.execute("BEGIN IMMEDIATE")
                try:
                    run_script(db, LOG_TABLES)
                    upgrade_layout(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            return db
        except (sqlite3.Error, OSError) as err:
            raise StorageError(f"cannot open the embedded store at {path!r}: {err}") from err

    # -- the log -----------------------------------------------------------------------------
    def head(self) -> Head:
        found = self._db.execute(
            "SELECT seq, hash, committed_at FROM commits ORDER BY seq DESC LIMIT 1").fetchone()
        if found is None:
            return Head(seq=0, hash="", committed_at=None)
        return Head(seq=found[0], hash=found[1], committed_at=from_epoch_ms(found[2]))

    def read_commits(self, *, after: int = 0, upto: int | None = None) -> Iterator[Commit]:
        return self._read_commits(after=after, upto=upto)

    def _read_commits(self, *, after: int = 0, upto: int | None = None, decode: Decoder = _decoded,
                      sparse: added_rows.Sparse | None = None) -> Iterator[Commit]:
        """The commits after ``after`` up to ``upto``; with ``sparse``, only the events its SQL
        condition selects are read, the others stand in as its filler."""
        last = after
        while True:
            headers = self._db.execute(
                "SELECT seq, commit_id, committed_at, actor, message, library_version, prev_hash, "
                "hash FROM commits WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (last, upto if upto is not None else 2**62, _PAGE)).fetchall()
            if not headers:
                return
            yield from self._with_events(headers, decode, sparse)
            last = headers[-1][0]

    def _with_events(self, headers: list[tuple[Any, ...]], decode: Decoder,
                     sparse: added_rows.Sparse | None) -> Iterator[Commit]:
        """The commits of ``headers`` with their events, decoded one commit at a time (a page
        of large commits never sits in memory whole)."""
        where, params, filler = ("", (), None) if sparse is None else (f" AND ({sparse.where})", sparse.params,
                                                                      sparse.filler)
        rows = iter(self._db.execute(f"SELECT seq, idx, event_type, body FROM events WHERE seq >= ? AND seq <= ?"
                                     f"{where} ORDER BY seq, idx", (headers[0][0], headers[-1][0], *params)))
        row = next(rows, None)
        for seq, commit_id, at, actor, message, version, prev_hash, hash_ in headers:
            while row is not None and row[0] < seq:  # no commit row: not part of the log
                row = next(rows, None)
            events: list[Any] = []
            while row is not None and row[0] == seq:
                if row[1] != len(events) and sparse is not None:  # events left out: keep the indexes
                    events += [filler] * (row[1] - len(events))
                events.append(decode(seq, row[1], row[2], row[3], at))
                row = next(rows, None)
            yield Commit(seq=seq, commit_id=commit_id, committed_at=from_epoch_ms(at), actor=actor,
                         message=message, library_version=version, events=tuple(events),
                         prev_hash=prev_hash, hash=hash_)

    def find_commit(self, commit_id: str) -> Commit | None:
        found = self._db.execute("SELECT seq FROM commits WHERE commit_id = ?", (commit_id,)).fetchone()
        if found is None:
            return None
        return next(self.read_commits(after=found[0] - 1, upto=found[0]))

    def seq_at(self, instant: datetime) -> int:
        found = self._db.execute("SELECT max(seq) FROM commits WHERE committed_at <= ?",
                                 (to_epoch_ms(instant),)).fetchone()
        return int(found[0] or 0)

    def append(self, commit: Commit, runner: ProjectionRunner) -> None:
        with self._transaction(f"appending commit {commit.seq}"):
            head = self._db.execute("SELECT coalesce(max(seq), 0) FROM commits").fetchone()[0]
            if head != commit.seq - 1:
                raise SeqTakenError(commit.seq)
            bodies = self._insert(commit)
            start = min((self._writer.checkpoint(v) for v in runner.views), default=head)
            runner = self._insert_added_rows(commit, bodies, runner, head)
            # views are normally at ``head``; a lagging one (a new user projector) replays first
            backlog = self.read_commits(after=start, upto=head) if start < head else iter(())
            self._project(runner, itertools.chain(backlog, [commit]))

    def _insert(self, commit: Commit) -> list[str]:
        """Insert the commit and its events; returns the events' bodies."""
        self._db.execute(
            "INSERT INTO commits VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (commit.seq, commit.commit_id, to_epoch_ms(commit.committed_at), commit.actor,
             commit.message, commit.library_version, commit.prev_hash, commit.hash))
        seq = commit.seq
        bodies = [event_json(e) for e in commit.events]
        self._db.executemany("INSERT INTO events (seq, idx, event_type, body) VALUES (?, ?, ?, ?)",
                             [(seq, i, e.event_type, body)
                              for i, (e, body) in enumerate(zip(commit.events, bodies, strict=True))])
        return bodies

    def _insert_added_rows(self, commit: Commit, bodies: list[str], runner: ProjectionRunner,
                           head: int) -> ProjectionRunner:
        """Insert the ``records`` rows of the commit's ``RecordAdded`` events spliced from their
        bodies (:mod:`.added_rows`, as a rebuild does) and return the runner for the rest; only
        when the view is at ``head``, so these rows are the next ones it would write."""
        if not added_rows.handles(runner.projectors) or self._writer.checkpoint(added_rows.VIEW) != head:
            return runner
        seq, at = commit.seq, to_epoch_ms(commit.committed_at)
        rows = [added_rows.appended_row(event, body, seq, index, at)
                for index, (event, body) in enumerate(zip(commit.events, bodies, strict=True))
                if type(event) is RecordAdded]
        if not rows:
            return runner
        self._writer.ensure_view(added_rows.VIEW)
        self._db.executemany(added_rows.INSERT, rows)
        cached, without = self._without_adds
        if cached is not runner or without is None:  # one runner per provider: derive it once
            without = added_rows.without_adds(runner)
            self._without_adds = (runner, without)
        return without

    def _project(self, runner: ProjectionRunner, commits: Any) -> tuple[int, int]:
        """Apply ``commits`` through the buffered writer and write its buffer (in the caller's
        transaction); a failure leaves nothing buffered for the next call."""
        try:
            result = runner.apply(commits, self._writer)
            self._writer.flush()
            return result
        finally:
            self._writer.discard()

    # -- views -------------------------------------------------------------------------------
    def catch_up(self, runner: ProjectionRunner) -> None:
        """Apply what the views have not seen; also creates missing view tables, so queries on
        a view nothing was written to yet are plain index lookups."""
        if self._views_ready.issuperset(runner.views):
            start = min((self._writer.checkpoint(v) for v in runner.views), default=0)
            if start >= self.head().seq:  # the common case needs no write lock
                return
        with self._transaction("catching up the views"):
            for view in runner.views:
                self._writer.ensure_view(view)
            start = min((self._writer.checkpoint(v) for v in runner.views), default=0)
            if start < self.head().seq:
                self._project(runner, self.read_commits(after=start))

    def rebuild(self, runner: ProjectionRunner) -> tuple[int, int]:
        """Replay the whole log into fresh tables: rows are appended in bulk and the secondary
        indexes are built once at the end, which is much cheaper than maintaining them."""
        with self._transaction("rebuilding the views"), paused_gc(), self._cache_pages(REBUILD_CACHE_KIB):
            for view in runner.views:
                run_script(self._db, drop_view_ddl(view))
                self._views_ready.discard(view)
            for view in runner.views:
                self._writer.ensure_view(view, indexes=False)
            result = self._replay_log(runner)
            for view in runner.views:  # on failure the transaction rolls the tables back anyway
                run_script(self._db, view_indexes_ddl(view))
            return result

    def _replay_log(self, runner: ProjectionRunner) -> tuple[int, int]:
        """Replay the whole log into empty view tables. The built-in ``records`` view's rows of
        ``RecordAdded`` events (most of any log) are spliced from the stored JSON and inserted
        first (:mod:`.added_rows`), then the projectors replay the other events, decoding only
        the bodies they need."""
        if not added_rows.handles(runner.projectors):
            return self._project(runner, self.read_commits())
        bulk = added_rows.BulkAdds(self._db, runner)
        bulk.insert_rows(self.path)
        commits, _ = self._project(bulk.runner, self._read_commits(decode=bulk.decode, sparse=bulk.sparse))
        return commits, bulk.events

    @contextlib.contextmanager
    def _cache_pages(self, kib: int) -> Iterator[None]:
        """A larger page cache for a bulk operation (fewer spills to the WAL, index builds
        sorted in memory), back to what it was afterwards."""
        before = self._db.execute("PRAGMA cache_size").fetchone()[0]
        self._db.execute(f"PRAGMA cache_size = {-int(kib)}")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA cache_size = {int(before)}")

    def find_rows(self, view: str, filter: Mapping[str, Any], *, as_of: int | None = None,
                  sort: SortSpec | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        try:  # no context manager here: this runs for every add, get and find
            return find_rows(self._db, view, filter, as_of=as_of, sort=sort, limit=limit)
        except sqlite3.Error as err:
            raise _storage_error(self.path, f"querying {view}", err) from err

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _transaction(self, doing: str) -> Iterator[None]:
        with _translated(self.path, doing):
            self._db.execute("BEGIN IMMEDIATE")
            self._writer.discard()  # nothing read before the lock may be trusted
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                self._writer.discard()
                self._views_ready.clear()  # tables created in the transaction are gone again
                raise
            self._db.execute("COMMIT")
            self._writer.discard()


@contextlib.contextmanager
def _translated(path: str, doing: str) -> Iterator[None]:
    """Turn sqlite3 errors into StorageError naming the file and the operation."""
    try:
        yield
    except sqlite3.Error as err:
        raise _storage_error(path, doing, err) from err


def _storage_error(path: str, doing: str, err: sqlite3.Error) -> StorageError:
    return StorageError(
        f"embedded store {path!r} failed while {doing}: {err}. Check that the disk has space, "
        "the file is writable and no other program holds it locked.")
