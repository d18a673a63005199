"""Parent side of the crash tests: run one writer, kill it with SIGKILL, examine the store.

:func:`run_trial` prepares a fresh project, starts :func:`~tests.reliability.crash_child.run_crash_child`,
waits for the message that marks the trial's kill point, sleeps a random delay for the random
points, kills the child and then checks, with a new provider as the next process would:

1. the next unit of work opens (views repaired) and every commit in the log is one the writer
   intended, whole: its message and exactly its events;
2. ``verify`` is ok: no committed event refers to a missing or partial blob;
3. the views equal a rebuild from the log;
4. ``gc(grace=0)`` removes exactly the orphans (temporaries and unreferenced blobs): afterwards
   the blob folder holds exactly the referenced blobs, with unchanged bytes, and every live
   array loads with the values the writer wrote.

It returns what it observed, for the per-kill-point summary.
"""

from __future__ import annotations

import random
import re
import time
from datetime import timedelta
from typing import Any

import attrs
import numpy as np

from tests.reliability.crash_child import PURGE_MESSAGE, REMOVE_MESSAGE, CrashPlan, run_crash_child
from tests.reliability.harness import (
    StoreSpec,
    add_vocabulary,
    array_values,
    batch_message,
    batch_names,
    blob_files,
    blob_relative_path,
    is_temporary,
    opened,
    referenced_blobs,
    session_and_spike_times_models,
)

SIGNAL_TIMEOUT_S = 60.0
#: the message at which the parent starts its (random) delay, and the delay's upper bound
TRIGGERS = {"mid_blob_write": ("inside_blob_write", 0.0), "random_blob_write": ("writing_blob", 0.08),
            "before_commit": ("staged", 0.0), "inside_append": ("inside_append", 0.0),
            "after_append": ("appended", 0.0), "random_during_commit": ("committing", 0.012)}
_NAME = re.compile(r"^t(\d+)-b(\d+)-([ab])$")


@attrs.frozen(kw_only=True)
class TrialResult:
    plan: CrashPlan
    landed: int  #: commits of the interrupted step found in the log (0 or 1)
    temporaries: int  #: leftover temporary files found before gc
    orphan_blobs: int  #: complete but unreferenced blobs gc removed
    finished_purges: int  #: purged blobs whose bytes gc deleted


def make_plan(trial: int, kill_point: str, rng: random.Random) -> CrashPlan:
    is_purge = kill_point == "after_append" and trial % 2 == 1
    return CrashPlan(trial=trial, kill_point=kill_point,
                     full_batches=rng.randint(1 if is_purge else 0, 2),
                     slab=rng.randint(0, 40), is_purge=is_purge)


def run_trial(context: Any, spec: StoreSpec, project: str, plan: CrashPlan, delay_seed: int) -> TrialResult:
    """Prepare ``project``, run and kill the writer, examine the store (AssertionError if wrong)."""
    with opened(spec, actor="preparer") as provider:
        add_vocabulary(provider, project, session_and_spike_times_models())
    signals = _run_and_kill(context, spec, project, plan, random.Random(delay_seed))
    try:
        return _examine(spec, project, plan)
    except AssertionError as err:
        raise AssertionError(f"trial {plan} (child said {signals}): {err}") from err


def _run_and_kill(context: Any, spec: StoreSpec, project: str, plan: CrashPlan,
                  rng: random.Random) -> list[Any]:
    trigger, max_delay = TRIGGERS[plan.kill_point]
    ours, theirs = context.Pipe()
    child = context.Process(target=run_crash_child, args=(spec, project, plan, theirs), daemon=True)
    child.start()
    theirs.close()
    signals: list[Any] = []
    try:
        while not signals or signals[-1][0] != trigger:
            if not ours.poll(SIGNAL_TIMEOUT_S):
                raise AssertionError(f"trial {plan}: no {trigger!r} within {SIGNAL_TIMEOUT_S} s; got {signals}")
            signals.append(_receive(ours, plan, signals))
        time.sleep(rng.uniform(0.0, max_delay))
        child.kill()
    finally:
        child.join(SIGNAL_TIMEOUT_S)
        if child.is_alive():
            child.kill()
            child.join()
        signals.extend(_drain(ours))
        ours.close()
    return signals


