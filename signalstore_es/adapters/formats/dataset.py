"""``NetCdfDatasetAdapter`` and ``ZarrDatasetAdapter``: an xarray Dataset as one blob.

Hashed stream (framed parts are canonical JSON with an 8-byte length, see ``hashing``)::

    frame {"format", "dims": [[name, size], ...sorted], "coords": [sorted names],
           "data_vars": [sorted names]}
    for each coordinate, then each data variable, sorted by name:
        frame {"name", "dims", "shape", "dtype", "attrs"}   then its data bytes

Data bytes, dtypes and names follow the DataArray rules (``xarray_content``); the attrs of
every variable and coordinate are hashed and stored, the Dataset's own ``attrs`` (and every
``encoding``) are not: the record is their source of truth. The files are laid out like the
DataArray blobs of the same format (one netCDF/Zarr variable per variable, the JSON layout in
the ``signalstore_es`` attribute) and written by the same code, so the stored forms, limits
and lazy reading of ``netcdf`` and ``zarr`` apply unchanged. Variables come back in sorted
name order (a Dataset is a mapping: order is not content). ``WrittenBlob.shape`` is ``()``
and ``dtype`` empty: a Dataset has neither.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import dask.array
import fsspec
import numpy as np
import xarray as xr
import zarr

from signalstore_es.adapters.formats.hashing import (
    ContentHasher,
    decode_mapping,
    encode_mapping,
)

# The netCDF and Zarr DataArray writers' helpers are shared on purpose: same package, same
# blob layout; they only use a content's specs, metadata() and iter_blocks().
from signalstore_es.adapters.formats.netcdf import (
    _check_supported as check_netcdf_supported,
)
from signalstore_es.adapters.formats.netcdf import _load as load_netcdf_variable
from signalstore_es.adapters.formats.netcdf import _metadata as netcdf_layout
from signalstore_es.adapters.formats.netcdf import _open_dataset as open_netcdf
from signalstore_es.adapters.formats.netcdf import _upload as upload_file
from signalstore_es.adapters.formats.netcdf import _write_file as write_netcdf_file
from signalstore_es.adapters.formats.xarray_content import (
    DEFAULT_CHUNK_BYTES,
    METADATA_ATTR,
    Selection,
    VariableSpec,
    canonical_bytes,
    canonical_dtype,
    chunk_shape,
    iter_slabs,
    restore_dtype,
)
from signalstore_es.adapters.formats.zarr import ZARR_CHUNK_BYTES
from signalstore_es.adapters.formats.zarr import _check_keys as check_zarr_keys
from signalstore_es.adapters.formats.zarr import _create_array as create_zarr_array
from signalstore_es.adapters.formats.zarr import _encode as encode_zarr_block
from signalstore_es.adapters.formats.zarr import _store as zarr_store
from signalstore_es.adapters.formats.zarr import _tree_size as tree_size
from signalstore_es.adapters.fsspec.blob_store import local_path
from signalstore_es.errors import ArgumentTypeError, IntegrityError, ValidationError
from signalstore_es.ports.data_adapter import DataAdapter, WrittenBlob

DATASET_TAG = "signalstore_es.xarray.Dataset/1"
_OBJECT_ITEMSIZE_GUESS = 64  # bytes per str element when sizing chunks of object arrays


class DatasetContent:
    """A validated Dataset, planned as variables to hash and stream in one pass.

    Parameters
    ----------
    obj : xarray.Dataset
    chunk_bytes : int
        Target size of one streamed slab; peak extra memory is about one slab.

    Raises
    ------
    ArgumentTypeError
        If ``obj`` is not a Dataset.
    ValidationError
        For names, dtypes, indexes or variable attrs that cannot be stored exactly.
    """

    def __init__(self, obj: Any, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        if not isinstance(obj, xr.Dataset):
            raise ArgumentTypeError(f"expected an xarray.Dataset, got {type(obj).__name__}")
        _check_names(obj)
        self._obj = obj
        coords = [_spec(n, obj.variables[n], False, chunk_bytes) for n in sorted(map(str, obj.coords))]
        data = [_spec(n, obj.variables[n], True, chunk_bytes) for n in sorted(map(str, obj.data_vars))]
        self.specs: tuple[VariableSpec, ...] = (*coords, *data)

    def metadata(self) -> dict[str, Any]:
        """The JSON layout stored in the blob, from which :func:`build_dataset` rebuilds it."""
        return {"format": DATASET_TAG, "variables": [spec.document() for spec in self.specs]}

    def iter_blocks(self, hasher: ContentHasher) -> Iterator[tuple[VariableSpec, Selection, np.ndarray]]:
        """Yield every slab in hashing order, after adding it (and the headers) to ``hasher``."""
        hasher.update_document({
            "format": DATASET_TAG, "dims": [[str(d), int(n)] for d, n in sorted(self._obj.sizes.items())],
            "coords": [s.key for s in self.specs if not s.is_data],
            "data_vars": [s.key for s in self.specs if s.is_data]})
        for spec in self.specs:
            header = spec.document()
            hasher.update_document({k: header[k] for k in ("name", "dims", "shape", "dtype", "attrs")})
            variable = self._obj.variables[spec.key]
            for selection in iter_slabs(spec.shape, spec.chunks):
                block = np.asarray(variable[selection].values, dtype=spec.dtype)
                hasher.update(canonical_bytes(block))
                yield spec, selection, block

    def address(self) -> str:
        """The content address (consumes one full pass over the data)."""
        hasher = ContentHasher()
        for _ in self.iter_blocks(hasher):
            pass
        return hasher.address()


def build_dataset(metadata: Any, load: Callable[[str], Any]) -> xr.Dataset:
    """Rebuild a Dataset from a blob's ``metadata`` and a loader of its variables.

    Raises
    ------
    IntegrityError
        If the layout is missing, of another kind, or disagrees with the stored variables.
    """
    if not isinstance(metadata, Mapping) or metadata.get("format") != DATASET_TAG:
        raise IntegrityError(f"not a {DATASET_TAG} blob: its layout attribute is missing or unknown")
    coords: dict[str, xr.Variable] = {}
    data_vars: dict[str, xr.Variable] = {}
    for doc in metadata["variables"]:
        values = restore_dtype(load(doc["key"]), np.dtype(doc["dtype"]))
        variable = xr.Variable(tuple(doc["dims"]), values, attrs=decode_mapping(doc["attrs"]))
        if tuple(variable.shape) != tuple(doc["shape"]):
            raise IntegrityError(f"variable {doc['key']!r} has shape {variable.shape}, "
                                 f"layout says {tuple(doc['shape'])}")
        (data_vars if doc["is_data"] else coords)[doc["key"]] = variable
    return xr.Dataset(data_vars, coords=coords)


def is_dask_backed(obj: Any) -> bool:
    """Whether any variable of the Dataset ``obj`` holds dask data."""
    return isinstance(obj, xr.Dataset) and any(v.chunks is not None for v in obj.variables.values())


class NetCdfDatasetAdapter(DataAdapter):
    """Stores ``xarray.Dataset`` objects as netCDF-4 files (see the module docstring)."""

    name = "xarray.dataset.netcdf"
    file_format = "netcdf"
    extension = ".nc"
    is_directory = False

    def __init__(self, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        self.chunk_bytes = chunk_bytes
        self._scratch: str | None = None

    def __repr__(self) -> str:
        return f"<NetCdfDatasetAdapter chunk_bytes={self.chunk_bytes}>"

    def handles(self, obj: Any) -> bool:
        return isinstance(obj, xr.Dataset)

    def is_address_cheap(self, obj: Any) -> bool:
        """True unless some data are dask-backed (hashing first would compute them twice)."""
        return not is_dask_backed(obj)

    def content_address(self, obj: Any) -> str:
        return DatasetContent(obj, chunk_bytes=self.chunk_bytes).address()

    def write(self, obj: Any, fs: fsspec.AbstractFileSystem, path: str) -> WrittenBlob:
        """Write ``obj`` to ``path`` on ``fs`` while hashing it.

        Raises
        ------
        ValidationError
            For a dtype, value or name netCDF-4 cannot hold exactly (see ``netcdf``).
        """
        content: Any = DatasetContent(obj, chunk_bytes=self.chunk_bytes)
        check_netcdf_supported(content)
        hasher = ContentHasher()
        target = local_path(fs, path)
        if target is not None:
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            write_netcdf_file(content, target, hasher)
            size = os.path.getsize(target)
        else:
            with tempfile.TemporaryDirectory(prefix="signalstore-nc-") as scratch:
                local = os.path.join(scratch, "blob.nc")
                write_netcdf_file(content, local, hasher)
                size = upload_file(local, fs, path)
        return WrittenBlob(address=hasher.address(), size=size)

    def read(self, fs: fsspec.AbstractFileSystem, path: str, *, lazy: bool = False) -> Any:
        """Load the Dataset at ``path``: in memory, or dask-backed if ``lazy``."""
        source = local_path(fs, path)
        if source is not None:
            return _open_netcdf_lazy(source) if lazy else _open_netcdf_eager(source)
        if lazy:  # the lazy arrays read the copy later, so it must outlive this call
            local = os.path.join(self._scratch_dir(), f"{os.urandom(16).hex()}.nc")
            fs.get_file(path, local)
            return _open_netcdf_lazy(local)
        with tempfile.TemporaryDirectory(prefix="signalstore-nc-") as scratch:
            local = os.path.join(scratch, "blob.nc")
            fs.get_file(path, local)
            return _open_netcdf_eager(local)

    def _scratch_dir(self) -> str:
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix="signalstore-nc-lazy-")
            weakref.finalize(self, shutil.rmtree, self._scratch, True)
        return self._scratch


class ZarrDatasetAdapter(DataAdapter):
    """Stores ``xarray.Dataset`` objects as Zarr v3 directories (see the module docstring)."""

    name = "xarray.dataset.zarr"
    file_format = "zarr"
    extension = ".zarr"
    is_directory = True

    def __init__(self, *, chunk_bytes: int = ZARR_CHUNK_BYTES, compressors: Any = "auto") -> None:
        self.chunk_bytes = chunk_bytes
        self.compressors = compressors

    def __repr__(self) -> str:
        return f"<ZarrDatasetAdapter chunk_bytes={self.chunk_bytes} compressors={self.compressors!r}>"

    def handles(self, obj: Any) -> bool:
        return isinstance(obj, xr.Dataset)

    def is_address_cheap(self, obj: Any) -> bool:
        """True unless some data are dask-backed (hashing first would compute them twice)."""
        return not is_dask_backed(obj)

    def content_address(self, obj: Any) -> str:
        return DatasetContent(obj, chunk_bytes=self.chunk_bytes).address()

    def write(self, obj: Any, fs: fsspec.AbstractFileSystem, path: str) -> WrittenBlob:
        """Write ``obj`` as a new Zarr group at ``path`` on ``fs`` while hashing it.

        Raises
        ------
        ValidationError
            For a dtype, value or name Zarr cannot hold exactly (see ``zarr``).
        """
        content: Any = DatasetContent(obj, chunk_bytes=self.chunk_bytes)
        check_zarr_keys(content)
        group = zarr.create_group(zarr_store(fs, path, read_only=False), zarr_format=3,
                                  attributes={METADATA_ATTR: content.metadata()})
        arrays = {spec.key: create_zarr_array(group, spec, self.compressors)
                  for spec in content.specs}
        hasher = ContentHasher()
        for spec, selection, block in content.iter_blocks(hasher):
            arrays[spec.key][selection or ...] = encode_zarr_block(block)
        return WrittenBlob(address=hasher.address(), size=tree_size(fs, path))

    def read(self, fs: fsspec.AbstractFileSystem, path: str, *, lazy: bool = False) -> Any:
        """Load the Dataset at ``path``: in memory, or dask-backed if ``lazy``."""
        store = zarr_store(fs, path, read_only=True)
        group = zarr.open_group(store, mode="r", zarr_format=3)

        def load(key: str) -> Any:
            array = group[key]
            if not isinstance(array, zarr.Array):
                raise IntegrityError(f"{path}: {key!r} is not a Zarr array")
            if lazy:
                return dask.array.from_zarr(array)  # type: ignore[no-untyped-call]
            return np.asarray(array[...])

        return build_dataset(group.attrs.get(METADATA_ATTR), load)


def _open_netcdf_eager(local: str) -> xr.Dataset:
    with open_netcdf(local) as raw:
        metadata = netcdf_layout(raw)
        chunks = {doc["key"]: tuple(doc["chunks"]) for doc in metadata["variables"]}
        return build_dataset(metadata, lambda key: load_netcdf_variable(raw.variables[key], chunks[key]))


def _open_netcdf_lazy(local: str) -> xr.Dataset:
    raw = open_netcdf(local)
    metadata = netcdf_layout(raw)
    docs = {doc["key"]: doc for doc in metadata["variables"]}

    def load(key: str) -> Any:
        doc = docs[key]
        if not doc["dims"]:  # one value: dask cannot reinterpret (view) a 0-D array's dtype
            return raw.variables[key].values
        return raw.variables[key].chunk(dict(zip(doc["dims"], doc["chunks"], strict=True))).data

    return build_dataset(metadata, load)


def _spec(key: str, variable: xr.Variable, is_data: bool, chunk_bytes: int) -> VariableSpec:
    where = f"data variable {key!r}" if is_data else f"coordinate {key!r}"
    dtype = canonical_dtype(variable.dtype, where=where)
    itemsize = _OBJECT_ITEMSIZE_GUESS if dtype.kind == "O" else dtype.itemsize
    shape = tuple(int(n) for n in variable.shape)
    return VariableSpec(key=key, name=key, is_data=is_data, dims=tuple(str(d) for d in variable.dims),
                        shape=shape, dtype=dtype,
                        attrs=encode_mapping(variable.attrs, where=f"{where} attrs"),
                        chunks=chunk_shape(shape, itemsize, chunk_bytes))


def _check_names(obj: xr.Dataset) -> None:
    for kind, names in (("dimension", tuple(obj.dims)), ("variable", tuple(obj.variables))):
        for name in names:
            if not isinstance(name, str) or not name or name.startswith(".") or "/" in name \
                    or "\x00" in name:
                raise ValidationError(f"{kind} name {name!r} cannot be stored: use a non-empty str "
                                      "without '/', NUL or a leading '.'")
    for name, index in obj.xindexes.items():
        if type(index) is not xr.indexes.PandasIndex:
            raise ValidationError(f"coordinate {name!r} has a {type(index).__name__}; only plain "
                                  "pandas indexes can be stored (reset or drop the others)")
