"""FsspecBlobStore on memory and local filesystems: layout, dedup, atomic publish, listing."""

from __future__ import annotations

import errno
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import dask.array
import fsspec
import numpy as np
import pytest
import xarray as xr
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from signalstore_es.adapters.formats import NetCdfDataArrayAdapter, ZarrDataArrayAdapter
from signalstore_es.adapters.fsspec import FsspecBlobStore
from signalstore_es.adapters.fsspec import blob_store as blob_store_module
from signalstore_es.adapters.fsspec.digest import file_digest
from signalstore_es.errors import IntegrityError, NotFoundError, StorageError, ValidationError

ADAPTERS = [NetCdfDataArrayAdapter, ZarrDataArrayAdapter]


class RecordingMemoryFileSystem(MemoryFileSystem):
    """Memory filesystem that records every mutating call (shares the global memory store)."""

    cachable = False  # one instance (and one record) per test

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, str]] = []

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if set(mode) & set("wax"):
            self.calls.append(("open", self._strip_protocol(path)))
        return super()._open(path, mode, **kwargs)

    def pipe_file(self, path: str, value: bytes, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("pipe", self._strip_protocol(path)))
        super().pipe_file(path, value, *args, **kwargs)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        self.calls.append(("copy", self._strip_protocol(path2)))
        super().cp_file(path1, path2, **kwargs)

    def rm_file(self, path: str) -> None:
        self.calls.append(("rm", self._strip_protocol(path)))
        super().rm_file(path)


class ReadRecordingMemoryFileSystem(MemoryFileSystem):
    """Memory filesystem that records every file opened for reading."""

    cachable = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads: list[str] = []

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if not set(mode) & set("wax+"):
            self.reads.append(self._strip_protocol(path))
        return super()._open(path, mode, **kwargs)

    def cat_file(self, path: str, *args: Any, **kwargs: Any) -> Any:
        self.reads.append(self._strip_protocol(path))
        return super().cat_file(path, *args, **kwargs)