def _drain(conn: Any) -> list[Any]:
    """Messages the child sent before it died (it may have passed the trigger meanwhile)."""
    left = []
    try:
        while conn.poll(0):
            left.append(conn.recv())
    except EOFError:
        pass
    return left


def _receive(conn: Any, plan: CrashPlan, signals: list[Any]) -> Any:
    try:
        message = conn.recv()
    except EOFError:
        raise AssertionError(f"trial {plan}: the writer died before its kill point; got {signals}") from None
    if message[0] == "error":
        raise AssertionError(f"trial {plan}: the writer failed: {message[1]}")
    return message


# -- examining the store after the kill ----------------------------------------------------------
def _examine(spec: StoreSpec, project: str, plan: CrashPlan) -> TrialResult:
    files_before = blob_files(spec, project)
    with opened(spec, actor="examiner") as provider:
        with provider(project) as uow:  # the next open works and repairs the views
            log = uow.log()
            views = _views(uow)
        landed = _check_commits_are_whole_and_intended(log[1:], plan)
        report = provider.verify(project)
        assert report.ok, f"verify after the crash: {report.summary()}"
        provider.rebuild(project)
        with provider(project) as uow:
            assert _views(uow) == views, "views differ from a rebuild of the log"
        gc = provider.gc(project, grace=timedelta(0))
        _check_blob_folder_after_gc(spec, project, log, files_before)
        with provider(project) as uow:
            _check_live_arrays_load(uow)
    return TrialResult(plan=plan, landed=landed, temporaries=sum(map(is_temporary, files_before)),
                       orphan_blobs=len(gc.removed_blobs), finished_purges=gc.finished_purges)


def _views(uow: Any) -> tuple[Any, Any]:
    found = uow.data.find(sort=[("schema_ref", 1), ("data_name", 1)])
    return found, uow.data.list_marked_for_deletion()


def _intended_commits(plan: CrashPlan) -> list[tuple[str, list[tuple[str, str]]]]:
    """(message, [(event_type, data_name)...]) of every commit the writer meant, in order."""
    def batch(b: int) -> tuple[str, list[tuple[str, str]]]:
        return batch_message(b), [("record_added", name) for name in batch_names(plan.trial, b)]

    intended = [batch(b) for b in range(plan.full_batches)]
    if plan.is_purge:
        first = batch_names(plan.trial, 0)[0]
        intended += [(REMOVE_MESSAGE, [("record_removed", first)]),
                     (PURGE_MESSAGE, [("record_purged", first), ("blob_purged", "")])]
    else:
        intended.append(batch(plan.killed_batch))
    return intended


def _check_commits_are_whole_and_intended(commits: list[dict[str, Any]], plan: CrashPlan) -> int:
    intended = _intended_commits(plan)
    found = [(c["message"], [(e["event_type"], _data_name(e)) for e in c["events"]]) for c in commits]
    assert found == intended[:len(found)], f"log holds {found}, writer intended {intended}"
    assert len(intended) - 1 <= len(found), f"commits made before the kill point are missing: {found}"
    return len(found) - (len(intended) - 1)


def _data_name(event: dict[str, Any]) -> str:
    return str(event["key"]["data_name"]) if "key" in event else ""


def _check_blob_folder_after_gc(spec: StoreSpec, project: str, log: list[dict[str, Any]],
                                files_before: dict[str, str]) -> None:
    files_after = blob_files(spec, project)
    expected = {blob_relative_path(a, e) for a, e in referenced_blobs(log).items()}
    assert set(files_after) == expected, (f"after gc the blob folder holds {sorted(files_after)}, "
                                          f"the log references {sorted(expected)}")
    changed = [p for p, digest in files_after.items() if files_before.get(p) != digest]
    assert changed == [], f"gc or the crash changed committed blob files: {changed}"


def _check_live_arrays_load(uow: Any) -> None:
    for record in uow.data.find({"has_file": True}):
        array = uow.data.get(record["schema_ref"], record["data_name"])
        trial, batch, part = _parse(record["data_name"])
        expected = array_values(trial, batch, "ab".index(part), int(record["shape"][0]))
        assert np.array_equal(array.values, expected), f"{record['data_name']} loads other values"


def _parse(data_name: str) -> tuple[int, int, str]:
    match: re.Match[str] | None = _NAME.match(data_name)
    assert match is not None, f"unexpected record {data_name!r}"
    return int(match.group(1)), int(match.group(2)), match.group(3)
