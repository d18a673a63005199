"""``NetCdfDataArrayAdapter``: an xarray DataArray as one netCDF-4 (HDF5) file.

Written with the netCDF4 library directly, slab by slab, while the slabs are hashed, so the
data are read once and no CF encoding can change them. Read with xarray's ``netcdf4`` engine
and ``decode_cf=False``, so no mask, scale, fill value or time decoding can change them
either; the blob's own layout (global attribute ``signalstore_es``, JSON) restores names,
coordinates, coordinate attrs and the exact dtypes.

Stored forms (netCDF-4 has no bool, float16, datetime or fixed-width unicode type):

===============================  ==============================================================
dtype                            netCDF variable
===============================  ==============================================================
(u)int8-64, float32/64           itself, no ``_FillValue``, no fill mode
complex64/128                    compound ``{r, i}`` (nc-complex, ``auto_complex=True``, netCDF4 >= 1.7)
bool                             uint8 (0/1), reinterpreted on read
float16                          uint16 bit pattern, reinterpreted on read
datetime64 / timedelta64 (any)   int64 view, reinterpreted on read (the unit is in the layout)
unicode ``<U<n>`` and object     variable-length string, converted back on read
===============================  ==============================================================

Limits: strings containing NUL or lone surrogates are refused (netCDF strings are
NUL-terminated UTF-8); zero-length dimensions become unlimited dimensions (netCDF has no
other way to hold them; harmless on read). netCDF4 needs a real file: on a non-local
filesystem a write goes to a local temporary file that is then copied in chunks, and a read
copies the blob to a local temporary file (for ``lazy=True`` that copy lives in a scratch
directory removed when the adapter is garbage-collected or the process exits; prefer Zarr for
lazy access to remote blobs).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import weakref
from typing import Any

import fsspec
import netCDF4
import numpy as np
import xarray as xr

from signalstore_es.adapters.formats.hashing import ContentHasher
from signalstore_es.adapters.formats.xarray_content import (
    DEFAULT_CHUNK_BYTES,
    METADATA_ATTR,
    DataArrayContent,
    VariableSpec,
    build_dataarray,
    checked_strings,
    iter_slabs,
)
from signalstore_es.adapters.fsspec.blob_store import local_path
from signalstore_es.errors import IntegrityError, ValidationError
from signalstore_es.ports.data_adapter import DataAdapter, WrittenBlob

try:  # HDF5 is not thread-safe: share xarray's lock so our writes never overlap its reads
    from xarray.backends.netCDF4_ import NETCDF4_PYTHON_LOCK as _LOCK
except ImportError:  # pragma: no cover - xarray moved it; serialize at least our own calls
    _LOCK = threading.Lock()

#: our reads, serialized among themselves: xarray's netCDF4 open path is not safe when two
#: threads open files at once (a CI run died of SIGBUS in HDF5 with two threads in get_attrs)
_READ_LOCK = threading.RLock()

_COPY_BYTES = 8 * 2**20
_HAS_COMPLEX = tuple(int(p) for p in netCDF4.__version__.split(".")[:2]) >= (1, 7)
_COMPLEX_OPTION: dict[str, Any] = {"auto_complex": True} if _HAS_COMPLEX else {}
_VIEWS = {"b": "u1", "M": "i8", "m": "i8"}


class NetCdfDataArrayAdapter(DataAdapter):
    """Stores ``xarray.DataArray`` objects as netCDF-4 files (see the module docstring)."""

    name = "xarray.dataarray.netcdf"
    file_format = "netcdf"
    extension = ".nc"
    is_directory = False

    def __init__(self, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        self.chunk_bytes = chunk_bytes
        self._scratch: str | None = None

    def __repr__(self) -> str:
        return f"<NetCdfDataArrayAdapter chunk_bytes={self.chunk_bytes}>"

    def handles(self, obj: Any) -> bool:
        return isinstance(obj, xr.DataArray)

    def is_address_cheap(self, obj: Any) -> bool:
        """True unless the data are dask-backed (hashing first would compute them twice)."""
        return getattr(obj, "chunks", None) is None

    def content_address(self, obj: Any) -> str:
        return DataArrayContent(obj, chunk_bytes=self.chunk_bytes).address()

    def write(self, obj: Any, fs: fsspec.AbstractFileSystem, path: str) -> WrittenBlob:
        """Write ``obj`` to ``path`` on ``fs`` while hashing it.

        On failure ``path`` may hold partial bytes; the caller (the blob store) removes them.

        Raises
        ------
        ValidationError
            For a dtype, value or name netCDF-4 cannot hold exactly (see the module docstring).
        """
        content = DataArrayContent(obj, chunk_bytes=self.chunk_bytes)
        _check_supported(content)
        hasher = ContentHasher()
        target = local_path(fs, path)
        if target is not None:
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            _write_file(content, target, hasher)
            size = os.path.getsize(target)
        else:
            with tempfile.TemporaryDirectory(prefix="signalstore-nc-") as scratch:
                local = os.path.join(scratch, "blob.nc")
                _write_file(content, local, hasher)
                size = _upload(local, fs, path)
        return WrittenBlob(address=hasher.address(), size=size, shape=content.shape,
                           dtype=str(obj.dtype))

    def read(self, fs: fsspec.AbstractFileSystem, path: str, *, lazy: bool = False) -> Any:
        """Load the DataArray at ``path``: in memory, or dask-backed if ``lazy``."""
        source = local_path(fs, path)
        if source is not None:
            return _open_lazy(source) if lazy else _open_eager(source)
        if lazy:  # the lazy arrays read the copy later, so it must outlive this call
            local = os.path.join(self._scratch_dir(), f"{os.urandom(16).hex()}.nc")
            fs.get_file(path, local)
            return _open_lazy(local)
        with tempfile.TemporaryDirectory(prefix="signalstore-nc-") as scratch:
            local = os.path.join(scratch, "blob.nc")
            fs.get_file(path, local)
            return _open_eager(local)

    def _scratch_dir(self) -> str:
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix="signalstore-nc-lazy-")
            weakref.finalize(self, shutil.rmtree, self._scratch, True)
        return self._scratch


def _open_dataset(local: str) -> xr.Dataset:
    # decode_cf=False: no mask, scale, fill value or time decoding may touch the values
    with _READ_LOCK:
        return xr.open_dataset(local, engine="netcdf4", decode_cf=False, auto_complex=_HAS_COMPLEX)


def _open_eager(local: str) -> xr.DataArray:
    with _READ_LOCK, _open_dataset(local) as dataset:
        metadata = _metadata(dataset)
        chunks = {doc["key"]: tuple(doc["chunks"]) for doc in metadata["variables"]}
        return build_dataarray(metadata, lambda key: _load(dataset.variables[key], chunks[key]))


def _open_lazy(local: str) -> xr.DataArray:
    with _READ_LOCK:
        dataset = _open_dataset(local)
        metadata = _metadata(dataset)
    data = next(doc for doc in metadata["variables"] if doc["is_data"])
    chunked = dataset.chunk(dict(zip(data["dims"], data["chunks"], strict=True)))
    return build_dataarray(metadata, lambda key: chunked.variables[key].data)


def _load(variable: xr.Variable, chunks: tuple[int, ...]) -> Any:
    """The values, read slab by slab: netCDF4 reading a whole variable holds it twice."""
    if variable.dtype.kind not in "biufc" or variable.ndim == 0:
        return variable.values
    values = np.empty(variable.shape, dtype=variable.dtype)
    for selection in iter_slabs(variable.shape, chunks):
        values[selection] = variable[selection].values
    return values


def _check_supported(content: DataArrayContent) -> None:
    for spec in content.specs:
        if spec.dtype.kind == "c" and not _HAS_COMPLEX:
            raise ValidationError(f"{spec.dtype} cannot be stored in netcdf with netCDF4 "
                                  f"{netCDF4.__version__}; upgrade to netCDF4 >= 1.7 or use zarr")


def _stored_dtype(spec: VariableSpec) -> Any:
    if spec.dtype.kind in "UO":
        return str
    stored = np.dtype("u2" if spec.dtype.str == "<f2" else _VIEWS.get(spec.dtype.kind, spec.dtype))
    return stored.newbyteorder("=")  # netCDF4 warns unless the dtype is in native order


def _encode(block: np.ndarray, spec: VariableSpec) -> np.ndarray:
    if spec.dtype.kind in "UO":
        return checked_strings(block, file_format="netcdf", forbid_nul=True)
    stored = _stored_dtype(spec)
    return block if stored == block.dtype else block.view(stored)


def _write_file(content: DataArrayContent, target: str, hasher: ContentHasher) -> None:
    with _LOCK:
        nc = netCDF4.Dataset(target, "w", clobber=False, format="NETCDF4", **_COMPLEX_OPTION)
    try:
        with _LOCK:
            variables = _define(nc, content)
        for spec, selection, block in content.iter_blocks(hasher):
            encoded = _encode(block, spec)  # hashing and encoding run outside the lock
            with _LOCK:
                variables[spec.key][selection or ...] = encoded
    finally:
        with _LOCK:
            nc.close()


def _define(nc: Any, content: DataArrayContent) -> dict[str, Any]:
    nc.set_fill_off()  # every value is written: skip the pre-fill pass over the file
    nc.setncattr(METADATA_ATTR, json.dumps(content.metadata(), ensure_ascii=False))
    variables = {}
    for spec in content.specs:
        for dim, extent in zip(spec.dims, spec.shape, strict=True):
            if dim not in nc.dimensions:
                _named(f"dimension {dim!r}", nc.createDimension, dim, extent)
        variables[spec.key] = _named(f"variable {spec.key!r}", nc.createVariable, spec.key,
                                     _stored_dtype(spec), spec.dims, fill_value=False)
    return variables


def _named(what: str, create: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return create(*args, **kwargs)
    except RuntimeError as err:
        if "Name" not in str(err):
            raise
        raise ValidationError(f"{what} cannot be stored in netcdf ({err}); netCDF names may not "
                              "start or end with whitespace or start with '-'") from err


def _upload(local: str, fs: fsspec.AbstractFileSystem, path: str) -> int:
    with open(local, "rb") as source, fs.open(path, "wb") as target:
        shutil.copyfileobj(source, target, _COPY_BYTES)
    return os.path.getsize(local)


def _metadata(dataset: xr.Dataset) -> Any:
    try:
        return json.loads(dataset.attrs[METADATA_ATTR])
    except (KeyError, TypeError, ValueError) as err:
        dataset.close()  # a lazy open would otherwise keep the file open
        raise IntegrityError("this netCDF file has no readable signalstore_es layout "
                             f"attribute ({type(err).__name__}: {err})") from err

