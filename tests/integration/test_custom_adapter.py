"""Adapters through the blob store: the new built-ins, a user's own adapter, entry-point plugins."""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem

from signalstore_es.adapters.formats import (
    AdapterRegistry,
    ContentHasher,
    NetCdfDatasetAdapter,
    NumpyAdapter,
    ParquetDataFrameAdapter,
    ZarrDatasetAdapter,
    default_registry,
)
from signalstore_es.adapters.fsspec import FsspecBlobStore
from signalstore_es.errors import ConfigurationError
from signalstore_es.ports.data_adapter import DataAdapter, WrittenBlob


class RawBytesAdapter(DataAdapter):
    """Stores ``bytes`` exactly as they are: the smallest useful custom adapter."""

    name = "example.bytes.raw"  # stored in the log with every blob: never rename it
    file_format = "raw"
    extension = ".bin"

    def handles(self, obj: Any) -> bool:
        return isinstance(obj, bytes)

    def content_address(self, obj: Any) -> str:
        hasher = ContentHasher()
        hasher.update_document({"format": "example.bytes/1"})  # tags the kind of content
        hasher.update(obj)
        return hasher.address()

    def write(self, obj: Any, fs: fsspec.AbstractFileSystem, path: str) -> WrittenBlob:
        fs.makedirs(posixpath.dirname(path), exist_ok=True)  # local disk does not create parents
        with fs.open(path, "wb") as target:
            target.write(obj)
        return WrittenBlob(address=self.content_address(obj), size=len(obj))

    def read(self, fs: fsspec.AbstractFileSystem, path: str, *, lazy: bool = False) -> Any:
        return fs.cat_file(path)

    def record_attrs(self, obj: Any) -> dict[str, Any]:
        return {}  # bytes carry no record: it is passed to add() as attrs=

    def attach_attrs(self, obj: Any, record: Any) -> Any:
        return obj  # get() returns the bytes; find() returns the record


@pytest.fixture
def store() -> Iterator[FsspecBlobStore]:
    """A blob store of a fresh project on the memory filesystem."""
    fs, project = fsspec.filesystem("memory"), f"custom-{uuid.uuid4().hex}"
    yield FsspecBlobStore(fs, project)
    if fs.exists(project):
        fs.rm(project, recursive=True)


def stored_round_trip(store: FsspecBlobStore, obj: Any, adapter: DataAdapter) -> Any:
    written = store.put(obj, adapter)
    return store.get(written.address, adapter.extension, adapter)


# -- the example adapter through the blob store ------------------------------------------------

def test_custom_adapter_round_trips_through_the_blob_store(store: FsspecBlobStore) -> None:
    assert stored_round_trip(store, b"\x00raw\xff", RawBytesAdapter()) == b"\x00raw\xff"


def test_equal_content_is_stored_once(store: FsspecBlobStore) -> None:
    store.put(b"same", RawBytesAdapter())
    store.put(b"same", RawBytesAdapter())
    assert len(list(store.iter_blobs())) == 1


def test_blob_path_ends_with_the_adapter_extension(store: FsspecBlobStore) -> None:
    store.put(b"abc", RawBytesAdapter())
    assert [extension for _, extension, _ in store.iter_blobs()] == [".bin"]


def test_registered_custom_adapter_is_chosen_for_its_type() -> None:
    registry = default_registry()
    registry.register(RawBytesAdapter())
    assert isinstance(registry.for_object(b"abc"), RawBytesAdapter)


# -- the new built-ins through the blob store -------------------------------------------------

def test_ndarray_round_trips_through_the_blob_store(store: FsspecBlobStore) -> None:
    arr = np.array([[1.5, np.nan], [-0.0, np.inf]])
    assert stored_round_trip(store, arr, NumpyAdapter()).tobytes() == arr.tobytes()


def test_lazy_ndarray_from_the_blob_store_computes_to_the_stored_values(store: FsspecBlobStore) -> None:
    arr, adapter = np.arange(12, dtype="i2").reshape(3, 4), NumpyAdapter()
    written = store.put(arr, adapter)
    assert np.array_equal(store.get(written.address, adapter.extension, adapter, lazy=True).compute(), arr)


def test_dataframe_round_trips_through_the_blob_store(store: FsspecBlobStore) -> None:
    frame = pd.DataFrame({"rate": [1.5, np.nan], "unit": pd.array(["a", None], dtype="str")},
                         index=pd.Index([3, 4], name="trial"))
    pd.testing.assert_frame_equal(stored_round_trip(store, frame, ParquetDataFrameAdapter()), frame,
                                  check_exact=True, check_index_type=True)


@pytest.mark.parametrize("adapter_class", [NetCdfDatasetAdapter, ZarrDatasetAdapter])
def test_dataset_round_trips_through_the_blob_store(store: FsspecBlobStore, adapter_class: Any) -> None:
    dataset = xr.Dataset({"lfp": (("t",), [1.0, 2.0], {"units": "uV"})}, coords={"t": [0.0, 0.5]})
    xr.testing.assert_identical(stored_round_trip(store, dataset, adapter_class()), dataset)


LOCAL_EXAMPLES = {
    "bytes": (b"\x00raw", RawBytesAdapter),
    "ndarray": (np.arange(4.0), NumpyAdapter),
    "dataframe": (pd.DataFrame({"a": [1, 2]}), ParquetDataFrameAdapter),
}


