"""The embedded rebuild's bulk path for ``RecordAdded`` rows (adapters/sqlite/added_rows.py)
writes exactly the tables the projectors write: checked on random logs with tricky records,
blobs, versions and every kind of event, against the incremental views and against a rebuild
through the Python projectors alone."""

from __future__ import annotations

import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections import BUILTIN_PROJECTORS, ProjectionRunner, RecordsProjector
from projections.session_index import SessionIndexProjector
from signalstore_es.adapters.sqlite import added_rows
from signalstore_es.adapters.sqlite.backend import SqliteBackend
from signalstore_es.domain.codec import event_json
from signalstore_es.domain.events import BlobPurged, BlobRef, RecordAdded, RecordPurged, RecordRemoved, RecordRestored
from signalstore_es.domain.keys import RecordKey
from signalstore_es.errors import StorageError
from signalstore_es.testing.contracts import chain

NAMES = ["s0", "s1", "s-2.x"]
#: record field names: plain ones, the row's own field names, names that need JSON escapes
FIELDS = st.sampled_from(["notes", "tags", "schema_name", "has_file", "schema_ref", "time_of_save",
                          "session_data_ref", 'q"uote', "back\\slash", "ünï", "a\nb"])
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)
DATES = st.datetimes(min_value=datetime(1960, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
#: ints as records allow them (64-bit, as BSON); orjson would read larger ones back as floats
SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | TEXT | DATES
           | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([1e-7, 0.1, -0.0, 1e300, 2.5e-300]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["schema_ref", "data_name", "x", "$y"]), inner, max_size=3),
                      max_leaves=8)
RECORDS = st.dictionaries(FIELDS, VALUES, max_size=5)
BLOBS = st.none() | st.builds(
    BlobRef, address=st.sampled_from(["blake3:aa", "blake3:bb"]), adapter=st.just("xarray.dataarray.netcdf"),
    file_format=st.just("netcdf"), extension=st.just(".nc"), size=st.integers(0, 2**40),
    shape=st.lists(st.integers(0, 9), max_size=3).map(tuple), dtype=st.sampled_from(["", "float64"]),
    file_digest=st.sampled_from(["", "blake3:ff"]))


@st.composite
def keys(draw: Any) -> RecordKey:
    version = draw(st.just(0) | DATES.map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)))
    return RecordKey(schema_ref="session", data_name=draw(st.sampled_from(NAMES)), version_timestamp=version)


@st.composite
def events(draw: Any, seq: int) -> Any:
    kind = draw(st.sampled_from(["add", "add", "add", "remove", "restore", "purge", "blob"]))
    if kind == "add":
        return RecordAdded(key=draw(keys()), record=draw(RECORDS), blob=draw(BLOBS))
    if kind == "blob":
        return BlobPurged(address=draw(st.sampled_from(["blake3:aa", "blake3:bb"])))
    event_class = {"remove": RecordRemoved, "restore": RecordRestored, "purge": RecordPurged}[kind]
    return event_class(key=draw(keys()), generation=draw(st.integers(1, seq)))


@st.composite
def logs(draw: Any) -> list[Any]:
    batches = [tuple(draw(st.lists(events(seq), min_size=1, max_size=5)))
               for seq in range(1, draw(st.integers(1, 6)) + 1)]
    return chain(*batches)


WITHOUT_PURGED_BLOBS = tuple(p for p in BUILTIN_PROJECTORS if p.view != "purged_blobs")


class PythonRecords(RecordsProjector):
    """The built-in rule through the runner: a subclass is never bulk-loaded."""


