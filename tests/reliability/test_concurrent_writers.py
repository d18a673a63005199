"""Several processes commit to one project at once, on purpose on the same keys.

Four writer processes (``forkserver`` children, each with its own provider on the same store)
commit 100 units of work each (25 on MongoDB) on a pool of eight session names: each looks at which names are
live, sometimes removes one (the fuller the pool, the likelier), adds one that looked free
(the one it just removed when none looked free), one time in four adds an array of its own
whose content is one of three (so writers publish the same blobs at once), and commits. Other
writers commit in between, so keys collide on purpose. The race runs once per backend; each
test checks one property of it.

A unit of work whose remove loses to another writer's remove + re-add of the same key must get
``ConcurrencyError`` (it added nothing); the last test pins that case down deterministically.

Which errors may a loser get? Decided here, from what the unit of work knows when it fails:

- at ``add``: ``AlreadyExistsError`` -- the name is live in the state this unit of work sees;
- at ``remove``: ``NotFoundError`` -- the name is not live in the state it sees;
- at ``commit``: ``AlreadyExistsError`` (another writer added the same key first) or
  ``ConcurrencyError`` (another writer removed or re-added a key this batch touches). A remove
  that raced with another remove is a conflict on that key, so ``commit`` never raises
  ``NotFoundError``: that error describes the state a call saw, not a lost race.
"""

from __future__ import annotations

import contextlib
import queue
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from signalstore_es.errors import AlreadyExistsError, ConcurrencyError
from signalstore_es.testing import vocabulary as vocab
from tests.conftest import BACKENDS
from tests.reliability.harness import (
    StoreSpec,
    add_vocabulary,
    blob_files,
    blob_relative_path,
    opened,
    referenced_blobs,
    session_and_spike_times_models,
)
from tests.reliability.writers import Attempt, array_name, has_array, run_writer

WRITERS = 4
#: commits per writer: a FerretDB-backed MongoDB is an order of magnitude slower than SQLite
COMMITS = {"sqlite": 100, "mongo": 25}
POOL = tuple(f"pool-session-{i}" for i in range(8))
RACE_TIMEOUT_S = 240.0
LOST_UPDATE = ("a unit of work takes the head read after catch_up as its base, though its views may lag it: "
               "a commit landing in between is never checked for conflicts (lost update)")
ALLOWED_ERRORS = {"look": set(), "add": {"AlreadyExistsError"}, "remove": {"NotFoundError"},
                  "commit": {"AlreadyExistsError", "ConcurrencyError"}}


@attrs.frozen(kw_only=True)
class Race:
    spec: StoreSpec
    project: str
    attempts: tuple[Attempt, ...]
    log: tuple[dict[str, Any], ...]
    vocabulary_commits: int


@pytest.fixture(scope="module", params=BACKENDS)
def race(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         process_context: Any) -> Iterator[Race]:
    """Run the race once per backend; yield what the writers reported and the final log."""
    spec = _spec(request, tmp_path_factory)
    project = f"race{uuid.uuid4().hex[:10]}"
    with opened(spec, actor="referee") as provider:
        add_vocabulary(provider, project, session_and_spike_times_models())
        attempts = _run_writers(process_context, spec, project)
        with provider(project) as uow:
            log = uow.log()
    yield Race(spec=spec, project=project, attempts=attempts, log=tuple(log), vocabulary_commits=1)
    if spec.backend == "mongo":
        from pymongo import MongoClient

        with MongoClient(spec.mongo_uri) as client:
            client.drop_database(project)


