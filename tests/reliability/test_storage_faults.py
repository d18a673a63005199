"""Blob storage that fails mid-write, and blobs damaged on disk.

Writes go through :class:`~tests.reliability.faulty_fs.FaultyFileSystem` (permission denied,
disk full, an I/O error after some bytes, a failing publish, failing metadata lookups), for
both blob formats: ``add`` raises a clear ``StorageError``, nothing is appended or left staged
or on disk, and the same unit of work stores the object once the fault clears. Damaged blobs
are reported by ``verify`` and never loaded as if they were good.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from signalstore_es import UnitOfWorkProvider
from signalstore_es.errors import IntegrityError, PurgedError, SignalStoreError, StorageError
from tests.conftest import make_provider, spike_times
from tests.reliability.faulty_fs import FAULTS, FaultyFileSystem
from tests.reliability.harness import add_vocabulary, blob_relative_path

FILETYPES = ("netcdf", "zarr")


@pytest.fixture(params=FILETYPES)
def filetype(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def faulty_fs(project: str) -> Iterator[FaultyFileSystem]:
    filesystem = FaultyFileSystem()
    yield filesystem
    filesystem.disarm()
    if filesystem.exists(f"/{project}"):  # memory filesystems share one global store
        filesystem.rm(f"/{project}", recursive=True)


@pytest.fixture
def faulty_store(backend_name: str, tmp_path: Path, request: pytest.FixtureRequest, project: str,
                 faulty_fs: FaultyFileSystem, filetype: str) -> Iterator[UnitOfWorkProvider]:
    """A store (with the vocabulary) whose blobs go through the faulty filesystem."""
    client = request.getfixturevalue("mongo_client") if backend_name == "mongo" else None
    if client is None:
        provider = UnitOfWorkProvider.embedded(tmp_path / "store", filesystem=faulty_fs,
                                               default_filetype=filetype, actor="tester")
    else:
        provider = UnitOfWorkProvider(mongo_client=client, filesystem=faulty_fs, memory_store={},
                                      default_filetype=filetype, actor="tester")
    add_vocabulary(provider, project)
    yield provider
    provider.close()
    if client is not None:
        client.drop_database(project)


def _files(filesystem: FaultyFileSystem, project: str) -> list[str]:
    return sorted(filesystem.find(f"/{project}"))


def _log(provider: UnitOfWorkProvider, project: str) -> list[dict[str, Any]]:
    with provider(project) as uow:
        return uow.log()


# -- failing writes ------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failing_blob_write_raises_a_storage_error_naming_the_cause(
        faulty_store: UnitOfWorkProvider, faulty_fs: FaultyFileSystem, project: str, fault: str) -> None:
    faulty_fs.arm(fault)
    with faulty_store(project) as uow, pytest.raises(StorageError, match=FAULTS[fault]):
        uow.data.add(spike_times("u1"))


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failing_blob_write_appends_nothing_and_leaves_nothing_staged(
        faulty_store: UnitOfWorkProvider, faulty_fs: FaultyFileSystem, project: str, fault: str) -> None:
    before = _log(faulty_store, project)
    with faulty_store(project) as uow:
        faulty_fs.arm(fault)
        with pytest.raises(SignalStoreError):
            uow.data.add(spike_times("u1"))
        faulty_fs.disarm()
        receipt = uow.commit(message="after the fault")
    assert (receipt, _log(faulty_store, project)) == (None, before)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failing_blob_write_leaves_no_file_behind(
        faulty_store: UnitOfWorkProvider, faulty_fs: FaultyFileSystem, project: str, fault: str) -> None:
    with faulty_store(project) as uow:
        faulty_fs.arm(fault)
        with pytest.raises(SignalStoreError):
            uow.data.add(spike_times("u1"))
        faulty_fs.disarm()
    assert _files(faulty_fs, project) == []


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_the_same_unit_of_work_stores_the_object_once_the_fault_clears(
        faulty_store: UnitOfWorkProvider, faulty_fs: FaultyFileSystem, project: str, fault: str) -> None:
    array = spike_times("u1", seed=3)
    with faulty_store(project) as uow:
        faulty_fs.arm(fault)
        with pytest.raises(SignalStoreError):
            uow.data.add(array)
        faulty_fs.disarm()
        uow.data.add(array)
        uow.commit(message="after the fault")
    with faulty_store(project) as uow:
        loaded = uow.data.get("spike_times", "u1")
    assert (np.array_equal(loaded.values, array.values), faulty_store.verify(project).ok) == (True, True)


# -- damaged blobs -------------------------------------------------------------------------------
DAMAGES = ("flip_data_byte", "flip_early_byte", "truncate", "empty", "garbage", "substitute_same_shape",
           "substitute_other_shape")
#: damage that leaves a readable blob: only a digest check can tell
SILENT_DAMAGES = ("flip_data_byte", "substitute_same_shape")
#: damage that leaves no readable file
STRUCTURAL_DAMAGES = ("truncate", "empty", "garbage", "flip_early_byte")


@pytest.fixture
def damaged(backend_name: str, tmp_path: Path, request: pytest.FixtureRequest, project: str,
            filetype: str) -> Iterator[Any]:
    """A store with arrays u1 (1000 values), u2 (1000) and u3 (500); ``damage(kind)`` harms u1's."""
    client = request.getfixturevalue("mongo_client") if backend_name == "mongo" else None
    provider = make_provider(backend_name, tmp_path, request, default_filetype=filetype, actor="tester")
    add_vocabulary(provider, project)
    with provider(project) as uow:
        for name, n, seed in (("u1", 1000, 1), ("u2", 1000, 2), ("u3", 500, 3)):
            uow.data.add(spike_times(name, n=n, seed=seed))
        uow.commit(message="three arrays")
    folder = (tmp_path / "store" if backend_name == "sqlite" else tmp_path / "blobs") / project / "blobs"
    yield _Damager(provider, project, folder)
    provider.close()
    if client is not None:
        client.drop_database(project)