def tables(backend: SqliteBackend) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every non-empty view table, and the checkpoints."""
    db = sqlite3.connect(backend.path)
    try:
        names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name NOT IN ('commits', 'events')")]
        rows = {name: sorted(db.execute(f'SELECT * FROM "{name}"'), key=repr) for name in names}
        return {name: found for name, found in rows.items() if found}  # a rebuild creates every table
    finally:
        db.close()


def built(path: Path, commits: list[Any], projectors: Any) -> SqliteBackend:
    backend = SqliteBackend(str(path), "p")
    for commit in commits:
        backend.append(commit, ProjectionRunner(projectors))
    return backend


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commits=logs())
def test_the_bulk_rebuild_writes_what_the_projectors_write(commits: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        backend = built(Path(tmp) / "a.sqlite3", commits, BUILTIN_PROJECTORS)
        try:
            incremental = tables(backend)
            assert backend.rebuild(ProjectionRunner(BUILTIN_PROJECTORS)) == (
                len(commits), sum(len(c.events) for c in commits))
            assert tables(backend) == incremental
            # no projector of this runner wants adds: the replay reads none of their bodies
            assert backend.rebuild(ProjectionRunner(WITHOUT_PURGED_BLOBS)) == (
                len(commits), sum(len(c.events) for c in commits))
            assert tables(backend) == incremental
        finally:
            backend.close()
        python_only = (PythonRecords(), *BUILTIN_PROJECTORS[1:])
        reference = built(Path(tmp) / "b.sqlite3", commits, python_only)
        try:
            reference.rebuild(ProjectionRunner(python_only))
            assert tables(reference) == incremental
        finally:
            reference.close()


def test_a_user_projector_that_wants_adds_sees_every_add_in_a_bulk_rebuild(tmp_path: Path) -> None:
    projectors = (*BUILTIN_PROJECTORS, SessionIndexProjector())
    blob = BlobRef(address="blake3:aa", adapter="a", file_format="netcdf", extension=".nc", size=1)
    commits = chain(*[(RecordAdded(key=RecordKey(schema_ref="session", data_name=f"s{i}"),
                                   record={"session_data_ref": {"data_name": f"day{i}"}},
                                   blob=blob if i % 2 else None),) for i in range(6)])
    backend = built(tmp_path / "u.sqlite3", commits, projectors)
    try:
        before = tables(backend)
        backend.rebuild(ProjectionRunner(projectors))
        assert tables(backend) == before
        assert len(before["session_index"]) == 3
    finally:
        backend.close()


def test_the_codec_writes_the_shape_the_bulk_path_reads() -> None:
    """The bulk path takes a body as it is only if it starts and ends exactly as event_json
    writes it today; if the codec changes shape, this fails before rebuilds get slower."""
    key = RecordKey(schema_ref="session", data_name="s0", version_timestamp=datetime(2024, 1, 1, tzinfo=UTC)
                    + timedelta(milliseconds=5))
    for blob in (None, BlobRef(address="blake3:aa", adapter="a", file_format="f", extension=".e", size=3,
                               shape=(2,), dtype="int8", file_digest="blake3:ff")):
        body = event_json(RecordAdded(key=key, record={"notes": "x"}, blob=blob))
        (row,) = added_rows.added_rows([(7, 0, 1_700_000_000_000, body)])
        spliced = added_rows._spliced_row(orjson.loads(body), body, 7, 0, 1_700_000_000_000)
        assert spliced == row
        assert body.endswith(added_rows.BLOBLESS_SUFFIX) == (blob is None)


def many_adds(count: int) -> list[Any]:
    return chain(*[tuple(RecordAdded(key=RecordKey(schema_ref="session", data_name=f"n{c}-{i}"),
                                     record={"notes": f"{c}/{i}", "tags": [c, i]}) for i in range(5))
                   + (RecordRemoved(key=RecordKey(schema_ref="session", data_name=f"n{c}-0"), generation=c + 1),)
                   for c in range(count)])


@pytest.mark.parametrize("cores", [1, 2], ids=["in-process", "worker-process"])
def test_a_log_larger_than_one_chunk_is_spliced_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           cores: int) -> None:
    """With two cores the chunks after the first come from a worker process (which keeps its
    own chunk size); with one they are made in this process."""
    monkeypatch.setattr(added_rows, "CHUNK", 4)
    monkeypatch.setattr(added_rows.os, "cpu_count", lambda: cores)
    started = []
    monkeypatch.setattr(added_rows, "_start_worker", lambda *a: started.append(a) or _real_start(*a))
    backend = built(tmp_path / "many.sqlite3", many_adds(7), BUILTIN_PROJECTORS)
    try:
        before = tables(backend)
        assert backend.rebuild(ProjectionRunner(BUILTIN_PROJECTORS)) == (7, 42)
        assert tables(backend) == before
        assert len(started) == (1 if cores > 1 else 0)
    finally:
        backend.close()


_real_start = added_rows._start_worker


#: how a worker fails -> (the program it runs instead of the real one, or None for the real one
#: on a missing log; what the rebuild's error says). A frame shorter than its header says is an
#: error even if the worker exits with 0.
WORKER_FAILURES = {
    "cannot-open-the-log": (None, "worker process failed"),
    "stops-mid-chunk": ("import sys; sys.stdout.buffer.write(bytes([100]) + bytes(7) + b'abc')",
                        "stopped in the middle of a chunk"),
}


@pytest.mark.parametrize("failure", sorted(WORKER_FAILURES))
def test_a_failing_worker_fails_the_rebuild_and_leaves_the_views_as_they_were(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    program, message = WORKER_FAILURES[failure]
    monkeypatch.setattr(added_rows, "CHUNK", 4)
    monkeypatch.setattr(added_rows.os, "cpu_count", lambda: 2)
    backend = built(tmp_path / "fail.sqlite3", many_adds(3), BUILTIN_PROJECTORS)
    if program is None:
        monkeypatch.setattr(added_rows, "_start_worker",
                            lambda path, start: _real_start(str(tmp_path / "no-such.sqlite3"), start))
    else:
        monkeypatch.setattr(added_rows, "_WORKER", program)
    try:
        before = tables(backend)
        with pytest.raises(StorageError, match=message):
            backend.rebuild(ProjectionRunner(BUILTIN_PROJECTORS))
        assert tables(backend) == before
    finally:
        backend.close()
