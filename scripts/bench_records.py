"""Rows 5-9 of ``scripts/bench.py`` (metadata records, queries, replay; row 5 adds with
``add_many``, row 5a with a loop of ``add``) and the shared
machinery that row 11 (``bench_mongo``) reuses with another backend and other baselines.

A *target* says how to make a fresh store and what the raw baselines are:

* :class:`SqliteTarget` - the embedded store against the ``eventsourcing`` library's SQLite
  persistence (an ``Application`` with ``PERSISTENCE_MODULE=eventsourcing.sqlite``, a file
  database, which the library puts in WAL mode) and against raw SQL on the view table;
* ``bench_mongo.MongoTarget`` - the MongoDB backend against raw pymongo.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench_common import (
    Check,
    ProfileRequest,
    Row,
    Sizes,
    Timings,
    Workspace,
    human_count,
    interleaved,
    log,
    median,
    percentile,
    settle,
)
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from signalstore_es import UnitOfWorkProvider
from signalstore_es.testing import vocabulary

PROJECT = "bench"
FindFn = Callable[[str, str], list[Any]]


def make_records(n: int, prefix: str, first: int = 0) -> list[dict[str, Any]]:
    """Valid, distinct ``session`` records ``<prefix>-<first>`` .. (fresh dicts)."""
    return [vocabulary.session_record(f"{prefix}-{i:07d}", animal=f"Animal{i % 100}",
                                      session_notes=f"session {i} of the benchmark")
            for i in range(first, first + n)]


def add_vocabulary(provider: UnitOfWorkProvider, project: str) -> None:
    with provider(project) as uow:
        for model in vocabulary.all_models():
            uow.domain_models.add(model)
        uow.commit(message="vocabulary")


# --------------------------------------------------------------- the eventsourcing baseline


class BenchRecord(Aggregate):
    """One aggregate per record; its creation event carries the record (as our log does)."""

    @event("Added")
    def __init__(self, record: dict) -> None:  # type: ignore[type-arg]
        self.record = record


class BenchApplication(Application):
    pass


def es_application(root: str) -> BenchApplication:
    return BenchApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                 "SQLITE_DBNAME": os.path.join(root, "es.sqlite3"),
                                 "SQLITE_LOCK_TIMEOUT": "60"})


def es_recorder_insert(root: str, records: list[dict[str, Any]], timed: Timings, name: str) -> None:
    """Informational: the bare recorder, fed pre-encoded events in one call."""
    from eventsourcing.persistence import StoredEvent  # noqa: PLC0415
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore  # noqa: PLC0415

    datastore = SQLiteDatastore(os.path.join(root, "recorder.sqlite3"))
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    stored = [StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic="bench:Added",
                          state=json.dumps(r, separators=(",", ":")).encode()) for r in records]
    with timed(name):
        recorder.insert_events(stored)
    datastore.close()


class SqliteTarget:
    """The embedded backend, measured against ``eventsourcing``'s SQLite persistence."""

    label = "sqlite"
    prefix = ""  #: row ids are prefix + "5", "6", "7"
    batch_ratio = 1.0  #: row 5: >= 1.0x the baseline's events/s
    batch_min_rate = 20_000  #: row 5: and >= 20,000 records/s
    single_ratio = 1.0  #: row 6

    def __init__(self, work: Workspace) -> None:
        self.work = work

    def new_store(self, label: str) -> tuple[UnitOfWorkProvider, str, str]:
        """(provider, project, scratch folder) of an empty store with the vocabulary."""
        root = self.work.fresh(label)
        provider = UnitOfWorkProvider.embedded(root)
        add_vocabulary(provider, PROJECT)
        return provider, PROJECT, root

    def drop(self, provider: UnitOfWorkProvider, project: str, root: str) -> None:
        provider.close()
        self.work.remove(root)

    # row 5
    batch_baseline = "eventsourcing Application.save(*aggregates), SQLite file (WAL)"

    def baseline_batch(self, records: list[dict[str, Any]], timed: Timings, name: str) -> None:
        root = self.work.fresh("es-batch")
        try:
            app = es_application(root)
            with timed(name):
                app.save(*[BenchRecord(r) for r in records])
            app.close()
            es_recorder_insert(root, records, timed, name + "-recorder")
        finally:
            self.work.remove(root)

    # row 6
    single_baseline = "eventsourcing Application.save(aggregate) per event, SQLite file (WAL)"

    def baseline_single(self, records: list[dict[str, Any]], timed: Timings, name: str) -> None:
        root = self.work.fresh("es-single")
        try:
            app = es_application(root)
            with timed(name):
                for r in records:
                    app.save(BenchRecord(r))
            app.close()
        finally:
            self.work.remove(root)

    # row 7
    find_baseline = "raw indexed SQL on the records view table (read-only), json.loads"

    def raw_finder(self, provider: UnitOfWorkProvider, project: str, root: str) -> tuple[FindFn, dict[str, Any]]:
        path = os.path.join(root, project, "events.sqlite3")
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        sql = "SELECT doc FROM records WHERE schema_ref = ? AND data_name = ?"
        plan = [r[-1] for r in connection.execute("EXPLAIN QUERY PLAN " + sql, ("a", "b"))]

        def find(schema_ref: str, data_name: str) -> list[Any]:
            return [json.loads(doc) for (doc,) in connection.execute(sql, (schema_ref, data_name))]

        return find, {"query_plan": plan}