def _spec(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> StoreSpec:
    if request.param == "sqlite":
        root = str(tmp_path_factory.mktemp("race") / "store")
        return StoreSpec(backend="sqlite", root=root, blob_root=root)
    server = request.getfixturevalue("mongo_server")
    return StoreSpec(backend="mongo", mongo_uri=server.uri, blob_root=str(tmp_path_factory.mktemp("blobs")))


def _run_writers(context: Any, spec: StoreSpec, project: str) -> tuple[Attempt, ...]:
    barrier, results = context.Barrier(WRITERS), context.Queue()
    writers = [context.Process(target=run_writer, daemon=True,
                               args=(spec, project, w, COMMITS[spec.backend], POOL, 1000 + w, barrier, results))
               for w in range(WRITERS)]
    for writer in writers:
        writer.start()
    reported: dict[int, list[Attempt]] = {w: [] for w in range(WRITERS)}
    try:
        _collect(results, reported)
    finally:
        for writer in writers:
            writer.join(timeout=30)
            if writer.is_alive():
                writer.kill()
                writer.join()
        results.close()
        results.join_thread()
    return tuple(a for w in sorted(reported) for a in reported[w])


def _collect(results: Any, reported: dict[int, list[Attempt]]) -> None:
    """Gather every writer's attempts until all are done, or fail at the deadline."""
    deadline, done = time.monotonic() + RACE_TIMEOUT_S, set()
    while len(done) < WRITERS:
        try:
            worker, attempt = results.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            progress = {w: sum(a.committed for a in attempts) for w, attempts in reported.items()}
            pytest.fail(f"the race did not end within {RACE_TIMEOUT_S} s; commits so far per writer: {progress}")
        if attempt is None:
            done.add(worker)
        else:
            reported[worker].append(attempt)


def _referee(race: Race) -> Any:
    return opened(race.spec, actor="referee")


def _committed(race: Race) -> list[Attempt]:
    return [a for a in race.attempts if a.committed]


def _race_commits(race: Race) -> list[dict[str, Any]]:
    return list(race.log[race.vocabulary_commits:])


# -- the tests -----------------------------------------------------------------------------------
def test_every_writer_commits_its_share_and_some_attempts_lose(race: Race) -> None:
    committed, failed = _committed(race), [a for a in race.attempts if not a.committed]
    per_writer = {w: sum(a.worker == w for a in committed) for w in range(WRITERS)}
    print(f"\n{race.spec.backend}: {WRITERS} writers, {len(race.attempts)} attempts, {len(committed)} commits "
          f"{per_writer}; losers by call and error: {_tally(failed)}")
    assert (per_writer, bool(failed)) == (dict.fromkeys(range(WRITERS), COMMITS[race.spec.backend]), True)


def _tally(failed: list[Attempt]) -> dict[str, int]:
    tally: dict[str, int] = {}
    for attempt in failed:
        tally[f"{attempt.stage}:{attempt.error}"] = tally.get(f"{attempt.stage}:{attempt.error}", 0) + 1
    return dict(sorted(tally.items()))


def test_the_log_seq_runs_from_1_to_the_head_without_gap_or_duplicate(race: Race) -> None:
    seqs = [entry["seq"] for entry in race.log]
    assert seqs == list(range(1, len(seqs) + 1))


def test_every_reported_commit_is_in_the_log_exactly_once_at_its_seq(race: Race) -> None:
    by_id: dict[str, list[int]] = {}
    for entry in race.log:
        by_id.setdefault(entry["commit_id"], []).append(entry["seq"])
    placed = {a.commit_id: by_id.get(a.commit_id) for a in _committed(race)}
    assert placed == {a.commit_id: [a.seq] for a in _committed(race)}


def test_the_log_holds_nothing_but_the_vocabulary_and_the_reported_commits(race: Race) -> None:
    logged = {(e["commit_id"], e["message"]) for e in _race_commits(race)}
    assert logged == {(a.commit_id, a.message) for a in _committed(race)}


def test_no_failed_attempt_left_a_commit_in_the_log(race: Race) -> None:
    messages = {entry["message"] for entry in race.log}
    leaked = [a for a in race.attempts if not a.committed and a.message in messages]
    assert leaked == []


def test_each_commit_holds_exactly_the_changes_its_writer_staged(race: Race) -> None:
    by_id = {e["commit_id"]: e for e in _race_commits(race)}
    wrong = [a for a in _committed(race) if _changes(by_id[a.commit_id]) != _intended(a)]
    assert wrong == []


def _changes(entry: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["event_type"], e["key"]["data_name"]) for e in entry["events"]]


def _intended(attempt: Attempt) -> list[tuple[str, str]]:
    removed = [("record_removed", attempt.removed)] if attempt.removed else []
    array = [("record_added", array_name(attempt.worker, attempt.index))] if has_array(attempt.index) else []
    return [*removed, ("record_added", attempt.added), *array]


def test_losers_get_only_the_documented_errors_at_the_documented_calls(race: Race) -> None:
    surprises = [(a.stage, a.error, a.detail) for a in race.attempts
                 if not a.committed and a.error not in ALLOWED_ERRORS[a.stage]]
    assert surprises == []


def test_the_race_produced_conflicts_at_commit_time(race: Race) -> None:
    at_commit = {a.error for a in race.attempts if not a.committed and a.stage == "commit"}
    assert at_commit & {"AlreadyExistsError", "ConcurrencyError"}


def test_the_log_never_adds_a_live_name_or_removes_a_dead_one(race: Race, request: pytest.FixtureRequest) -> None:
    live: set[str] = set()
    impossible = []
    for entry in _race_commits(race):
        for event_type, name in _changes(entry):
            if (event_type == "record_added") == (name in live):
                impossible.append((entry["seq"], event_type, name))
            live.symmetric_difference_update({name})
    assert impossible == []