class FullDiskMemoryFileSystem(MemoryFileSystem):
    """Memory filesystem that fails with ENOSPC once ``budget`` bytes have been written."""

    cachable = False

    def __init__(self, *args: Any, budget: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget

    def _spend(self, size: int) -> None:
        self.budget -= size
        if self.budget < 0:
            raise OSError(errno.ENOSPC, "No space left on device")

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        handle = super()._open(path, mode, **kwargs)
        if set(mode) & set("wax"):
            write = handle.write
            handle.write = lambda data: (self._spend(len(data)), write(data))[1]
        return handle

    def pipe_file(self, path: str, value: bytes, *args: Any, **kwargs: Any) -> None:
        self._spend(len(value))
        super().pipe_file(path, value, *args, **kwargs)


def sample(value: float = 1.0) -> xr.DataArray:
    return xr.DataArray(np.arange(6.0).reshape(2, 3) * value, dims=("trial", "time"), name="lfp",
                        coords={"time": [0.0, 0.5, 1.0]}, attrs={"data_name": "rat7"})


@pytest.fixture
def project() -> Iterator[str]:
    """A fresh project directory; memory filesystems share one global store, so clean it."""
    name = f"blobs-{uuid.uuid4().hex}"
    yield name
    memory = fsspec.filesystem("memory")
    if memory.exists(f"/{name}"):
        memory.rm(f"/{name}", recursive=True)


@pytest.fixture(params=["memory", "local"])
def fs(request: pytest.FixtureRequest, tmp_path: Any) -> fsspec.AbstractFileSystem:
    if request.param == "memory":
        return fsspec.filesystem("memory")
    return DirFileSystem(str(tmp_path), LocalFileSystem())


@pytest.fixture(params=ADAPTERS, ids=["netcdf", "zarr"])
def adapter(request: pytest.FixtureRequest) -> Any:
    return request.param()


def temporary_path(store: FsspecBlobStore, adapter: Any) -> str:
    """Where a crashed put of ``sample()`` would have left its temporary."""
    return f"{store.blob_path(adapter.content_address(sample()), adapter.extension)}.tmp-{uuid.uuid4().hex}"


def files_under(fs: fsspec.AbstractFileSystem, path: str) -> list[str]:
    return sorted(fs.find(path)) if fs.exists(path) else []


# -- put and get ---------------------------------------------------------------------------

def test_put_then_get_returns_the_object_without_its_attrs(fs: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    written = store.put(sample(), adapter)
    loaded = store.get(written.address, adapter.extension, adapter)
    xr.testing.assert_identical(loaded, sample().drop_attrs(deep=False))


def test_put_reports_the_content_address_and_size(fs: Any, project: str, adapter: Any) -> None:
    written = FsspecBlobStore(fs, project).put(sample(), adapter)
    assert (written.address, written.shape, written.size > 0) == \
        (adapter.content_address(sample()), (2, 3), True)


def test_blob_path_follows_the_layout(fs: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    digest = store.put(sample(), adapter).address.split(":")[1]
    assert fs.exists(f"{project}/blobs/blake3/{digest[:2]}/{digest[2:4]}/{digest}{adapter.extension}")


def test_get_lazy_returns_a_dask_backed_object(fs: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    written = store.put(sample(), adapter)
    loaded = store.get(written.address, adapter.extension, adapter, lazy=True)
    assert isinstance(loaded.data, dask.array.Array)


def test_get_of_a_missing_blob_raises_not_found_naming_the_address(fs: Any, project: str,
                                                                    adapter: Any) -> None:
    address = adapter.content_address(sample())
    with pytest.raises(NotFoundError, match=address):
        FsspecBlobStore(fs, project).get(address, adapter.extension, adapter)


# -- stored-bytes digests and concurrent changes ------------------------------------------

def test_put_reports_the_digest_of_the_bytes_it_stored(fs: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    written = store.put(sample(), adapter)
    path = store.blob_path(written.address, adapter.extension)
    assert written.file_digest == file_digest(fs, path) == store.file_digest(written.address, adapter.extension)


def test_second_put_reports_the_digest_of_the_first(fs: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    first = store.put(sample(), adapter)
    second = FsspecBlobStore(fs, project).put(sample().assign_attrs(data_name="b"), adapter)
    assert second.file_digest == first.file_digest


def test_second_put_takes_the_recorded_digest_without_reading_the_blob(project: str, adapter: Any) -> None:
    fs = ReadRecordingMemoryFileSystem()
    store = FsspecBlobStore(fs, project)
    first = store.put(sample(), adapter)
    fs.reads.clear()
    second = store.put(sample(), adapter, recorded_digest={first.address: first.file_digest}.get)
    assert (second.file_digest, fs.reads) == (first.file_digest, [])


def test_second_put_digests_a_local_blob_changed_on_disk_again(tmp_path: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(DirFileSystem(str(tmp_path), LocalFileSystem()), project)
    first = store.put(sample(), adapter)
    blob = tmp_path / store.blob_path(first.address, adapter.extension)
    target = max((p for p in blob.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size) \
        if adapter.is_directory else blob
    with open(target, "r+b") as handle:  # damaged in place: same size, same inode
        handle.seek(-1, os.SEEK_END)
        last = handle.read(1)
        handle.seek(-1, os.SEEK_END)
        handle.write(bytes([last[0] ^ 0xFF]))
    second = store.put(sample(), adapter)
    assert second.file_digest == store.file_digest(first.address, adapter.extension) != first.file_digest


def test_second_put_after_a_refresh_does_not_read_the_local_blob_again(
        tmp_path: Any, project: str, adapter: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit refreshes the blobs it references (for gc); that changes times, not bytes, so
    adding the same content again in the next unit of work must not re-read the blob."""
    store = FsspecBlobStore(DirFileSystem(str(tmp_path), LocalFileSystem()), project)
    first = store.put(sample(), adapter)
    assert store.refresh(first.address, adapter.extension)
    digests: list[str] = []
    monkeypatch.setattr(blob_store_module, "local_digest", lambda path: digests.append(path) or "read")
    second = store.put(sample().assign_attrs(data_name="b"), adapter)
    assert (second.file_digest, digests) == (first.file_digest, [])


class _MutatedAfterHashing:
    """An adapter whose object changes right after its address was taken (another thread)."""

    def __init__(self, adapter: Any) -> None:
        self._adapter = adapter

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapter, name)

    def content_address(self, obj: Any) -> str:
        address = self._adapter.content_address(obj)
        obj.values[0, 0] += 1.0
        return str(address)


def test_object_changed_after_hashing_is_refused_and_nothing_is_published(fs: Any, project: str,
                                                                          adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    with pytest.raises(IntegrityError, match="changed while it was stored"):
        store.put(sample(), _MutatedAfterHashing(adapter))  # type: ignore[arg-type]
    assert (list(store.iter_blobs()), list(store.iter_temporaries())) == ([], [])


# -- dedup ---------------------------------------------------------------------------------

def test_second_put_of_the_same_content_writes_nothing(project: str, adapter: Any) -> None:
    fs = RecordingMemoryFileSystem()
    store = FsspecBlobStore(fs, project)
    store.put(sample(), adapter)
    fs.calls.clear()
    store.put(sample(), adapter)
    assert fs.calls == []


def test_records_with_different_attrs_share_one_blob(fs: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    store.put(sample(), adapter)
    store.put(sample().assign_attrs(data_name="another"), adapter)
    assert len(list(store.iter_blobs())) == 1


def test_second_put_does_not_rewrite_the_local_blob_but_refreshes_its_time(tmp_path: Any, project: str,
                                                                           adapter: Any) -> None:
    store = FsspecBlobStore(DirFileSystem(str(tmp_path), LocalFileSystem()), project)
    digest = store.put(sample(), adapter).address.split(":")[1]
    path = tmp_path / project / "blobs" / "blake3" / digest[:2] / digest[2:4] / f"{digest}{adapter.extension}"
    if adapter.is_directory:
        path = path / ".complete"  # a directory blob's time is its marker's
    os.utime(path, (1_000_000, 1_000_000))  # as if written long ago
    before = os.stat(path).st_ino
    store.put(sample(), adapter)
    assert os.stat(path).st_ino == before
    assert os.stat(path).st_mtime > 1_000_000  # gc sees it as in use


def test_dask_backed_object_is_deduplicated_after_writing(fs: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    store.put(sample(), adapter)
    lazy = sample().copy(data=dask.array.from_array(sample().values, chunks=1))
    store.put(lazy, adapter)
    assert (len(list(store.iter_blobs())), list(store.iter_temporaries())) == (1, [])


def test_dask_backed_object_is_stored_under_its_content_address(fs: Any, project: str, adapter: Any) -> None:
    lazy = sample().copy(data=dask.array.from_array(sample().values, chunks=1))
    written = FsspecBlobStore(fs, project).put(lazy, adapter)
    assert written.address == adapter.content_address(sample())


@pytest.mark.parametrize("backend", ["memory", "local"])
def test_racing_puts_of_one_address_all_succeed_with_one_complete_blob(
        backend: str, tmp_path: Any, project: str, adapter: Any) -> None:
    fs = (fsspec.filesystem("memory") if backend == "memory"
          else DirFileSystem(str(tmp_path), LocalFileSystem()))
    stores = [FsspecBlobStore(fs, project) for _ in range(4)]
    results: list[Any] = []
    barrier = threading.Barrier(len(stores))

    def put(store: FsspecBlobStore) -> None:
        barrier.wait()
        results.append(store.put(sample(), type(adapter)()))

    threads = [threading.Thread(target=put, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    loaded = stores[0].get(results[0].address, adapter.extension, adapter)
    assert (len(results), len({r.address for r in results}), len(list(stores[0].iter_blobs())),
            list(stores[0].iter_temporaries()), loaded.identical(sample().drop_attrs(deep=False))) == \
        (4, 1, 1, [], True)


# -- atomic publish ------------------------------------------------------------------------

@pytest.mark.parametrize("share", [0.0, 0.5, 0.99])
def test_failed_write_leaves_no_final_path_and_no_temporary(share: float, project: str, adapter: Any) -> None:
    size = adapter.write(sample(), fsspec.filesystem("memory"), f"/{project}/probe{adapter.extension}").size
    fsspec.filesystem("memory").rm(f"/{project}", recursive=True)
    fs = FullDiskMemoryFileSystem(budget=int(size * share))
    with pytest.raises(StorageError):
        FsspecBlobStore(fs, project).put(sample(), adapter)
    assert files_under(fs, project) == []


def test_storage_error_names_the_path_the_address_and_the_cause(project: str, adapter: Any) -> None:
    address = adapter.content_address(sample())
    with pytest.raises(StorageError, match=f"{address}.*{project}/blobs.*No space left") as caught:
        FsspecBlobStore(FullDiskMemoryFileSystem(budget=100), project).put(sample(), adapter)
    assert isinstance(caught.value.__cause__, OSError)


def test_zarr_marker_is_written_after_every_other_file(project: str) -> None:
    fs = RecordingMemoryFileSystem()
    FsspecBlobStore(fs, project).put(sample(), ZarrDataArrayAdapter())
    assert fs.calls[-1][1].endswith(".zarr/.complete")


def test_zarr_tree_without_marker_is_not_a_blob(fs: Any, project: str) -> None:
    store, adapter = FsspecBlobStore(fs, project), ZarrDataArrayAdapter()
    written = store.put(sample(), adapter)
    fs.rm(f"{store.blob_path(written.address, '.zarr')}/.complete")
    assert (store.exists(written.address, ".zarr"), list(store.iter_blobs())) == (False, [])


def test_get_of_a_zarr_tree_without_marker_raises_not_found(fs: Any, project: str) -> None:
    store, adapter = FsspecBlobStore(fs, project), ZarrDataArrayAdapter()
    written = store.put(sample(), adapter)
    fs.rm(f"{store.blob_path(written.address, '.zarr')}/.complete")
    with pytest.raises(NotFoundError):
        store.get(written.address, ".zarr", adapter)


def test_put_completes_a_zarr_tree_that_lost_its_marker(fs: Any, project: str) -> None:
    store, adapter = FsspecBlobStore(fs, project), ZarrDataArrayAdapter()
    written = store.put(sample(), adapter)
    fs.rm(f"{store.blob_path(written.address, '.zarr')}/.complete")
    store.put(sample(), adapter)
    loaded = store.get(written.address, ".zarr", adapter)
    assert (loaded.identical(sample().drop_attrs(deep=False)), list(store.iter_temporaries())) == (True, [])


# -- addresses and paths -------------------------------------------------------------------

MALFORMED = ["blake3:" + "A" * 64, "blake3:" + "0" * 63, "sha256:" + "0" * 64, "0" * 64,
             "blake3:../../../../etc/passwd", "blake3:" + "0" * 64 + "/..", None]


@pytest.mark.parametrize("address", MALFORMED)
@pytest.mark.parametrize("operation", ["get", "exists", "delete"])
def test_malformed_address_is_refused(address: Any, operation: str, project: str) -> None:
    store = FsspecBlobStore(fsspec.filesystem("memory"), project)
    call = {"get": lambda: store.get(address, ".nc", NetCdfDataArrayAdapter()),
            "exists": lambda: store.exists(address, ".nc"), "delete": lambda: store.delete(address, ".nc")}
    with pytest.raises(ValidationError, match="malformed blob address"):
        call[operation]()


@pytest.mark.parametrize("extension", ["/../x", ".nc/", "nc", ".a b"])
def test_malformed_extension_is_refused(extension: str, project: str) -> None:
    with pytest.raises(ValidationError, match="extension"):
        FsspecBlobStore(fsspec.filesystem("memory"), project).exists("blake3:" + "0" * 64, extension)


@pytest.mark.parametrize("project_name", ["", "..", "a/../b", "/abs", "a//b"])
def test_unsafe_project_name_is_refused(project_name: str) -> None:
    with pytest.raises(ValidationError, match="project"):
        FsspecBlobStore(fsspec.filesystem("memory"), project_name)


# -- listing and deleting ------------------------------------------------------------------

def test_iter_blobs_lists_every_complete_blob(fs: Any, project: str) -> None:
    store = FsspecBlobStore(fs, project)
    first = store.put(sample(1.0), NetCdfDataArrayAdapter())
    second = store.put(sample(2.0), ZarrDataArrayAdapter())
    listed = sorted((address, extension) for address, extension, _ in store.iter_blobs())
    assert listed == sorted([(first.address, ".nc"), (second.address, ".zarr")])


def test_iter_blobs_reports_the_local_modification_time(tmp_path: Any, project: str) -> None:
    store = FsspecBlobStore(DirFileSystem(str(tmp_path), LocalFileSystem()), project)
    written = store.put(sample(), NetCdfDataArrayAdapter())
    path = tmp_path / store.blob_path(written.address, ".nc")
    assert [mtime for _, _, mtime in store.iter_blobs()] == [os.stat(path).st_mtime]


def test_iter_blobs_ignores_temporaries(fs: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    adapter.write(sample(), fs, temporary_path(store, adapter))
    assert list(store.iter_blobs()) == []


def test_iter_temporaries_reports_leftover_temporaries(fs: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    temporary = temporary_path(store, adapter)
    adapter.write(sample(), fs, temporary)
    assert [path.rstrip("/").endswith(temporary) for path, _ in store.iter_temporaries()] == [True]


def test_remove_temporary_deletes_a_reported_temporary(fs: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    temporary = temporary_path(store, adapter)
    adapter.write(sample(), fs, temporary)
    for path, _ in list(store.iter_temporaries()):
        store.remove_temporary(path)
    assert files_under(fs, project) == []


def test_remove_temporary_refuses_a_published_blob(fs: Any, project: str) -> None:
    store = FsspecBlobStore(fs, project)
    written = store.put(sample(), NetCdfDataArrayAdapter())
    with pytest.raises(ValidationError, match="not a temporary"):
        store.remove_temporary(store.blob_path(written.address, ".nc"))


def test_delete_removes_the_blob_and_its_files(fs: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    written = store.put(sample(), adapter)
    store.delete(written.address, adapter.extension)
    assert (store.exists(written.address, adapter.extension),
            files_under(fs, store.blob_path(written.address, adapter.extension))) == (False, [])


def test_delete_keeps_other_blobs(fs: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    kept, doomed = store.put(sample(1.0), adapter), store.put(sample(2.0), adapter)
    store.delete(doomed.address, adapter.extension)
    assert [address for address, _, _ in store.iter_blobs()] == [kept.address]


def test_delete_of_a_missing_blob_does_nothing(fs: Any, project: str) -> None:
    store = FsspecBlobStore(fs, project)
    store.delete("blake3:" + "0" * 64, ".nc")
    assert list(store.iter_blobs()) == []


def test_put_after_delete_stores_the_blob_again(fs: Any, project: str, adapter: Any) -> None:
    store = FsspecBlobStore(fs, project)
    written = store.put(sample(), adapter)
    store.delete(written.address, adapter.extension)
    store.put(sample(), adapter)
    assert store.exists(written.address, adapter.extension)


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The file descriptors ``os.fsync`` is called with from now on (the fsyncs still run)."""
    calls: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd) or real_fsync(fd))
    return calls


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "not-durable"])
def test_a_blob_is_fsynced_before_publishing_only_when_durable(
        tmp_path: Any, project: str, adapter: Any, durable: bool, synced: list[int]) -> None:
    store = FsspecBlobStore(DirFileSystem(str(tmp_path), LocalFileSystem()), project, durable=durable)
    written = store.put(sample(), adapter)
    assert bool(synced) is durable
    assert written.file_digest == store.file_digest(written.address, adapter.extension)
    assert store.get(written.address, adapter.extension, adapter).equals(sample().drop_attrs())


@pytest.mark.parametrize("durability", ["full", "normal"])
def test_the_embedded_stores_durability_decides_whether_blobs_are_fsynced(
        tmp_path: Any, durability: str, request: pytest.FixtureRequest) -> None:
    from signalstore_es import UnitOfWorkProvider
    from signalstore_es.testing import vocabulary

    provider = UnitOfWorkProvider.embedded(tmp_path, durability=durability)
    with provider("lab") as uow:
        for model in vocabulary.all_models():
            uow.domain_models.add(model)
        uow.commit()
    synced = request.getfixturevalue("synced")  # from here on: the vocabulary's commit is not counted
    with provider("lab") as uow:
        uow.data.add(xr.DataArray(np.arange(4.0), dims=["spike_idx"],
                                  attrs=vocabulary.spike_times_attrs("unit1", n_spikes=4)))
        uow.commit()
        assert uow.data.get("spike_times", "unit1").values.tolist() == [0.0, 1.0, 2.0, 3.0]
    provider.close()
    assert bool(synced) is (durability == "full")