# ------------------------------------------------------------------------------- rows 5, 6


def write_rows(target: Any, sizes: Sizes, profile: ProfileRequest, *, batch: bool = True,
               single: bool = True) -> list[Row]:
    """Rows 5 and 5a (``batch``) and row 6 (``single``)."""
    return ((batch_rows(target, sizes, profile) if batch else [])
            + ([single_commit_row(target, sizes, profile)] if single else []))


def batch_rows(target: Any, sizes: Sizes, profile: ProfileRequest) -> list[Row]:
    """Rows 5 (``add_many``) and 5a (a loop of ``add``): one commit of many records."""
    p = target.prefix
    n = sizes.records
    log(f"rows {p}5, {p}5a: add+commit {n:,} records in one commit with add_many and with a loop of add, "
        f"{sizes.records_reps} repetitions ({target.label})")

    def add_batch(uow: Any, records: list[dict[str, Any]]) -> None:
        uow.data.add_many(records)

    def add_loop(uow: Any, records: list[dict[str, Any]]) -> None:
        for record in records:
            uow.data.add(record)

    variants = {p + "5": add_batch, p + "5a": add_loop}

    def store_one(timed: Timings, rep: int, row_id: str) -> None:
        provider, project, root = target.new_store("batch")
        records = make_records(n, f"b{rep}")
        try:
            with provider(project) as uow, timed(row_id):
                variants[row_id](uow, records)
                uow.commit()
        finally:
            target.drop(provider, project, root)

    def store_batch(timed: Timings, rep: int) -> None:
        # both ways of adding in each repetition, in alternating order, each on a fresh store
        for i, row_id in enumerate(variants if rep % 2 == 0 else reversed(variants)):
            if i:
                settle()
            store_one(timed, rep, row_id)

    def base_batch(timed: Timings, rep: int) -> None:
        target.baseline_batch(make_records(n, f"b{rep}"), timed, p + "5")

    store_t, base_t = interleaved(sizes.records_reps, store_batch, base_batch)
    profile.run(store_batch, profile.wants(*variants))
    recorder: dict[str, Any] = {}
    if p + "5-recorder" in base_t:
        recorder["recorder_only_s"] = median(base_t[p + "5-recorder"])
        recorder["recorder_only_events_per_s"] = n / recorder["recorder_only_s"]
    return [_batch_row(target, row_id, operation, n, store_t, base_t, recorder, sizes.records_reps)
            for row_id, operation in ((p + "5", "add_many+commit records, one commit"),
                                      (p + "5a", "add loop+commit records, one commit"))]


