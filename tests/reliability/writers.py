"""Child-process entry point of the concurrent-writers test.

Each writer opens its own provider on the shared store and makes units of work on a small pool
of session names. A unit of work looks at which names of the pool are live, then
sometimes removes one (the fuller the pool, the likelier) and always adds one that looked free
(the one it just removed when none did: a new generation of that key), adds an array of its
own (one attempt in four) whose content comes from a pool of three, so that writers publish the
same blobs at once, and commits with a unique message. A writer goes on until it has committed
the number of commits it was asked for. Between the look and the commit other writers commit,
so keys collide on purpose. The writer reports every attempt: where it stopped, the commit it
produced or the error it got.
"""

from __future__ import annotations

import random
from typing import Any

import attrs
import numpy as np
import xarray as xr

from signalstore_es.errors import SignalStoreError
from signalstore_es.testing import vocabulary as vocab
from tests.reliability.harness import StoreSpec, opened

BARRIER_TIMEOUT_S = 120.0
MAX_ATTEMPTS_PER_COMMIT = 3
ARRAY_CONTENTS = 3  #: arrays come in a few contents, so concurrent writers publish the same blobs
ARRAY_EVERY = 4  #: one attempt in this many adds an array (validating a record costs ~40 ms)


def has_array(index: int) -> bool:
    return index % ARRAY_EVERY == 0


def array_name(worker: int, index: int) -> str:
    return f"w{worker}-a{index}"


def pooled_array(data_name: str, content: int) -> xr.DataArray:
    values = np.random.default_rng(content).uniform(0.0, 600.0, 50)
    return xr.DataArray(values, dims=["spike_idx"], name="spikes",
                        attrs=vocab.spike_times_attrs(data_name, n_spikes=50))


@attrs.frozen(kw_only=True)
class Attempt:
    worker: int
    index: int
    message: str  #: unique commit message, to find (or not find) the attempt in the log
    added: str
    removed: str | None
    array_content: int | None = None  #: which of the pooled contents the attempt's array has
    stage: str  #: "look", "remove", "add" or "commit": where the attempt ended
    commit_id: str | None = None
    seq: int | None = None
    error: str | None = None  #: exception type name
    detail: str | None = None  #: exception message

    @property
    def committed(self) -> bool:
        return self.commit_id is not None


def run_writer(spec: StoreSpec, project: str, worker: int, commits: int, pool: tuple[str, ...],
               seed: int, barrier: Any, results: Any) -> None:
    """Entry point: make units of work until ``commits`` of them committed (at most
    ``MAX_ATTEMPTS_PER_COMMIT`` times as many attempts). Each attempt is put on ``results`` as
    ``(worker, Attempt)`` when it ends, and ``(worker, None)`` when the writer is done."""
    rng = random.Random(seed)
    committed = attempts = 0
    try:
        with opened(spec, actor=f"writer-{worker}") as provider:
            barrier.wait(BARRIER_TIMEOUT_S)  # start together: the point is to overlap
            while committed < commits and attempts < commits * MAX_ATTEMPTS_PER_COMMIT:
                attempt = _attempt(provider, project, worker, attempts, pool, rng)
                results.put((worker, attempt))
                committed, attempts = committed + attempt.committed, attempts + 1
    finally:
        results.put((worker, None))


def _attempt(provider: Any, project: str, worker: int, index: int, pool: tuple[str, ...],
             rng: random.Random) -> Attempt:
    message = f"writer {worker} attempt {index}"
    plan: dict[str, Any] = {"added": "", "removed": None, "array_content": None}
    stage = "look"
    try:
        with provider(project) as uow:
            plan = _plan(uow, pool, rng)
            if plan["removed"] is not None:
                stage = "remove"
                uow.data.remove("session", plan["removed"])
            stage = "add"
            uow.data.add(vocab.session_record(plan["added"], notes=message))
            if has_array(index):
                plan["array_content"] = rng.randrange(ARRAY_CONTENTS)
                uow.data.add(pooled_array(array_name(worker, index), plan["array_content"]))
            stage = "commit"
            receipt = uow.commit(message=message)
        return Attempt(worker=worker, index=index, message=message, **plan, stage=stage,
                       commit_id=receipt.commit_id, seq=receipt.seq)
    except SignalStoreError as err:
        return Attempt(worker=worker, index=index, message=message, **plan, stage=stage,
                       error=type(err).__name__, detail=str(err))
    except Exception as err:  # reported, and the test fails on it: nothing else may escape
        return Attempt(worker=worker, index=index, message=message, **plan, stage=stage,
                       error=f"unexpected {type(err).__name__}", detail=repr(err))


def _plan(uow: Any, pool: tuple[str, ...], rng: random.Random) -> dict[str, Any]:
    live = sorted(r["data_name"] for r in uow.data.find({"schema_ref": "session",
                                                         "data_name": {"$in": list(pool)}}))
    removed = rng.choice(live) if live and rng.random() < len(live) / len(pool) else None
    free = sorted(set(pool) - set(live))
    return {"added": rng.choice(free) if free else removed, "removed": removed, "array_content": None}
