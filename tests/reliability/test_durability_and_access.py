"""Durability of acknowledged commits, credentials kept out of logs, errors and reprs, and
projects that cannot reach each other's records, events or blobs.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from signalstore_es import UnitOfWorkProvider
from signalstore_es.adapters.fsspec import blob_store
from signalstore_es.api import maintenance
from signalstore_es.errors import ConcurrencyError, NotFoundError, SignalStoreError, StorageError, ValidationError
from signalstore_es.testing import vocabulary as vocab
from tests.conftest import spike_times
from tests.reliability.crash_child import run_acknowledged_commit
from tests.reliability.harness import StoreSpec, add_vocabulary, blob_dir, blob_files, opened

PASSWORD = "S3cr3t-Passw0rd"
UNREACHABLE_URI = f"mongodb://alice:{PASSWORD}@127.0.0.1:9/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"


# -- durability --------------------------------------------------------------------------------
@pytest.mark.parametrize("durability", ["full", "normal"])
def test_an_acknowledged_commit_survives_the_writer_being_killed_at_once(
        tmp_path: Path, project: str, process_context: Any, durability: str) -> None:
    spec = StoreSpec(backend="sqlite", root=str(tmp_path / "store"), blob_root=str(tmp_path / "store"))
    with opened(spec, actor="preparer") as provider:
        add_vocabulary(provider, project)
    acknowledged = _commit_and_get_killed(process_context, spec, project, durability)
    with opened(spec, actor="reader") as provider, provider(project) as uow:
        last = uow.log()[-1]
        report = provider.verify(project)
    assert ((last["seq"], last["commit_id"], last["hash"]), report.ok) == (acknowledged, True)


def _commit_and_get_killed(context: Any, spec: StoreSpec, project: str, durability: str) -> tuple[Any, ...]:
    ours, theirs = context.Pipe()
    child = context.Process(target=run_acknowledged_commit, args=(spec, project, durability, theirs), daemon=True)
    child.start()
    theirs.close()
    try:
        assert ours.poll(60), "the writer did not acknowledge its commit within 60 s"
        message = ours.recv()
        child.kill()  # the instant the receipt arrived
    finally:
        child.join(60)
        ours.close()
    assert message[0] == "acknowledged", message
    return tuple(message[1:])


def test_gc_keeps_an_old_orphan_that_a_writer_reuses_while_gc_runs(
        store: UnitOfWorkProvider, store_spec: StoreSpec, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    array = spike_times("reused", seed=5)
    with store(project) as uow:
        uow.data.add(array)  # rolled back: an orphan, then left alone for two days
    _age_blobs(store_spec, project, days=2)
    with store(project) as writer:
        read_log = maintenance.purged_addresses

        def writer_reuses_the_blob_after_gc_listed_it(commits: Any) -> Any:
            writer.data.add(array)  # dedup: finds the complete blob, refreshes its time
            return read_log(commits)

        monkeypatch.setattr(maintenance, "purged_addresses", writer_reuses_the_blob_after_gc_listed_it)
        store.gc(project, grace=timedelta(hours=24))
        writer.commit(message="reuses an old blob")
    report = store.verify(project)
    assert report.ok, report.summary()


def test_gc_puts_back_an_old_orphan_a_writer_reuses_in_the_instant_before_gc_claims_it(
        store: UnitOfWorkProvider, store_spec: StoreSpec, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The narrowest window: gc has checked the blob's time (old) and is about to take it."""
    array = spike_times("reused", seed=7)
    with store(project) as uow:
        uow.data.add(array)  # rolled back: an orphan, then left alone for two days
    _age_blobs(store_spec, project, days=2)
    with store(project) as writer:
        last_check = blob_store._local_stamp

        def writer_reuses_the_blob_right_after_gc_checked_it(local: str) -> float:
            seen = last_check(local)
            if ".tmp-" not in local:  # gc's last check before its claim, not the one after it
                writer.data.add(array)
            return seen

        monkeypatch.setattr(blob_store, "_local_stamp", writer_reuses_the_blob_right_after_gc_checked_it)
        removed = store.gc(project, grace=timedelta(hours=24)).removed_blobs
        writer.commit(message="reuses an old blob")
    report = store.verify(project)
    assert (removed, report.ok) == ((), True), report.summary()


