"""``MongoBackend``: the commit log and its views in one MongoDB database per project.

Atomicity without transactions: a commit is one ``insert_one`` of one document
(``_id = seq``), which every MongoDB deployment and MongoDB-compatible server applies
atomically, so a standalone server is enough. A batch too large for one document stages its
events in ``event_chunks`` first (see :mod:`~signalstore_es.adapters.mongo.documents`).

Ordering: ``append`` refuses a seq whose predecessor is not in the log, and the unique
``_id`` refuses a taken seq, so the log stays gapless and a reader that has seen seq ``n``
never later finds a smaller one. The unique index on ``commit_id`` makes every commit land
at most once, even when a lost connection hides whether an attempt landed.

Write concern: ``majority`` with journaling unless the client's own was set explicitly (see
:mod:`~signalstore_es.adapters.mongo.schema`). Reads use the client's read concern and
read preference.

Views are applied by the projection runner after each append (read-your-writes) and by
``catch_up`` before a unit of work reads, from per-view checkpoints; see
:mod:`~signalstore_es.adapters.mongo.views`.

Round trips: a commit of one record costs the committer's ``head`` read (if it does not
know the head from its previous commit), the insert of the commit document, one read of
the checkpoints, one read of the rows it touches per view, the row writes (one ``insert``
per collection for new rows) and one write of all checkpoints. The predecessor check reads
nothing when this backend has just seen the predecessor (the head the commit was sealed
on, or its own previous commit): the log is append-only, so a commit seen once stays.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import (
    ConnectionFailure,
    DuplicateKeyError,
    PyMongoError,
    ServerSelectionTimeoutError,
    WriteConcernError,
)

from projections.runner import ProjectionRunner
from signalstore_es.adapters.mongo.chunks import delete_orphans, find_orphans
from signalstore_es.adapters.mongo.documents import (
    HEAD_PROJECTION,
    EncodedCommit,
    chunk_ids_of,
    decode_commit,
    encode_commit,
)
from signalstore_es.adapters.mongo.errors import CommitAlreadyLandedError, ErrorTranslator, ViewsBehindError
from signalstore_es.adapters.mongo.schema import (
    CHECKPOINTS,
    CHUNK_INDEXES,
    CHUNKS,
    EVENTS,
    LOG_INDEXES,
    check_project_name,
    create_indexes,
    ensure_view_indexes,
    is_ferretdb,
    versions_name,
    write_concern_for,
)
from signalstore_es.adapters.mongo.views import BULK_SIZE, MongoViewWriter, find_rows
from signalstore_es.domain.commits import GENESIS_HASH, Commit
from signalstore_es.domain.time import require_aware, utc_now_ms
from signalstore_es.errors import CommitOutcomeUnknownError, IntegrityError, ValidationError
from signalstore_es.ports.storage import Head, SeqTakenError, SortSpec

Document = dict[str, Any]

class MongoBackend:
    """The MongoDB :class:`~signalstore_es.ports.storage.StorageBackend`.

    Parameters
    ----------
    client
        A ``pymongo.MongoClient``; the caller owns it (``close`` leaves it open).
    project
        The project, which is the database name.

    Raises
    ------
    ValidationError
        ``project`` is not a valid MongoDB database name.
    """

    def __init__(self, client: Any, project: str) -> None:
        self.project = check_project_name(project)
        self._errors = ErrorTranslator(client, self.project)
        codec_options = client.codec_options.with_options(document_class=dict, tz_aware=True,
                                                          tzinfo=UTC)
        self._db: Database[Document] = client.get_database(
            self.project, codec_options=codec_options, write_concern=write_concern_for(client))
        self._events = self._db[EVENTS]
        self._chunks = self._db[CHUNKS]
        self._log_ready = False
        self._views_ready: set[str] = set()
        #: ``(seq, hash)`` of the newest commit this backend has seen in the log, if any
        self._seen: tuple[int, str] | None = None

    def __repr__(self) -> str:
        return f"MongoBackend(project={self.project!r}, hosts={self._errors.hosts!r})"

    # -- reading the log ------------------------------------------------------------------------
    def head(self) -> Head:
        with self._errors.translating("reading the head of the log"):
            found = self._events.find_one({}, projection=HEAD_PROJECTION, sort=[("_id", -1)])
        if found is None:
            return Head(seq=0, hash=GENESIS_HASH, committed_at=None)
        self._seen = (int(found["_id"]), found["hash"])
        return Head(seq=found["_id"], hash=found["hash"], committed_at=found["committed_at"])

    def read_commits(self, *, after: int = 0, upto: int | None = None) -> Iterator[Commit]:
        # A gap (a commit deleted behind the library's back) is passed on, not raised: verify
        # reports it as a broken chain. Appends never leave one (see _check_predecessor).
        seqs: dict[str, int] = {"$gt": after} if upto is None else {"$gt": after, "$lte": upto}
        with self._errors.translating(f"reading commits after seq {after}"):
            for document in self._events.find({"_id": seqs}, sort=[("_id", 1)]):
                yield self._decode(document)

    def find_commit(self, commit_id: str) -> Commit | None:
        with self._errors.translating(f"looking up commit {commit_id}"):
            found = self._events.find_one({"commit_id": commit_id})
            return None if found is None else self._decode(found)

    def seq_at(self, instant: datetime) -> int:
        moment = require_aware(instant, argument="instant")
        with self._errors.translating("finding the commit at an instant"):
            found = self._events.find_one({"committed_at": {"$lte": moment}}, projection={"_id": 1},
                                          sort=[("committed_at", -1), ("_id", -1)])
        return 0 if found is None else int(found["_id"])

    def _decode(self, document: Mapping[str, Any]) -> Commit:
        if not document.get("chunks"):
            return decode_commit(document)
        return decode_commit(document, list(self._chunks.find({"_id": {"$in": chunk_ids_of(document)}})))

    # -- appending --------------------------------------------------------------------------------
    def append(self, commit: Commit, runner: ProjectionRunner) -> None:
        """Append ``commit`` at ``commit.seq`` and bring the runner's views up to date.

        Raises
        ------
        SeqTakenError
            The seq is taken, or its predecessor is not in the log (the head moved).
        CommitAlreadyLandedError
            This ``commit_id`` already landed at another seq or with other content.
        BackendUnavailableError
            The server cannot be reached; the commit did not land and may be appended again.
        CommitOutcomeUnknownError
            The connection failed after the commit was sent and its fate cannot be checked.
        ViewsBehindError
            The commit landed, but updating the views failed: do not append it again.
        """
        doing = f"appending commit {commit.commit_id} at seq {commit.seq}"
        encoded = encode_commit(commit, written_at=utc_now_ms())
        with self._errors.translating(doing):
            self._ensure_log_indexes()
            self._check_predecessor(commit)
            for chunk in encoded.chunks:  # idempotent: an attempt's chunks never change
                self._chunks.replace_one({"_id": chunk["_id"]}, chunk, upsert=True)
        self._insert(commit, encoded, doing)
        self._seen = (commit.seq, commit.hash)
        try:
            self._project_through(commit, runner)
        except Exception as err:  # a user projector's bug too: the commit is durable all the same
            raise ViewsBehindError(
                f"commit {commit.commit_id} landed at seq {commit.seq} and is durable, but "
                f"updating the views then failed ({type(err).__name__}: {err}). Do not commit the "
                "same changes again; the views catch up before the next read.",
                commit_id=commit.commit_id, seq=commit.seq) from err

    def _check_predecessor(self, commit: Commit) -> None:
        if commit.seq < 1:
            raise ValidationError(f"commit {commit.commit_id} has seq {commit.seq}; seqs start at 1")
        if self._seen == (commit.seq - 1, commit.prev_hash):
            return  # seen in the log just now (the head it was sealed on): no need to ask again
        previous = (None if commit.seq == 1 else
                    self._events.find_one({"_id": commit.seq - 1}, projection={"hash": 1}))
        if commit.seq > 1 and previous is None:
            raise SeqTakenError(commit.seq)  # the log is not at seq - 1: re-read the head
        expected = GENESIS_HASH if previous is None else previous["hash"]
        if commit.prev_hash != expected:
            raise IntegrityError(
                f"commit {commit.commit_id} at seq {commit.seq} has prev_hash {commit.prev_hash!r} "
                f"but the commit before it has hash {expected!r}; seal it on the current head")

    def _insert(self, commit: Commit, encoded: EncodedCommit, doing: str) -> None:
        try:
            self._events.insert_one(encoded.document)
        except DuplicateKeyError as err:
            self._on_duplicate(commit, err, doing)
        except ServerSelectionTimeoutError as err:
            # pymongo raises this only if no attempt was sent (else it raises the first error)
            raise self._errors.unavailable(err, doing, " The commit was not sent.") from err
        except WriteConcernError as err:
            raise CommitOutcomeUnknownError(
                f"commit {commit.commit_id} (seq {commit.seq}) was written but not confirmed by "
                f"the write concern ({err}); it may be rolled back if the primary fails. Check the "
                "health of the replica set, then look for this commit_id in the project's log.",
                commit_id=commit.commit_id) from err
        except ConnectionFailure as err:
            self._resolve_unknown_outcome(commit, err, doing)
        except PyMongoError as err:
            raise self._errors.storage(err, doing) from err

    def _on_duplicate(self, commit: Commit, err: DuplicateKeyError, doing: str) -> None:
        """Tell a taken seq from this very commit having landed before (FerretDB's duplicate
        key errors do not name the index, so the log is asked)."""
        try:
            landed = self._events.find_one({"commit_id": commit.commit_id}, projection={"hash": 1})
        except PyMongoError as check_err:
            raise self._errors.translate(check_err, doing) from err
        if landed is None:
            raise SeqTakenError(commit.seq) from err
        self._accept_landed(commit, landed)

    def _resolve_unknown_outcome(self, commit: Commit, err: ConnectionFailure, doing: str) -> None:
        try:
            landed = self._events.find_one({"commit_id": commit.commit_id}, projection={"hash": 1})
        except PyMongoError:
            raise CommitOutcomeUnknownError(
                f"the connection to MongoDB at {self._errors.hosts} failed after commit "
                f"{commit.commit_id} (seq {commit.seq}, project {self.project!r}) was sent, and "
                "checking whether it landed failed too. When the server is back, look for this "
                "commit_id in the project's log before redoing the changes.",
                commit_id=commit.commit_id) from err
        if landed is None:
            raise self._errors.unavailable(
                err, doing, f" Commit {commit.commit_id} had not landed when checked; appending "
                "it again under the same commit_id is safe, since the log accepts a commit_id "
                "only once.") from err
        self._accept_landed(commit, landed)

    def _accept_landed(self, commit: Commit, landed: Mapping[str, Any]) -> None:
        if landed["_id"] == commit.seq and landed["hash"] == commit.hash:
            return  # this very commit is in the log: the append succeeded
        raise CommitAlreadyLandedError(
            f"commit {commit.commit_id} is already in the log of project {self.project!r} at seq "
            f"{landed['_id']}; it was not written again. Its changes are committed: do not "
            "repeat them.", commit_id=commit.commit_id, seq=int(landed["_id"]))

    def _ensure_log_indexes(self) -> None:
        if not self._log_ready:
            create_indexes(self._events, LOG_INDEXES)
            create_indexes(self._chunks, CHUNK_INDEXES)
            self._log_ready = True

    # -- views ----------------------------------------------------------------------------------
    def catch_up(self, runner: ProjectionRunner) -> None:
        # reading the commits after the oldest checkpoint also tells whether there are any:
        # one query, where asking for the head first would make it two
        with self._errors.translating("bringing the views up to date"):
            checkpoints = self._read_checkpoints(runner)
            self._replay(runner, self.read_commits(after=min(checkpoints.values(), default=0)),
                         checkpoints)

    def _project_through(self, commit: Commit, runner: ProjectionRunner) -> None:
        """Bring the views up to ``commit``, which was just appended: the commit itself is
        applied from memory (a large one is not read back), older ones from the log."""
        with self._errors.translating(f"projecting commit {commit.seq}"):
            checkpoints = self._read_checkpoints(runner)
            start = min(checkpoints.values(), default=0)
            if start >= commit.seq:
                return
            backlog = self.read_commits(after=start, upto=commit.seq - 1) if start < commit.seq - 1 else ()
            self._replay(runner, itertools.chain(backlog, [commit]), checkpoints)

    def _read_checkpoints(self, runner: ProjectionRunner) -> dict[str, int]:
        """The checkpoint of each of the runner's views (0 if it has none), in one query."""
        self._ensure_views(runner.views)
        stored = self._db[CHECKPOINTS].find({"_id": {"$in": list(runner.views)}})
        found = {d["_id"]: int(d["seq"]) for d in stored}
        return {view: found.get(view, 0) for view in runner.views}

    def _replay(self, runner: ProjectionRunner, commits: Iterable[Commit],
                checkpoints: Mapping[str, int]) -> tuple[int, int]:
        """Apply ``commits`` to the runner's views, whose ``checkpoints`` were just read, then
        save the new checkpoints in one write."""
        writer = MongoViewWriter(self._db, checkpoints, self._view_bulk_size)
        replayed = runner.apply(writer.feed(commits, runner.projectors), writer)
        writer.save_checkpoints()
        return replayed

    @functools.cached_property
    def _view_bulk_size(self) -> int | None:
        """Statements per view update command: small bulks on FerretDB (see
        :data:`~signalstore_es.adapters.mongo.views.BULK_SIZE`), one bulk per collection and
        commit on MongoDB (None); asked once per backend."""
        return BULK_SIZE if is_ferretdb(self._db.client) else None

    def rebuild(self, runner: ProjectionRunner) -> tuple[int, int]:
        # readers in other processes see empty views until the replay is done
        with self._errors.translating("rebuilding the views"):
            for view in runner.views:
                self._db.drop_collection(view)
                self._db.drop_collection(versions_name(view))
            self._db[CHECKPOINTS].delete_many({"_id": {"$in": list(runner.views)}})
            self._views_ready.difference_update(runner.views)
            self._ensure_views(runner.views)
            return self._replay(runner, self.read_commits(), dict.fromkeys(runner.views, 0))

    def _ensure_views(self, views: tuple[str, ...]) -> None:
        for view in views:
            if view not in self._views_ready:
                ensure_view_indexes(self._db, view)
                self._views_ready.add(view)

    def find_rows(self, view: str, filter: Mapping[str, Any], *, as_of: int | None = None,
                  sort: SortSpec | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        with self._errors.querying(f"querying the view {view!r}"):
            return find_rows(self._db, view, filter, as_of=as_of, sort=sort, limit=limit)

    # -- staged chunks --------------------------------------------------------------------------------
    def orphan_chunk_ids(self, older_than: datetime) -> list[str]:
        """Ids of event chunks written before ``older_than`` that no commit references.

        Their writer died before its commit document, or lost its seq to another writer.
        Choose ``older_than`` well before now (a grace period longer than any commit takes):
        a commit in progress has its chunks written and its document not yet.
        """
        cutoff = require_aware(older_than, argument="older_than")
        with self._errors.translating("listing orphan event chunks"):
            return find_orphans(self._events, self._chunks, {"written_at": {"$lt": cutoff}})

    def delete_orphan_chunks(self, chunk_ids: Iterable[str]) -> int:
        """Delete those of ``chunk_ids`` that are still orphans; return how many were deleted."""
        with self._errors.translating("deleting orphan event chunks"):
            return delete_orphans(self._events, self._chunks, chunk_ids)

    def close(self) -> None:
        """Nothing to release: the client belongs to the caller."""