def single_commit_row(target: Any, sizes: Sizes, profile: ProfileRequest) -> Row:
    """Row 6: many commits of one record each."""
    p = target.prefix
    c = sizes.commits
    log(f"row {p}6: {c:,} commits of one record, {sizes.commits_reps} repetitions ({target.label})")

    def store_single(timed: Timings, rep: int) -> None:
        provider, project, root = target.new_store("single")
        records = make_records(c, f"c{rep}")
        try:
            with provider(project) as uow, timed(p + "6"):
                for record in records:
                    uow.data.add(record)
                    uow.commit()
        finally:
            target.drop(provider, project, root)

    def base_single(timed: Timings, rep: int) -> None:
        target.baseline_single(make_records(c, f"c{rep}"), timed, p + "6")

    store_t, base_t = interleaved(sizes.commits_reps, store_single, base_single)
    profile.run(store_single, profile.wants(p + "6"))
    store_s, base_s = median(store_t[p + "6"]), median(base_t[p + "6"])
    return Row(p + "6", "commits of one record each", human_count(c, "commits"), store_s, base_s,
               [Check("store/baseline throughput", base_s / store_s, ">=", target.single_ratio)],
               baseline=target.single_baseline, reps=sizes.commits_reps,
               extra={"store_samples_s": store_t, "baseline_samples_s": base_t,
                      "store_commits_per_s": c / store_s, "baseline_commits_per_s": c / base_s})


def _batch_row(target: Any, row_id: str, operation: str, n: int, store_t: dict[str, list[float]],
               base_t: dict[str, list[float]], recorder: dict[str, Any], reps: int) -> Row:
    """Row 5 (``add_many``) or 5a (a loop of ``add``) against the same baseline samples."""
    store_s, base_s = median(store_t[row_id]), median(base_t[target.prefix + "5"])
    extra: dict[str, Any] = {"store_samples_s": store_t[row_id], "baseline_samples_s": base_t,
                             "store_records_per_s": n / store_s, "baseline_events_per_s": n / base_s, **recorder}
    checks = [Check("store/baseline throughput", base_s / store_s, ">=", target.batch_ratio)]
    if target.batch_min_rate:
        checks.append(Check("store records/s", n / store_s, ">=", target.batch_min_rate, "rec/s"))
    return Row(row_id, operation, human_count(n, "records"), store_s, base_s, checks,
               baseline=target.batch_baseline, reps=reps, extra=extra)


# ---------------------------------------------------------------------------- rows 7, 8, 9


def build(provider: UnitOfWorkProvider, project: str, start: int, stop: int, batch: int) -> dict[str, Any]:
    """Add records ``start..stop`` in commits of ``batch``; returns the seq after each commit
    (the last record index it holds) and how fast the build went."""
    commits: list[tuple[int, int]] = []
    began = time.perf_counter()
    with provider(project) as uow:
        for first in range(start, stop, batch):
            last = min(stop, first + batch)
            for record in make_records(last - first, "s", first):
                uow.data.add(record)
            receipt = uow.commit(message=f"records {first}..{last - 1}")
            commits.append((receipt.seq, last))
            if len(commits) % 100 == 0:
                log(f"  built {last:,} records ({last / (time.perf_counter() - began):,.0f} rec/s so far)")
    seconds = time.perf_counter() - began
    return {"commits": commits, "seconds": seconds, "records_per_s": (stop - start) / seconds}


def query_rows(target: Any, sizes: Sizes, profile: ProfileRequest, *, with_rebuild: bool) -> list[Row]:
    p = target.prefix
    total = sizes.find_records
    log(f"rows {p}7{'' if p else ', 8'}: building {total:,} records in commits of {sizes.build_batch:,} "
        f"({target.label})")
    provider, project, root = target.new_store("find")
    try:
        built = build(provider, project, 0, total, sizes.build_batch)
        rows = _find_rows(target, provider, project, root, sizes, profile, built, total,
                          with_as_of=not p)
        if with_rebuild:
            rows.append(_rebuild_row(target, provider, project, root, sizes, profile, total))
        rows[0].extra["build"] = {"records": total, "seconds": built["seconds"],
                                  "records_per_s": built["records_per_s"]}
        return rows
    finally:
        target.drop(provider, project, root)