def test_a_commit_whose_blob_gc_removed_while_the_unit_of_work_was_open_fails_and_writes_nothing(
        store: UnitOfWorkProvider, store_spec: StoreSpec, project: str) -> None:
    with store(project) as writer:
        writer.data.add(spike_times("slow", seed=8))  # then the unit of work stays open for two days
        _age_blobs(store_spec, project, days=2)
        removed = store.gc(project, grace=timedelta(hours=24)).removed_blobs
        before = writer.log()
        with pytest.raises(ConcurrencyError, match="removed before the commit"):
            writer.commit(message="too late")
        after = writer.log()
    report = store.verify(project)
    assert (len(removed), after == before, report.ok) == (1, True, True), report.summary()


def _age_blobs(spec: StoreSpec, project: str, *, days: float) -> None:
    """Set the time of every file under the project's blobs to ``days`` ago."""
    then = time.time() - days * 86400
    for relative in blob_files(spec, project):
        os.utime(blob_dir(spec, project) / relative, (then, then))


# -- credentials ---------------------------------------------------------------------------------
@pytest.fixture
def captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG, logger="signalstore_es"):
        yield caplog


def _everything_said(logs: pytest.LogCaptureFixture, *texts: Any) -> str:
    records = [f"{r.getMessage()} {r.__dict__}" for r in logs.records]
    return "\n".join([*records, *map(str, texts)])


def test_a_password_in_a_mongodb_uri_appears_in_no_log_error_or_repr(
        captured_logs: pytest.LogCaptureFixture, project: str) -> None:
    from pymongo import MongoClient

    with MongoClient(UNREACHABLE_URI) as client:
        provider = UnitOfWorkProvider(mongo_client=client, filesystem=MemoryFileSystem(skip_instance_cache=True),
                                      memory_store={})
        errors = []
        for call in (lambda: provider(project).__enter__(), lambda: provider.verify(project),
                     lambda: provider.rebuild(project), lambda: provider.gc(project)):
            with pytest.raises(SignalStoreError) as raised:
                call()
            errors += [raised.value, repr(raised.value), raised.value.args]
        said = _everything_said(captured_logs, provider, provider(project), *errors)
    assert (PASSWORD in said, "127.0.0.1:9" in said) == (False, True)


