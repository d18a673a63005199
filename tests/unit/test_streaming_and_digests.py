"""How array blobs are streamed and digested: batches, the background hasher, stored-bytes digests."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import dask.array
import fsspec
import hypothesis.strategies as st
import numpy as np
import pytest
import xarray as xr
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.memory import MemoryFileSystem
from hypothesis import given, settings

from signalstore_es.adapters.formats import NetCdfDataArrayAdapter, ZarrDataArrayAdapter
from signalstore_es.adapters.formats.hashing import BackgroundHasher, ContentHasher
from signalstore_es.adapters.formats.xarray_content import batch_shape, chunk_shape, iter_slabs
from signalstore_es.adapters.fsspec.digest import DigestMemo, file_digest, local_digest, sync_and_digest
from signalstore_es.adapters.fsspec.local import Writeback, start_writeback, touch

ADAPTERS = [NetCdfDataArrayAdapter, ZarrDataArrayAdapter]


def sample() -> xr.DataArray:
    return xr.DataArray(
        np.array([[1.0, np.nan, 3.0], [np.inf, -0.0, 6.0]]), dims=("trial", "time"), name="lfp",
        coords={"trial": [1, 2], "time": ("time", [0.0, 0.5, 1.0], {"units": "s"}),
                "label": ("trial", np.array(["a", "bb"], dtype=object))})


# -- the address -------------------------------------------------------------------------------

def test_address_of_the_sample_is_stable_across_releases() -> None:
    """Addresses name blobs already stored: streaming changes must never change them."""
    assert NetCdfDataArrayAdapter().content_address(sample()) == \
        "blake3:3192a71416ee2ffa75b703c75f6d7f9b37d0f91daa9173eeb341f4d03d8732ee"


@pytest.mark.parametrize("adapter_class", ADAPTERS)
def test_in_memory_lazy_and_tiny_slab_addresses_agree(adapter_class: Any) -> None:
    data = np.arange(3 * 1000, dtype="f8").reshape(3, 1000)
    eager = xr.DataArray(data, dims=("a", "b"))
    lazy = eager.copy(data=dask.array.from_array(data, chunks=(1, 300)))
    addresses = {adapter_class().content_address(eager), adapter_class().content_address(lazy),
                 adapter_class(chunk_bytes=40).content_address(eager)}
    assert len(addresses) == 1


# -- batches of chunks -------------------------------------------------------------------------

@settings(max_examples=200, deadline=None, database=None)
@given(shape=st.lists(st.integers(0, 7), min_size=0, max_size=4).map(tuple),
       chunk_bytes=st.integers(1, 400), factor=st.integers(1, 40))
def test_batches_are_contiguous_runs_made_of_whole_chunks(shape: tuple[int, ...], chunk_bytes: int,
                                                          factor: int) -> None:
    chunks = chunk_shape(shape, 8, chunk_bytes)
    batch = batch_shape(shape, chunks, factor)
    values = np.arange(int(np.prod(shape)), dtype="f8").reshape(shape)
    pieces = [values[selection].ravel() for selection in iter_slabs(shape, batch)]
    assert np.array_equal(np.concatenate(pieces) if pieces else values.ravel(), values.ravel())
    for extent, size, step in zip(shape, chunks, batch, strict=True):
        assert step == max(1, extent) or step % size == 0  # batch edges are chunk edges


def test_one_batch_takes_a_whole_array() -> None:
    assert batch_shape((3, 5, 7), chunk_shape((3, 5, 7), 8, 8 * 7), 2**62) == (3, 5, 7)


# -- the background hasher ---------------------------------------------------------------------

def test_background_hasher_gives_the_address_of_the_inline_hasher() -> None:
    parts = [os.urandom(n) for n in (3, 5 << 20, 0, 17, 2 << 20)]
    inline, threaded = ContentHasher(), ContentHasher(threads=True)
    with BackgroundHasher() as background, BackgroundHasher(threads=True) as parallel:
        for hasher in (inline, threaded, background, parallel):
            hasher.update_document({"format": "x"})
            for part in parts:
                hasher.update(part)
        assert {background.address(), parallel.address(), threaded.address()} == {inline.address()}


def test_background_hasher_raises_a_worker_error_on_the_next_call() -> None:
    with BackgroundHasher() as hasher:
        hasher.update(np.zeros(2 << 20, dtype="f8"))  # not a byte buffer: fails on the worker
        with pytest.raises(BufferError):
            hasher.address()


# -- stored-bytes digests ----------------------------------------------------------------------

def make_tree(root: Path) -> None:
    (root / "c" / "0").mkdir(parents=True)
    (root / "zarr.json").write_bytes(b"{}")
    (root / "c" / "0" / "1").write_bytes(os.urandom(70_000))
    (root / "c" / "0" / "0").write_bytes(b"")
    (root / ".hidden").write_bytes(b"h")
    (root / ".complete").write_bytes(b"")


@pytest.mark.parametrize("kind", ["file", "empty file", "tree", "big file"])
def test_local_digest_equals_the_fsspec_digest(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "blob"
    if kind == "tree":
        make_tree(path)
    else:
        path.write_bytes({"file": b"abc", "empty file": b"", "big file": os.urandom(70 << 20)}[kind])
    assert local_digest(str(path)) == file_digest(fsspec.filesystem("file"), str(path))


def test_the_marker_is_not_part_of_a_tree_digest(tmp_path: Path) -> None:
    make_tree(tmp_path / "blob")
    before = local_digest(str(tmp_path / "blob"))
    (tmp_path / "blob" / ".complete").write_bytes(b"anything")
    assert local_digest(str(tmp_path / "blob")) == before


@pytest.mark.parametrize("is_directory", [False, True])
def test_sync_and_digest_gives_the_digest(tmp_path: Path, is_directory: bool) -> None:
    path = tmp_path / "blob"
    make_tree(path) if is_directory else path.write_bytes(b"x" * 1000)
    assert sync_and_digest(str(path), is_directory) == local_digest(str(path))


def test_sync_and_digest_of_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        sync_and_digest(str(tmp_path / "missing"), False)


def test_memo_returns_a_digest_only_while_the_file_is_unchanged(tmp_path: Path) -> None:
    memo, path = DigestMemo(), tmp_path / "blob"
    path.write_bytes(b"abc")
    memo.remember(str(path), "blake3:one")
    assert memo.lookup(str(path)) == "blake3:one"
    with open(path, "r+b") as handle:  # same size, same inode, new bytes
        handle.write(b"x")
    assert memo.lookup(str(path)) is None


def test_memo_forgets_a_touched_or_replaced_file(tmp_path: Path) -> None:
    memo, path = DigestMemo(), tmp_path / "blob"
    path.write_bytes(b"abc")
    memo.remember(str(path), "blake3:one")
    touch(str(path))
    assert memo.lookup(str(path)) is None
    memo.remember(str(path), "blake3:one")
    path.unlink()
    assert memo.lookup(str(path)) is None
    path.write_bytes(b"abc")
    assert memo.lookup(str(path)) is None


def test_memo_of_a_tree_ignores_its_marker_but_not_its_files(tmp_path: Path) -> None:
    memo, root = DigestMemo(), tmp_path / "blob"
    make_tree(root)
    memo.remember(str(root), "blake3:tree")
    touch(str(root / ".complete"))
    assert memo.lookup(str(root)) == "blake3:tree"
    (root / "c" / "0" / "0").write_bytes(b"changed")
    assert memo.lookup(str(root)) is None


def test_memo_keeps_at_most_its_size(tmp_path: Path) -> None:
    memo = DigestMemo(max_entries=2)
    for name in "abc":
        (tmp_path / name).write_bytes(name.encode())
        memo.remember(str(tmp_path / name), f"blake3:{name}")
    assert [memo.lookup(str(tmp_path / n)) for n in "abc"] == [None, "blake3:b", "blake3:c"]


def test_write_back_hints_never_change_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "file"
    with open(path, "wb") as handle:
        hint = Writeback(str(path), every=10)
        for _ in range(5):
            handle.write(b"0123456789abcdef")
            handle.flush()
            hint.written(16)
        hint.close()
    start_writeback(str(path))
    start_writeback(str(tmp_path / "missing"))  # a hint: never an error
    assert path.read_bytes() == b"0123456789abcdef" * 5


# -- zarr on synchronous filesystems -----------------------------------------------------------

@pytest.mark.parametrize("wrapped", [False, True])
def test_zarr_round_trips_on_memory_and_a_dir_filesystem_over_memory(wrapped: bool) -> None:
    memory, base = MemoryFileSystem(skip_instance_cache=True), f"/zarr-sync-{uuid.uuid4().hex}"
    fs = DirFileSystem(path=base, fs=memory) if wrapped else memory
    where = "blob.zarr" if wrapped else f"{base}/blob.zarr"
    adapter = ZarrDataArrayAdapter()
    try:
        written = adapter.write(sample(), fs, where)
        for lazy in (False, True):
            back = adapter.read(fs, where, lazy=lazy).load()
            xr.testing.assert_identical(back, sample())
        assert written.address == adapter.content_address(sample())
        assert memory.exists(f"{base}/blob.zarr/zarr.json")
    finally:
        if memory.exists(base):
            memory.rm(base, recursive=True)


def test_zarr_writes_lazy_data_in_batches_of_whole_chunks(tmp_path: Path) -> None:
    data = np.arange(1000, dtype="f8")
    lazy = xr.DataArray(data, dims=["x"]).chunk(37)
    adapter = ZarrDataArrayAdapter(chunk_bytes=64)  # 8 values per chunk, 64 per batch
    fs = fsspec.filesystem("file")
    written = adapter.write(lazy, fs, str(tmp_path / "blob.zarr"))
    back = adapter.read(fs, str(tmp_path / "blob.zarr"))
    assert np.array_equal(back.values, data)
    assert written.address == adapter.content_address(xr.DataArray(data, dims=["x"]))
    assert len(os.listdir(tmp_path / "blob.zarr" / "__xarray_dataarray_variable__" / "c")) == 125