@pytest.mark.parametrize(("obj", "adapter_class"), LOCAL_EXAMPLES.values(), ids=list(LOCAL_EXAMPLES))
def test_blob_store_on_local_disk_publishes_each_kind_of_object(tmp_path: Path, obj: Any,
                                                                 adapter_class: Any) -> None:
    fs = DirFileSystem(str(tmp_path), LocalFileSystem())  # how the embedded provider sees its root
    store, adapter = FsspecBlobStore(fs, "project"), adapter_class()
    written = store.put(obj, adapter)
    assert store.exists(written.address, adapter.extension)


def test_equal_dataframes_are_stored_once(store: FsspecBlobStore) -> None:
    store.put(pd.DataFrame({"a": [1, 2]}), ParquetDataFrameAdapter())
    store.put(pd.DataFrame({"a": [1, 2]}), ParquetDataFrameAdapter())
    assert len(list(store.iter_blobs())) == 1


# -- entry-point plugins --------------------------------------------------------------------------

PLUGIN_MODULE = '''
from signalstore_es.adapters.formats import ContentHasher
from signalstore_es.ports.data_adapter import DataAdapter, WrittenBlob


class PluginAdapter(DataAdapter):
    name = "{name}"
    file_format = "raw"
    extension = ".bin"

    def handles(self, obj):
        return isinstance(obj, bytearray)

    def content_address(self, obj):
        hasher = ContentHasher()
        hasher.update(bytes(obj))
        return hasher.address()

    def write(self, obj, fs, path):
        fs.pipe_file(path, bytes(obj))
        return WrittenBlob(address=self.content_address(obj), size=len(obj))

    def read(self, fs, path, *, lazy=False):
        return bytearray(fs.cat_file(path))


NOT_AN_ADAPTER = 42
'''


def install_plugin(root: Path, monkeypatch: pytest.MonkeyPatch, target: str, module_body: str = "",
                   adapter_name: str = "plugin.bytearray.raw") -> str:
    """Make an installed distribution under ``root`` whose entry point names ``target``.

    ``target`` is ``"{module}:Attribute"``; the module gets a unique name per test.
    """
    module = f"signalstore_plugin_{uuid.uuid4().hex}"
    (root / f"{module}.py").write_text(module_body or PLUGIN_MODULE.format(name=adapter_name))
    dist_info = root / f"{module}-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        f"[signalstore_es.adapters]\nbytearray_raw = {target.format(module=module)}\n")
    monkeypatch.syspath_prepend(str(root))
    return module


def test_adapter_advertised_by_an_entry_point_is_registered(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, monkeypatch, "{module}:PluginAdapter")
    assert default_registry().by_name("plugin.bytearray.raw").name == "plugin.bytearray.raw"


def test_plugin_adapter_is_chosen_for_its_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, monkeypatch, "{module}:PluginAdapter")
    assert default_registry().for_object(bytearray(b"x")).name == "plugin.bytearray.raw"


def test_plugin_that_fails_to_import_raises_configuration_error_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, monkeypatch, "{module}:PluginAdapter", module_body="raise RuntimeError('boom')\n")
    with pytest.raises(ConfigurationError, match=r"'bytearray_raw'.*failed to load: RuntimeError: boom"):
        default_registry()


def test_plugin_that_is_not_an_adapter_raises_configuration_error(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, monkeypatch, "{module}:NOT_AN_ADAPTER")
    with pytest.raises(ConfigurationError, match=r"not a signalstore_es\.ports\.DataAdapter"):
        default_registry()


def test_plugin_taking_a_built_in_name_raises_configuration_error(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, monkeypatch, "{module}:PluginAdapter", adapter_name="numpy.ndarray.npy")
    with pytest.raises(ConfigurationError, match=r"numpy\.ndarray\.npy"):
        default_registry()


def test_registry_without_plugins_holds_only_what_it_is_given() -> None:
    assert AdapterRegistry([RawBytesAdapter()]).names() == ("example.bytes.raw",)


class _DictCounter(RawBytesAdapter):
    """Stores dicts tagged ``{"blob": True}``; counts the objects it was asked about."""

    name = "example.dict.counter"

    def __init__(self, object_types: Any) -> None:
        self.object_types = object_types
        self.asked: list[type] = []

    def handles(self, obj: Any) -> bool:
        self.asked.append(type(obj))
        return isinstance(obj, dict) and obj.get("blob") is True


def test_registry_asks_only_adapters_whose_object_types_allow_the_object() -> None:
    registry = AdapterRegistry([NumpyAdapter(), _DictCounter(object_types=(bytes,))])
    assert not registry.stores({"blob": True})
    assert registry.stores(np.zeros(2))
    assert registry.by_name("example.dict.counter").asked == []  # never asked: its types rule both out


def test_registry_asks_an_adapter_without_object_types_about_everything() -> None:
    counter = _DictCounter(object_types=None)
    registry = AdapterRegistry([NumpyAdapter(), counter])
    assert registry.stores({"blob": True}) and not registry.stores({"blob": False})
    assert registry.for_object({"blob": True}) is counter
    assert counter.asked == [dict, dict, dict]
    registry.register(_DictCounter(object_types=(bytes,)))  # re-registration: asked no more
    assert not registry.stores({"blob": True})