def test_the_command_line_never_prints_the_password_of_its_mongodb_uri(project: str) -> None:
    command = [sys.executable, "-m", "signalstore_es", "--verbose", "find", project, "{}",
               "--mongo-uri", UNREACHABLE_URI, "--storage", "memory://signalstore-test"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert (done.returncode, PASSWORD in done.stdout + done.stderr) == (1, False), done.stderr


class _HttpLikeFileSystem(MemoryFileSystem):
    """Fails writes the way an HTTP filesystem does: the error names the URL, credentials and all."""

    def _open(self, path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode:
            raise PermissionError(errno.EACCES, f"403 Forbidden: https://alice:{PASSWORD}@data.example.org/{path}")
        return super()._open(path, mode, *args, **kwargs)


def test_a_password_in_a_blob_storage_error_is_not_repeated(tmp_path: Path, project: str,
                                                             captured_logs: pytest.LogCaptureFixture) -> None:
    filesystem = _HttpLikeFileSystem(skip_instance_cache=True)
    provider = UnitOfWorkProvider.embedded(tmp_path / "store", filesystem=filesystem, actor="tester")
    add_vocabulary(provider, project)
    with provider(project) as uow, pytest.raises(StorageError) as raised:
        uow.data.add(spike_times("u1"))
    assert PASSWORD not in _everything_said(captured_logs, raised.value, repr(raised.value))


# -- isolation between projects -----------------------------------------------------------------
@pytest.fixture
def two_projects(store: UnitOfWorkProvider, project: str, drop_mongo_projects: list[str]) -> tuple[str, str]:
    """Projects A and B in one store, each with Animal1 (different notes) and identical array u1."""
    other = f"{project}b"
    drop_mongo_projects.append(other)
    with store(other) as uow:
        for model in vocab.all_models():
            uow.domain_models.add(model)
        uow.commit(message="vocabulary of B")
    for name in (project, other):
        with store(name) as uow:
            uow.data.add(vocab.animal_record("Animal1", notes=f"belongs to {name}"))
            uow.data.add(spike_times("u1", seed=7))
            uow.memory.add("animal", "scratch", name)
            uow.commit(message=f"data of {name}")
    return project, other


def test_each_project_finds_only_its_own_records(store: UnitOfWorkProvider, two_projects: tuple[str, str]) -> None:
    seen = {}
    for name in two_projects:
        with store(name) as uow:
            seen[name] = {r["notes"] for r in uow.data.find({"schema_ref": "animal"})}
    assert seen == {name: {f"belongs to {name}"} for name in two_projects}


def test_a_record_of_one_project_cannot_be_got_in_another(store: UnitOfWorkProvider,
                                                         two_projects: tuple[str, str]) -> None:
    a, b = two_projects
    with store(a) as uow:
        uow.data.add(vocab.animal_record("OnlyInA"))
        uow.commit()
    with store(b) as uow:
        got, exists, history = uow.data.get("animal", "OnlyInA"), uow.data.exists("animal", "OnlyInA"), \
            uow.data.history("animal", "OnlyInA")
    assert (got, exists, history) == (None, False, [])


def test_the_logs_of_two_projects_share_no_commit(store: UnitOfWorkProvider, two_projects: tuple[str, str]) -> None:
    ids = []
    for name in two_projects:
        with store(name) as uow:
            ids.append({entry["commit_id"] for entry in uow.log()})
    assert (bool(ids[0]), bool(ids[1]), ids[0] & ids[1]) == (True, True, set())


def test_each_project_keeps_its_blobs_under_its_own_folder(store_spec: StoreSpec,
                                                          two_projects: tuple[str, str]) -> None:
    a, b = two_projects
    files_a, files_b = blob_files(store_spec, a), blob_files(store_spec, b)
    assert (len(files_a), files_a == files_b, blob_dir(store_spec, a) == blob_dir(store_spec, b)) == (1, True, False)


def test_purging_a_blob_in_one_project_leaves_the_same_content_in_another_loadable(
        store: UnitOfWorkProvider, two_projects: tuple[str, str]) -> None:
    a, b = two_projects
    with store(a) as uow:
        uow.data.remove("spike_times", "u1")
        uow.commit()
        uow.purge()
        uow.commit()
    with store(b) as uow:
        loaded = uow.data.get("spike_times", "u1")
    assert np.array_equal(loaded.values, spike_times("u1", seed=7).values)


def test_a_blob_address_of_one_project_is_not_found_in_another(store: UnitOfWorkProvider,
                                                              two_projects: tuple[str, str]) -> None:
    a, b = two_projects
    with store(a) as uow:
        uow.data.add(spike_times("only-in-a", seed=11))
        uow.commit()
        (event,) = uow.log()[-1]["events"]
    blobs_of_b = store._blob_store(b)  # back door: the API never takes an address from a caller
    adapter = store._registry.by_name(event["blob"]["adapter"])
    with pytest.raises(NotFoundError):
        blobs_of_b.get(event["blob"]["address"], event["blob"]["extension"], adapter)


def test_a_record_cannot_smuggle_in_a_reference_to_another_projects_blob(
        store: UnitOfWorkProvider, two_projects: tuple[str, str]) -> None:
    a, b = two_projects
    with store(a) as uow:
        blob = uow.log()[-1]["events"][1]["blob"]
    forged = vocab.animal_record("Forged1", _blob=blob, _key="animal/Animal1/0")
    with store(b) as uow, pytest.raises(ValidationError):
        uow.data.add(forged)


def test_memory_objects_of_one_project_are_invisible_in_another(store: UnitOfWorkProvider,
                                                               two_projects: tuple[str, str]) -> None:
    seen = {}
    for name in two_projects:
        with store(name) as uow:
            seen[name] = uow.memory.get("animal", "scratch")
    assert seen == {name: name for name in two_projects}