class _Damager:
    def __init__(self, provider: UnitOfWorkProvider, project: str, folder: Path) -> None:
        self.provider, self.project, self.folder = provider, project, folder
        with provider(project) as uow:
            self.blobs = {e["data_name"]: e["address"] for name in ("u1", "u2", "u3")
                          for e in uow.data.history("spike_times", name)}
            self.extension = uow.log()[-1]["events"][0]["blob"]["extension"]

    def data_file(self, name: str) -> Path:
        """The file holding the array's values: the netCDF file, or the Zarr data chunk."""
        path = self.folder / blob_relative_path(self.blobs[name], self.extension)
        if path.is_file():
            return path
        chunks = [p for p in path.rglob("*") if p.is_file() and p.name not in ("zarr.json", ".complete")]
        return max(chunks, key=lambda p: p.stat().st_size)

    def blob_path(self, name: str) -> Path:
        return self.folder / blob_relative_path(self.blobs[name], self.extension)

    def replace_blob(self, name: str, by: str) -> None:
        """Put the whole blob of ``by`` (file or Zarr tree, marker and all) in place of ``name``'s."""
        target, source = self.blob_path(name), self.blob_path(by)
        if target.is_dir():
            shutil.rmtree(target)
            shutil.copytree(source, target)
        else:
            target.chmod(0o644)
            shutil.copyfile(source, target)

    def damage(self, kind: str) -> None:
        target = self.data_file("u1")
        data = bytearray(target.read_bytes())
        if kind in ("flip_data_byte", "flip_early_byte"):
            data[self._data_offset(data) if kind == "flip_data_byte" else 10] ^= 0xFF
        elif kind == "truncate":
            data = data[:len(data) // 2]
        elif kind == "empty":
            data = bytearray()
        elif kind == "garbage":
            data = bytearray(np.random.default_rng(0).integers(0, 256, len(data), dtype=np.uint8).tobytes())
        else:
            data = bytearray(self.data_file("u2" if kind == "substitute_same_shape" else "u3").read_bytes())
        target.chmod(0o644)
        target.write_bytes(bytes(data))

    @staticmethod
    def _data_offset(data: bytearray) -> int:
        """Where u1's values are stored (uncompressed netCDF), else the middle of the chunk."""
        values = spike_times("u1", n=1000, seed=1).values.tobytes()
        found = bytes(data).find(values[:64])
        return found + len(values) // 2 if found >= 0 else len(data) // 2


@pytest.mark.parametrize("kind", DAMAGES)
def test_verify_reports_a_damaged_blob_and_only_that_blob(damaged: _Damager, kind: str) -> None:
    damaged.damage(kind)
    report = damaged.provider.verify(damaged.project)
    assert [address for address, _why in report.damaged_blobs] == [damaged.blobs["u1"]]


@pytest.mark.parametrize("kind", STRUCTURAL_DAMAGES)
def test_get_of_an_unreadable_blob_raises_a_signal_store_error_naming_the_blob(damaged: _Damager, kind: str) -> None:
    damaged.damage(kind)
    digest = damaged.blobs["u1"].split(":")[1]
    with damaged.provider(damaged.project) as uow, pytest.raises(SignalStoreError, match=digest):
        uow.data.get("spike_times", "u1")


def test_get_refuses_a_blob_whose_shape_contradicts_its_record(damaged: _Damager) -> None:
    damaged.damage("substitute_other_shape")
    with damaged.provider(damaged.project) as uow, pytest.raises(IntegrityError):
        uow.data.get("spike_times", "u1")


@pytest.mark.parametrize("lazy", [False, True])
def test_get_refuses_the_valid_blob_of_another_record_put_in_its_place(damaged: _Damager, lazy: bool) -> None:
    damaged.replace_blob("u1", by="u3")  # a complete, readable blob of 500 values, not 1000
    with damaged.provider(damaged.project) as uow, pytest.raises(IntegrityError, match=r"shape \(500,\)"):
        uow.data.get("spike_times", "u1", lazy=lazy)


def test_get_of_a_blob_whose_bytes_changed_and_cannot_be_decoded_raises_integrity_error(damaged: _Damager) -> None:
    damaged.damage("garbage")
    with damaged.provider(damaged.project) as uow, pytest.raises(IntegrityError, match=damaged.blobs["u1"]):
        uow.data.get("spike_times", "u1")


@pytest.mark.parametrize("kind", SILENT_DAMAGES)
def test_plain_get_does_not_notice_damage_that_leaves_a_readable_blob(damaged: _Damager, kind: str) -> None:
    """Documents why ``verify=True`` exists: without it, these damages load as data."""
    expected = spike_times("u1", n=1000, seed=1).values
    damaged.damage(kind)
    with damaged.provider(damaged.project) as uow:
        loaded = uow.data.get("spike_times", "u1")
    assert not np.array_equal(loaded.values, expected)


@pytest.mark.parametrize("kind", DAMAGES)
def test_get_with_verify_refuses_every_kind_of_damaged_blob(damaged: _Damager, kind: str) -> None:
    damaged.damage(kind)
    with damaged.provider(damaged.project) as uow, pytest.raises(IntegrityError, match=damaged.blobs["u1"]):
        uow.data.get("spike_times", "u1", verify=True)


def test_get_with_verify_returns_an_undamaged_blob(damaged: _Damager) -> None:
    damaged.damage("truncate")  # u1 only
    with damaged.provider(damaged.project) as uow:
        loaded = uow.data.get("spike_times", "u2", verify=True)
    assert np.array_equal(loaded.values, spike_times("u2", n=1000, seed=2).values)


def test_get_with_verify_of_purged_data_raises_purged_error(damaged: _Damager) -> None:
    with damaged.provider(damaged.project) as uow:
        before = uow.log()[-1]["seq"]
        uow.data.remove("spike_times", "u1")
        uow.commit(message="remove")
        uow.purge()
        uow.commit(message="purge")
        with pytest.raises(PurgedError):
            uow.data.get("spike_times", "u1", as_of=before, verify=True)


# -- filesystems the blob store claims to support -----------------------------------------------
class _PlainDirFileSystem(DirFileSystem):
    """A DirFileSystem the blob store cannot recognise as local disk (any subclass is opaque)."""


def test_netcdf_blobs_can_be_stored_on_a_filesystem_that_needs_parent_folders(tmp_path: Path, project: str) -> None:
    (tmp_path / "blobs").mkdir()
    filesystem = _PlainDirFileSystem(path=str(tmp_path / "blobs"), fs=fsspec.filesystem("file"))
    provider = UnitOfWorkProvider.embedded(tmp_path / "store", filesystem=filesystem, actor="tester")
    add_vocabulary(provider, project)
    with provider(project) as uow:
        uow.data.add(spike_times("u1"))
        uow.commit()
    assert provider.verify(project).ok


def test_zarr_blobs_can_be_stored_under_a_dir_filesystem_over_a_synchronous_filesystem(
        tmp_path: Path, project: str) -> None:
    filesystem = DirFileSystem(path=f"/{project}-root", fs=MemoryFileSystem(skip_instance_cache=True))
    provider = UnitOfWorkProvider.embedded(tmp_path / "store", filesystem=filesystem,
                                           default_filetype="zarr", actor="tester")
    add_vocabulary(provider, project)
    try:
        with provider(project) as uow:
            uow.data.add(spike_times("u1"))
            uow.commit()
        assert provider.verify(project).ok
    finally:
        filesystem.fs.rm(f"/{project}-root", recursive=True)