def _find_rows(target: Any, provider: UnitOfWorkProvider, project: str, root: str, sizes: Sizes,
               profile: ProfileRequest, built: dict[str, Any], total: int, *, with_as_of: bool) -> list[Row]:
    p = target.prefix
    commits = built["commits"]
    as_of_seq, as_of_records = commits[(len(commits) - 1) // 2]  # records 0..as_of_records-1 exist then
    rng = random.Random(7)
    names = [f"s-{rng.randrange(as_of_records):07d}" for _ in range(sizes.find_queries)]
    raw_find, raw_info = target.raw_finder(provider, project, root)

    def rep(timed: Timings, _rep: int) -> None:
        with provider(project) as uow:
            for name in names[:20]:  # warm caches and statement caches
                uow.data.find({"schema_ref": "session", "data_name": name})
                raw_find("session", name)
                if with_as_of:
                    uow.data.find({"schema_ref": "session", "data_name": name}, as_of=as_of_seq)
            settle()
            for i, name in enumerate(names):
                query = {"schema_ref": "session", "data_name": name}
                steps: list[tuple[str, Callable[[], list[Any]]]] = [
                    (p + "7", lambda query=query: uow.data.find(query)),
                    (p + "7-raw", lambda name=name: raw_find("session", name))]
                if with_as_of:
                    steps.append(("8", lambda query=query: uow.data.find(query, as_of=as_of_seq)))
                for label, call in (steps if i % 2 == 0 else steps[::-1]):
                    with timed(label):
                        found = call()
                    if len(found) != 1:
                        raise AssertionError(f"{label}: {name} found {len(found)} rows")

    timings = Timings()
    rep(timings, 0)
    profile.run(rep, profile.wants(p + "7", "8"))
    store, raw = timings.samples[p + "7"], timings.samples[p + "7-raw"]
    store_p50, raw_p50 = percentile(store, 0.5), percentile(raw, 0.5)
    size = human_count(total, "records")
    detail = {"store_p90_s": percentile(store, 0.9), "raw_p90_s": percentile(raw, 0.9),
              "store_p99_s": percentile(store, 0.99), "raw_p99_s": percentile(raw, 0.99),
              "queries": len(names), **raw_info}
    rows = [Row(p + "7", "find by schema_ref+data_name (p50)", size, store_p50, raw_p50,
                [Check("store/raw p50", store_p50 / raw_p50, "<=", 3.0),
                 Check("store p50", store_p50 * 1e3, "<=", 5.0, "ms")],
                baseline=target.find_baseline, reps=len(names), extra=detail)]
    if with_as_of:
        then = timings.samples["8"]
        then_p50 = percentile(then, 0.5)
        rows.append(Row("8", "find as_of=seq (time travel, p50)", size, then_p50, store_p50,
                        [Check("as_of/current p50", then_p50 / store_p50, "<=", 2.0)],
                        baseline="row 7 query on the current state", reps=len(names),
                        extra={"as_of_seq": as_of_seq, "as_of_p90_s": percentile(then, 0.9),
                               "as_of_p99_s": percentile(then, 0.99)}))
    return rows


def _rebuild_row(target: Any, provider: UnitOfWorkProvider, project: str, root: str, sizes: Sizes,
                 profile: ProfileRequest, built_so_far: int) -> Row:
    total = sizes.rebuild_events
    if total > built_so_far:
        log(f"row 9: extending the log to {total:,} record events")
        build(provider, project, built_so_far, total, sizes.build_batch)
    path = os.path.join(root, project, "events.sqlite3")
    reports: list[Any] = []
    log(f"row 9: rebuild from {total:,} events, {sizes.rebuild_reps} repetitions")

    def store(timed: Timings, _rep: int) -> None:
        with timed("9"):
            reports.append(provider.rebuild(project))

    def baseline(timed: Timings, _rep: int) -> None:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            with timed("9"):
                count = sum(1 for (body,) in connection.execute("SELECT body FROM events ORDER BY seq, idx")
                            if json.loads(body))
        finally:
            connection.close()
        reports.append(count)

    store_t, base_t = interleaved(sizes.rebuild_reps, store, baseline)
    profile.run(store, profile.wants("9"))
    events = next(r.events for r in reports if not isinstance(r, int))
    store_s, base_s = median(store_t["9"]), median(base_t["9"])
    return Row("9", "rebuild all views from the log", human_count(events, "events"), store_s, base_s,
               [Check("events/s", events / store_s, ">=", 50_000, "ev/s")],
               baseline="raw scan of the events table + json.loads (the floor of a replay)",
               reps=sizes.rebuild_reps, ratio=store_s / base_s,
               extra={"events": events, "store_samples_s": store_t, "baseline_samples_s": base_t,
                      "store_events_per_s": events / store_s, "raw_scan_events_per_s": events / base_s,
                      "store/raw": store_s / base_s})


