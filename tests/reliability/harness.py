"""Shared pieces of the reliability tests: where a store lives, how a child process opens it,
what a writer intends to commit, and back doors to the blob files.

Everything a child process runs is a module-level function of this package, so that
``spawn`` and ``forkserver`` children can import it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import xarray as xr

from signalstore_es import UnitOfWorkProvider
from signalstore_es.testing import vocabulary as vocab

#: events in every batch a crash-test writer commits: two arrays and one session record
BATCH_EVENTS = 3
SMALL_N = 200
LARGE_N = 400_000
SESSION = "2024-04-28-AM-Animal1"


@attrs.frozen(kw_only=True)
class StoreSpec:
    """Where a store lives, in a form a child process can receive (picklable, no clients)."""

    backend: str  #: "sqlite" or "mongo"
    blob_root: str  #: local folder holding ``<project>/blobs``
    root: str | None = None  #: embedded store root (sqlite)
    mongo_uri: str | None = None


@contextlib.contextmanager
def opened(spec: StoreSpec, actor: str) -> Iterator[UnitOfWorkProvider]:
    """A provider on ``spec`` with its own connection, as a separate process would open it."""
    if spec.backend == "sqlite":
        assert spec.root is not None
        provider = UnitOfWorkProvider.embedded(spec.root, actor=actor)
        try:
            yield provider
        finally:
            provider.close()
        return
    import fsspec
    from fsspec.implementations.dirfs import DirFileSystem
    from pymongo import MongoClient

    filesystem = DirFileSystem(spec.blob_root, fsspec.filesystem("file"))
    with MongoClient(spec.mongo_uri, serverSelectionTimeoutMS=10_000) as client:
        provider = UnitOfWorkProvider(mongo_client=client, filesystem=filesystem, memory_store={},
                                      actor=actor)
        try:
            yield provider
        finally:
            provider.close()


def session_and_spike_times_models() -> list[dict[str, Any]]:
    """The part of the example vocabulary that session and spike_times records need.

    Validating a record looks every model it uses up in the whole ``domain_models`` view, so
    a smaller vocabulary makes the many units of work of the concurrency test cheaper.
    """
    data_models = [m for m in vocab.data_models() if m["schema_name"] in ("session", "spike_times")]
    used = {"data_ref" if name.endswith("_data_ref") else name
            for model in data_models for name in model["json_schema"]["properties"]}
    terms = [m for m in vocab.property_models() if m["schema_name"] in used]
    return vocab.metamodels() + terms + data_models


def add_vocabulary(provider: UnitOfWorkProvider, project: str,
                   models: list[dict[str, Any]] | None = None) -> None:
    """The example vocabulary (or ``models``) plus the animal, probe and session the arrays refer to."""
    with provider(project) as uow:
        for model in vocab.all_models() if models is None else models:
            uow.domain_models.add(model)
        if models is None:
            uow.data.add(vocab.animal_record())
            uow.data.add(vocab.probe_record())
        uow.data.add(vocab.session_record(SESSION))
        uow.commit(message="vocabulary")


# -- what a crash-test writer commits ----------------------------------------------------------
def batch_message(batch: int) -> str:
    return f"batch {batch}"


def array_values(trial: int, batch: int, part: int, n: int) -> np.ndarray:
    """The values of array ``part`` of ``batch``: unique per trial, batch and part."""
    return np.random.default_rng([trial, batch, part]).uniform(0.0, 600.0, n)


def batch_names(trial: int, batch: int) -> tuple[str, str, str]:
    """data_names of the batch's two arrays and its session record."""
    return f"t{trial}-b{batch}-a", f"t{trial}-b{batch}-b", f"t{trial}-b{batch}-s"


def batch_array(trial: int, batch: int, part: int, n: int) -> xr.DataArray:
    name = batch_names(trial, batch)[part]
    attrs_ = vocab.spike_times_attrs(name, session=SESSION, n_spikes=n)
    return xr.DataArray(array_values(trial, batch, part, n), dims=["spike_idx"], name=name, attrs=attrs_)


def stage_batch(uow: Any, trial: int, batch: int, first_n: int = SMALL_N) -> None:
    """Stage the batch's three records (the first array holds ``first_n`` values)."""
    uow.data.add(batch_array(trial, batch, 0, first_n))
    uow.data.add(batch_array(trial, batch, 1, SMALL_N))
    uow.data.add(vocab.session_record(batch_names(trial, batch)[2], notes=f"trial {trial}"))


# -- back doors to the blob files --------------------------------------------------------------
def blob_dir(spec: StoreSpec, project: str) -> Path:
    return Path(spec.blob_root) / project / "blobs"


def blob_files(spec: StoreSpec, project: str) -> dict[str, str]:
    """Every file under the project's blob folder (temporaries included) -> sha256 of its bytes."""
    found = {}
    for path in sorted(_files(blob_dir(spec, project))):
        found[str(path.relative_to(blob_dir(spec, project)))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _files(folder: Path) -> Iterator[Path]:
    if folder.exists():
        for directory, _subdirs, files in os.walk(folder):
            for name in files:
                yield Path(directory) / name


def blob_relative_path(address: str, extension: str) -> str:
    """Where the blob store keeps ``address`` (relative to the project's blob folder)."""
    digest = address.split(":", 1)[1]
    return f"blake3/{digest[:2]}/{digest[2:4]}/{digest}{extension}"


def referenced_blobs(log: list[dict[str, Any]]) -> dict[str, str]:
    """address -> extension of every blob the log references and has not purged."""
    live: dict[str, str] = {}
    for commit in log:
        for event in commit["events"]:
            if event["event_type"] == "record_added" and event.get("blob"):
                live[event["blob"]["address"]] = event["blob"]["extension"]
            elif event["event_type"] == "blob_purged":
                live.pop(event["address"], None)
    return live


def is_temporary(relative_path: str) -> bool:
    return ".tmp-" in relative_path or relative_path.startswith("blake3/staging/")