def test_the_views_show_the_sessions_a_replay_of_the_reported_commits_leaves_live(race: Race) -> None:
    live: set[str] = set()
    for attempt in sorted(_committed(race), key=lambda a: a.seq or 0):
        live.discard(attempt.removed or "")
        live.add(attempt.added)  # the array names are unique: no need to track them
    with _referee(race) as provider, provider(race.project) as uow:
        shown = {r["data_name"] for r in uow.data.find({"schema_ref": "session"})} & set(POOL)
    assert shown == live


def test_the_views_equal_a_rebuild_from_the_log(race: Race) -> None:
    with _referee(race) as provider:
        before = _views(provider, race.project)
        provider.rebuild(race.project)
        after = _views(provider, race.project)
    assert after == before


def _views(provider: Any, project: str) -> tuple[Any, Any]:
    with provider(project) as uow:
        found = uow.data.find(sort=[("schema_ref", 1), ("data_name", 1)])
        marked = uow.data.list_marked_for_deletion()
    return found, sorted(marked, key=lambda r: (r["data_name"], r["time_of_removal"]))


def test_writers_publishing_the_same_content_at_once_leave_each_blob_once_and_no_temporary(race: Race) -> None:
    """Each committed content is one blob however many writers published it; nothing else is on
    disk but orphans of losing attempts (allowed by design, gc removes them), one per content
    that only losers staged, and no temporary."""
    referenced = {blob_relative_path(a, e) for a, e in referenced_blobs(list(race.log)).items()}
    files = set(blob_files(race.spec, race.project))
    committed = {a.array_content for a in _committed(race)} - {None}
    only_lost = {a.array_content for a in race.attempts if not a.committed} - {None} - committed
    temporaries = sorted(f for f in files if not _BLOB_PATH.fullmatch(f))
    assert (referenced <= files, len(referenced), temporaries) == (True, len(committed), [])
    assert len(files - referenced) <= len(only_lost), sorted(files - referenced)
    assert sum(a.array_content is not None for a in _committed(race)) > len(committed)  # the same content, again


_BLOB_PATH = re.compile(r"blake3/([0-9a-f]{2})/([0-9a-f]{2})/\1\2[0-9a-f]{60}\.nc")


def test_the_store_verifies_after_the_race(race: Race) -> None:
    with _referee(race) as provider:
        report = provider.verify(race.project)
    assert report.ok, report.summary()


# -- found while racing: how a lost remove is reported -------------------------------------------
def test_a_remove_that_loses_to_a_remove_and_readd_gets_a_concurrency_error(
        store: Any, second_provider: Any, project: str) -> None:
    with store(project) as uow:
        uow.data.add(vocab.session_record("contested"))
        uow.commit()
    with second_provider(project) as loser:
        loser.data.remove("session", "contested")
        with store(project) as winner:
            winner.data.remove("session", "contested")
            winner.data.add(vocab.session_record("contested"))
            winner.commit()
        with pytest.raises(ConcurrencyError):
            loser.commit()


def test_a_unit_of_work_opened_while_another_commit_is_projected_never_removes_a_dead_generation(
        store: Any, second_provider: Any, project: str, backend_name: str, request: pytest.FixtureRequest) -> None:
    """The interleaving the race hit on MongoDB, made deterministic: writer B's commit lands
    after A's views caught up but before A reads the head, and B projects it late."""
    with store(project) as uow:
        uow.data.add(vocab.session_record("contested"))
        uow.commit()
    late = second_provider._backend(project)
    if hasattr(late, "_project_through"):  # MongoDB projects after the insert: B is slow to
        late._project_through = lambda *_args: None
    mine = store._backend(project)
    catch_up = mine.catch_up

    def catch_up_then_b_commits(runner: Any) -> None:
        catch_up(runner)
        with second_provider(project) as b:
            b.data.remove("session", "contested")
            b.data.add(vocab.session_record("contested"))
            b.commit()

    mine.catch_up = catch_up_then_b_commits
    with store(project) as a:
        mine.catch_up = catch_up
        a.data.remove("session", "contested")
        a.data.add(vocab.session_record("contested"))
        with contextlib.suppress(ConcurrencyError, AlreadyExistsError):
            a.commit()
    with store(project) as uow:
        removed = [(e["key"]["data_name"], e["generation"]) for entry in uow.log() for e in entry["events"]
                   if e["event_type"] == "record_removed"]
    assert len(removed) == len(set(removed)), removed
