"""Child-process entry point of the crash tests: a writer that the parent kills with SIGKILL.

The writer commits ``full_batches`` batches (three records each, two with arrays), then works
towards one more commit and tells the parent, through a pipe, when it reaches the point where
the trial's kill should land. At the deterministic points it then waits to be killed; at the
random ones it keeps going while the parent kills it after a random delay.

Kill points
-----------
``mid_blob_write``
    Inside the netCDF write of the batch's large array, after a random number of its slabs
    (hooked into the adapter's slab encoder): a partial temporary file is on disk.
``random_blob_write``
    At a random instant after starting to stage the batch with its large array (hashing,
    writing, fsync or publishing).
``before_commit``
    The whole batch is staged (its blobs are published), ``commit`` not called.
``inside_append``
    Inside the backend's ``append``, right after the commit's rows/document were inserted:
    before SQLite's COMMIT, or before MongoDB's views are updated.
``after_append``
    ``append`` returned (the commit is durable); nothing after it in ``uow.commit`` has run
    (receipt, byte deletion of a purge, reopening). Every other trial the commit is a purge.
``random_during_commit``
    At a random instant after calling ``uow.commit``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import attrs

from signalstore_es.adapters.formats import netcdf
from signalstore_es.adapters.formats.netcdf import NetCdfDataArrayAdapter
from tests.reliability.harness import LARGE_N, StoreSpec, batch_message, batch_names, opened, stage_batch

PARK_S = 120.0  #: a parked child waits this long for its kill, then exits on its own
SLAB_BYTES = 64 * 2**10  #: small slabs, so that a large array is written in many steps
PURGE_MESSAGE = "purge"
REMOVE_MESSAGE = "remove before purge"


@attrs.frozen(kw_only=True)
class CrashPlan:
    trial: int
    kill_point: str
    full_batches: int  #: batches committed before the one that is interrupted
    slab: int = 0  #: mid_blob_write: the slab during which the write stops
    is_purge: bool = False  #: after_append: the interrupted commit purges batch 0's first array

    @property
    def killed_batch(self) -> int:
        return self.full_batches


def run_crash_child(spec: StoreSpec, project: str, plan: CrashPlan, conn: Any) -> None:
    """Entry point: commit the full batches, then go to the kill point and report reaching it."""
    try:
        with opened(spec, actor=f"crash-{plan.trial}") as provider:
            provider.register_adapter(NetCdfDataArrayAdapter(chunk_bytes=SLAB_BYTES))
            with provider(project) as uow:
                for batch in range(plan.full_batches):
                    stage_batch(uow, plan.trial, batch)
                    uow.commit(message=batch_message(batch))
                KILL_POINTS[plan.kill_point](spec, uow, plan, conn)
        conn.send(("finished",))
    except BaseException as err:  # the parent fails the trial with this
        conn.send(("error", f"{type(err).__name__}: {err}"))
        raise


def _park(conn: Any) -> None:
    """Wait to be killed; if the parent goes away instead, die just as abruptly."""
    conn.poll(PARK_S)
    os._exit(3)


def _hooked(owner: Any, name: str, after: Callable[..., None]) -> None:
    """Replace ``owner.name`` with a wrapper that calls the original, then ``after``."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        after(*args)
        return result

    setattr(owner, name, wrapper)


def _signal_and_park(conn: Any, signal: str) -> Callable[..., None]:
    def after(*_args: Any) -> None:
        conn.send((signal,))
        _park(conn)

    return after


def _backend_class(spec: StoreSpec) -> Any:
    if spec.backend == "sqlite":
        from signalstore_es.adapters.sqlite import SqliteBackend

        return SqliteBackend
    from signalstore_es.adapters.mongo import MongoBackend

    return MongoBackend


def _mid_blob_write(spec: StoreSpec, uow: Any, plan: CrashPlan, conn: Any) -> None:
    slabs = iter(range(10**9))

    def after_encode(*_args: Any) -> None:
        if next(slabs) == plan.slab:
            conn.send(("inside_blob_write", plan.slab))
            _park(conn)

    _hooked(netcdf, "_encode", after_encode)
    stage_batch(uow, plan.trial, plan.killed_batch, first_n=LARGE_N)


def _random_blob_write(spec: StoreSpec, uow: Any, plan: CrashPlan, conn: Any) -> None:
    conn.send(("writing_blob",))
    stage_batch(uow, plan.trial, plan.killed_batch, first_n=LARGE_N)
    conn.send(("staged",))
    _park(conn)


def _before_commit(spec: StoreSpec, uow: Any, plan: CrashPlan, conn: Any) -> None:
    stage_batch(uow, plan.trial, plan.killed_batch)
    conn.send(("staged",))
    _park(conn)


def _inside_append(spec: StoreSpec, uow: Any, plan: CrashPlan, conn: Any) -> None:
    stage_batch(uow, plan.trial, plan.killed_batch)
    _hooked(_backend_class(spec), "_insert", _signal_and_park(conn, "inside_append"))
    uow.commit(message=batch_message(plan.killed_batch))


def _after_append(spec: StoreSpec, uow: Any, plan: CrashPlan, conn: Any) -> None:
    if plan.is_purge:
        uow.data.remove("spike_times", batch_names(plan.trial, 0)[0])
        uow.commit(message=REMOVE_MESSAGE)
        uow.purge()
        message = PURGE_MESSAGE
    else:
        stage_batch(uow, plan.trial, plan.killed_batch)
        message = batch_message(plan.killed_batch)
    _hooked(_backend_class(spec), "append", _signal_and_park(conn, "appended"))
    uow.commit(message=message)


def _random_during_commit(spec: StoreSpec, uow: Any, plan: CrashPlan, conn: Any) -> None:
    stage_batch(uow, plan.trial, plan.killed_batch)
    conn.send(("committing",))
    uow.commit(message=batch_message(plan.killed_batch))
    conn.send(("committed",))
    _park(conn)


KILL_POINTS: dict[str, Callable[[StoreSpec, Any, CrashPlan, Any], None]] = {
    "mid_blob_write": _mid_blob_write,
    "random_blob_write": _random_blob_write,
    "before_commit": _before_commit,
    "inside_append": _inside_append,
    "after_append": _after_append,
    "random_during_commit": _random_during_commit,
}


def run_acknowledged_commit(spec: StoreSpec, project: str, durability: str, conn: Any) -> None:
    """Entry point: commit one batch, send the receipt's (seq, commit_id, hash), wait to be killed."""
    try:
        from signalstore_es import UnitOfWorkProvider

        provider = UnitOfWorkProvider.embedded(spec.root or "", actor="durable", durability=durability)
        with provider(project) as uow:
            stage_batch(uow, 0, 0)
            receipt = uow.commit(message=batch_message(0))
        assert receipt is not None
        conn.send(("acknowledged", receipt.seq, receipt.commit_id, receipt.hash))
    except BaseException as err:
        conn.send(("error", f"{type(err).__name__}: {err}"))
        raise
    _park(conn)
