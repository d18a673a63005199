"""A writer killed with SIGKILL at every interesting point leaves a store that is whole.

Each test runs one kill point (see :mod:`tests.reliability.crash_child`) over many trials, two
at a time, each on a fresh project; :mod:`tests.reliability.crash_trials` checks after every
kill that the log holds only whole, intended commits, ``verify`` is ok, the views equal a
rebuild, and ``gc(grace=0)`` removes the orphans and nothing else. Run with ``-s`` to see the
counts per kill point.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.reliability.crash_trials import TrialResult, make_plan, run_trial
from tests.reliability.harness import StoreSpec

#: trials per kill point: a FerretDB-backed MongoDB is an order of magnitude slower than SQLite
TRIALS_PER_POINT = {"sqlite": 34, "mongo": 6}
PARALLEL_TRIALS = 2

#: what every trial of a kill point must show, beyond the checks every trial passes
EXPECTED: dict[str, Callable[[TrialResult, str], bool]] = {
    # the kill lands inside the netCDF write: a partial temporary is left, nothing committed
    "mid_blob_write": lambda r, _b: r.landed == 0 and r.temporaries == 1,
    # anywhere from hashing to publishing: the first array may be a complete orphan; the one in
    # flight leaves a temporary, a complete orphan, or both (publishing hard-links the temporary
    # into place, which never overwrites a blob another writer published, then unlinks it)
    "random_blob_write": lambda r, _b: r.landed == 0 and r.temporaries <= 1 and r.orphan_blobs <= 2,
    # both arrays of the batch were published, then the writer died: two orphans, no commit
    "before_commit": lambda r, _b: r.landed == 0 and (r.temporaries, r.orphan_blobs) == (0, 2),
    # SQLite: the transaction was open, so nothing landed; MongoDB: the commit document landed
    # but the views were not updated (the next open repairs them)
    "inside_append": lambda r, b: r.landed == {"sqlite": 0, "mongo": 1}[b] and r.orphan_blobs == 2 * (1 - r.landed),
    # the commit is durable; a purge's bytes were not deleted yet, gc finishes it
    "after_append": lambda r, _b: r.landed == 1 and r.finished_purges == int(r.plan.is_purge) and r.orphan_blobs == 0,
    # before, during or after the append: committed whole or not at all (checked per trial)
    "random_during_commit": lambda r, _b: r.landed in (0, 1),
}


@pytest.mark.parametrize("kill_point", sorted(EXPECTED))
def test_a_writer_killed_at_any_point_leaves_only_whole_commits_and_collectable_orphans(
        kill_point: str, store_spec: StoreSpec, backend_name: str, project: str,
        process_context: Any, drop_mongo_projects: list[str]) -> None:
    rng = random.Random(f"{kill_point}-{project}")
    plans = [make_plan(trial, kill_point, rng) for trial in range(TRIALS_PER_POINT[backend_name])]
    drop_mongo_projects.extend(f"{project}t{plan.trial}" for plan in plans)
    with ThreadPoolExecutor(PARALLEL_TRIALS) as pool:
        results = list(pool.map(lambda plan: run_trial(process_context, store_spec, f"{project}t{plan.trial}",
                                                       plan, rng.randrange(2**32)), plans))
    print(_summary(kill_point, backend_name, results))
    assert [r for r in results if not EXPECTED[kill_point](r, backend_name)] == []


def _summary(kill_point: str, backend_name: str, results: list[TrialResult]) -> str:
    landed = sum(r.landed for r in results)
    return (f"\n{backend_name} {kill_point}: {len(results)} trials; interrupted commit landed in {landed}; "
            f"found {sum(r.temporaries for r in results)} temporaries and "
            f"{sum(r.orphan_blobs for r in results)} orphan blobs (in "
            f"{sum(1 for r in results if r.temporaries or r.orphan_blobs)} trials), finished "
            f"{sum(r.finished_purges for r in results)} purges; gc removed all of them and nothing else")
