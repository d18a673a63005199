"""``NetCdfDataArrayAdapter``: an xarray DataArray as one netCDF-4 (HDF5) file.

Written with the netCDF4 library directly, slab by slab (``chunk_bytes``, 16 MiB), so no CF
encoding can change the values; each slab is hashed on a worker thread while the next one is
written, and on local disk the kernel is asked to start writing each slab back at once, so the
fsync before publishing finds little left to do. Read with the netCDF4 library directly too,
one call per variable straight into the result array, with masking and scaling off (lazy
reads go through xarray's ``netcdf4`` engine with ``decode_cf=False``), so no mask, scale,
fill value or time decoding can change them either; the blob's own layout (global attribute
``signalstore_es``, JSON) restores names, coordinates, coordinate attrs and the exact dtypes.
All HDF5 calls hold one process-wide lock (HDF5 is not thread-safe).

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
from collections.abc import Callable
from typing import Any

import fsspec
import netCDF4
import numpy as np
import xarray as xr

from signalstore_es.adapters.formats.hashing import BackgroundHasher, ContentHasher
from signalstore_es.adapters.formats.xarray_content import (
    DEFAULT_CHUNK_BYTES,
    METADATA_ATTR,
    DataArrayKind,
    StreamedAdapter,
    StreamedContent,
    VariableSpec,
    checked_strings,
)
from signalstore_es.adapters.fsspec.blob_store import local_path
from signalstore_es.adapters.fsspec.local import Writeback
from signalstore_es.errors import IntegrityError, ValidationError
from signalstore_es.ports.data_adapter import WrittenBlob

try:  # HDF5 is not thread-safe: share xarray's lock so our calls never overlap its reads
    from xarray.backends.netCDF4_ import NETCDF4_PYTHON_LOCK as _LOCK
except ImportError:  # pragma: no cover - xarray moved it; serialize at least our own calls
    _LOCK = threading.Lock()

#: our reads, serialized among themselves: xarray's netCDF4 open path is not safe when two
#: threads open files at once (a CI run died of SIGBUS in HDF5 with two threads in get_attrs).
#: Always taken before ``_LOCK``, never while holding it.
_READ_LOCK = threading.RLock()

_COPY_BYTES = 8 * 2**20
_HAS_COMPLEX = tuple(int(p) for p in netCDF4.__version__.split(".")[:2]) >= (1, 7)
_COMPLEX_OPTION: dict[str, Any] = {"auto_complex": True} if _HAS_COMPLEX else {}
_VIEWS = {"b": "u1", "M": "i8", "m": "i8"}
Build = Callable[[Any, Callable[[str], Any]], Any]


class NetCdfAdapterBase(StreamedAdapter):
    """A netCDF-4 file per object, for any :class:`StreamedContent` (see the module docstring).

    Subclasses say which objects they handle, how an object becomes its content
    (:meth:`_content`), how the loaded variables become an object again (:meth:`_build`) and
    what the returned :class:`WrittenBlob` carries (:meth:`_written`).
    """

    file_format = "netcdf"
    extension = ".nc"
    is_directory = False

    def __init__(self, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        self.chunk_bytes = chunk_bytes
        self._scratch: str | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} chunk_bytes={self.chunk_bytes}>"

    def write(self, obj: Any, fs: fsspec.AbstractFileSystem, path: str) -> WrittenBlob:
        """Write ``obj`` to ``path`` on ``fs`` while hashing it.

        On failure ``path`` may hold partial bytes; the caller (the blob store) removes them.

        Raises
        ------
        ValidationError
            For a dtype, value or name netCDF-4 cannot hold exactly (see the module docstring).
        """
        content = self._content(obj)
        _check_supported(content)
        target = local_path(fs, path)
        with BackgroundHasher() as hasher:
            if target is not None:
                os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
                _write_file(content, target, hasher, writeback=True)
                size = os.path.getsize(target)
            else:
                with tempfile.TemporaryDirectory(prefix="signalstore-nc-") as scratch:
                    local = os.path.join(scratch, "blob.nc")
                    _write_file(content, local, hasher)
                    size = _upload(local, fs, path)
            address = hasher.address()
        return self._written(content, obj, address, size)

    def read(self, fs: fsspec.AbstractFileSystem, path: str, *, lazy: bool = False) -> Any:
        """Load the object at ``path``: in memory, or dask-backed if ``lazy``."""
        source = local_path(fs, path)
        if source is not None:
            return _open_lazy(source, self._build) if lazy else _open_eager(source, self._build)
        if lazy:  # the lazy arrays read the copy later, so it must outlive this call
            local = os.path.join(self._scratch_dir(), f"{os.urandom(16).hex()}.nc")
            fs.get_file(path, local)
            return _open_lazy(local, self._build)
        with tempfile.TemporaryDirectory(prefix="signalstore-nc-") as scratch:
            local = os.path.join(scratch, "blob.nc")
            fs.get_file(path, local)
            return _open_eager(local, self._build)

    def _scratch_dir(self) -> str:
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix="signalstore-nc-lazy-")
            weakref.finalize(self, shutil.rmtree, self._scratch, True)
        return self._scratch


class NetCdfDataArrayAdapter(DataArrayKind, NetCdfAdapterBase):
    """Stores ``xarray.DataArray`` objects as netCDF-4 files (see the module docstring)."""

    name = "xarray.dataarray.netcdf"


def open_dataset(local: str) -> xr.Dataset:
    """The file as an xarray Dataset, undecoded (for lazy reads)."""
    # decode_cf=False: no mask, scale, fill value or time decoding may touch the values
    with _READ_LOCK:
        return xr.open_dataset(local, engine="netcdf4", decode_cf=False, auto_complex=_HAS_COMPLEX)


def _open_eager(local: str, build: Build) -> Any:
    """Every variable read in one call each, under both locks, the file closed afterwards."""
    with _READ_LOCK, _LOCK:
        nc = netCDF4.Dataset(local, "r", **_COMPLEX_OPTION)
        try:
            metadata = _parse_layout(nc.getncattr(METADATA_ATTR) if METADATA_ATTR in nc.ncattrs() else None)
            return build(metadata, lambda key: _read_variable(nc, key))
        finally:
            nc.close()


def _read_variable(nc: Any, key: str) -> Any:
    variable = nc.variables.get(key)
    if variable is None:
        raise IntegrityError(f"the blob layout names variable {key!r}, which the netCDF file lacks")
    variable.set_auto_maskandscale(False)  # the stored values exactly, never a masked array
    values = variable[...]
    if not isinstance(values, np.ndarray):  # a 0-d string comes back as a bare str
        values = np.array(values, dtype=object)
    return values


def _open_lazy(local: str, build: Build) -> Any:
    dataset = open_dataset(local)
    try:
        metadata = _parse_layout(dataset.attrs.get(METADATA_ATTR))
        docs = {doc["key"]: doc for doc in metadata["variables"]}

        def load(key: str) -> Any:
            doc = docs[key]
            if not doc["dims"]:  # one value: dask cannot reinterpret (view) a 0-D array's dtype
                return dataset.variables[key].values
            return dataset.variables[key].chunk(dict(zip(doc["dims"], doc["chunks"], strict=True))).data

        return build(metadata, load)
    except BaseException:
        dataset.close()  # a lazy open would otherwise keep the file open
        raise


def _parse_layout(raw: Any) -> Any:
    try:
        metadata = json.loads(raw)
        if not isinstance(metadata, dict) or not isinstance(metadata.get("variables"), list):
            raise ValueError("no list of variables")
        return metadata
    except (TypeError, ValueError) as err:
        raise IntegrityError("this netCDF file has no readable signalstore_es layout "
                             f"attribute ({type(err).__name__}: {err})") from err


def _check_supported(content: StreamedContent) -> None:
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


def _write_file(content: StreamedContent, target: str, hasher: ContentHasher, *,
                writeback: bool = False) -> None:
    """Create ``target`` and stream the content into it; ``writeback`` starts each slab's
    write-back to disk right away (for a file that will be fsync'ed)."""
    with _LOCK:
        nc = netCDF4.Dataset(target, "w", clobber=False, format="NETCDF4", **_COMPLEX_OPTION)
    flusher = Writeback(target) if writeback else None
    try:
        with _LOCK:
            variables = _define(nc, content)
        for spec, selection, block in content.iter_blocks(hasher):
            encoded = _encode(block, spec)  # encoding (and hashing) run outside the lock
            with _LOCK:
                variables[spec.key][selection or ...] = encoded
            if flusher is not None:
                flusher.written(encoded.nbytes)
    finally:
        with _LOCK:
            nc.close()
        if flusher is not None:
            flusher.close()


def _define(nc: Any, content: StreamedContent) -> dict[str, Any]:
    nc.set_fill_off()  # every value is written: skip the pre-fill pass over the file
    nc.setncattr(METADATA_ATTR, json.dumps(content.metadata(), ensure_ascii=False))
    variables = {}
    for spec in content.specs:
        for dim, extent in zip(spec.dims, spec.shape, strict=True):
            if dim not in nc.dimensions:
                _named(f"dimension {dim!r}", nc.createDimension, dim, extent)
        variable = _named(f"variable {spec.key!r}", nc.createVariable, spec.key,
                          _stored_dtype(spec), spec.dims, fill_value=False)
        variable.set_auto_maskandscale(False)  # write the values as they are, no masked arrays
        variables[spec.key] = variable
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
