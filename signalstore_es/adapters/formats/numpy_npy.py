"""``NumpyAdapter``: a NumPy ``ndarray`` as one ``.npy`` file (NumPy's own format).

Hashed stream (framed parts are canonical JSON, see ``hashing``)::

    frame {"format": "signalstore_es.numpy.ndarray/1", "dtype": <little-endian dtype.str>,
           "shape": [...]}
    the values in C order, little-endian (datetime64/timedelta64 as their int64 bytes,
    fixed-width unicode as UCS-4, fixed-width bytes as they are)

The file is a ``numpy.lib.format`` header followed by exactly those bytes, written slab by
slab while they are hashed, so the data are read once and the file loads with ``np.load``.

Stored dtypes: bool, (u)int8-64, float16-64, complex64/128, datetime64, timedelta64 (any
unit), fixed-width bytes (``S``) and unicode (``U``). A big-endian array is stored as, and has
the address of, its little-endian equivalent. Refused with ValidationError:

* object arrays and NumPy's variable-width ``StringDType``: ``np.save`` would pickle them, and
  loading a pickle can run arbitrary code (use a fixed-width ``U`` array);
* structured and void dtypes: padding bytes are undefined, so equal arrays could hash
  differently (use a DataFrame or an xarray Dataset);
* extended-precision floats (``longdouble``): their bytes differ between platforms;
* ndarray subclasses that would come back as a plain array (masked arrays would lose their
  mask, matrices their type); ``np.memmap`` is stored as the plain array it views.

An ndarray has no attrs: its record is given to ``add`` separately, and ``get`` returns the
bare array (the record is returned by ``find``). ``read(..., lazy=True)`` returns a dask array
whose blocks read byte ranges of the blob, on any fsspec filesystem.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import dask.array
import fsspec
import numpy as np
from numpy.lib import format as npy_format

from signalstore_es.adapters.formats.hashing import ContentHasher
from signalstore_es.adapters.formats.xarray_content import (
    DEFAULT_CHUNK_BYTES,
    chunk_shape,
    iter_slabs,
)
from signalstore_es.errors import ArgumentTypeError, IntegrityError, ValidationError
from signalstore_es.ports.data_adapter import DataAdapter, WrittenBlob

FORMAT_TAG = "signalstore_es.numpy.ndarray/1"
_KINDS = frozenset("biufcMmSU")
_MAX_ITEMSIZE = {"f": 8, "c": 16}  # wider ones are platform long doubles, not portable
_STORABLE_TYPES = (np.ndarray, np.memmap)


class NumpyAdapter(DataAdapter):
    """Stores NumPy arrays as ``.npy`` files (see the module docstring)."""

    name = "numpy.ndarray.npy"
    file_format = "npy"
    extension = ".npy"
    is_directory = False

    def __init__(self, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        self.chunk_bytes = chunk_bytes

    def __repr__(self) -> str:
        return f"<NumpyAdapter chunk_bytes={self.chunk_bytes}>"

    object_types = _STORABLE_TYPES

    def handles(self, obj: Any) -> bool:
        return type(obj) in _STORABLE_TYPES

    def is_address_cheap(self, obj: Any) -> bool:
        """Always True: the array is in memory."""
        return True

    def content_address(self, obj: Any) -> str:
        """The address of ``obj``'s dtype, shape and C-order bytes.

        Raises
        ------
        ArgumentTypeError
            If ``obj`` is not an ndarray.
        ValidationError
            For a dtype or array type ``.npy`` cannot hold exactly (see the module docstring).
        """
        hasher = ContentHasher()
        for _ in _iter_bytes(obj, hasher, self.chunk_bytes):
            pass
        return hasher.address()

    def write(self, obj: Any, fs: fsspec.AbstractFileSystem, path: str) -> WrittenBlob:
        """Stream ``obj`` to ``path`` as ``.npy`` while hashing it.

        On failure ``path`` may hold partial bytes; the caller (the blob store) removes them.

        Raises
        ------
        ArgumentTypeError, ValidationError
            As :meth:`content_address`; nothing is written then.
        """
        dtype = canonical_dtype(_checked(obj))
        hasher = ContentHasher()
        make_parent_dirs(fs, path)
        with fs.open(path, "wb") as target:
            _write_header(target, dtype, obj.shape)
            for data in _iter_bytes(obj, hasher, self.chunk_bytes):
                target.write(data)
        return WrittenBlob(address=hasher.address(), size=int(fs.size(path)), shape=obj.shape,
                           dtype=str(dtype))

    def read(self, fs: fsspec.AbstractFileSystem, path: str, *, lazy: bool = False) -> Any:
        """Load the array at ``path``: in memory, or as a dask array if ``lazy``.

        Raises
        ------
        IntegrityError
            If the file is not an ``.npy`` file this adapter could have written.
        """
        if lazy:
            return _read_lazy(fs, path, self.chunk_bytes)
        with fs.open(path, "rb") as source:
            try:
                return npy_format.read_array(source, allow_pickle=False)
            except ValueError as err:
                raise IntegrityError(f"{path} is not a readable .npy blob: {err}") from err

    def record_attrs(self, obj: Any) -> Mapping[str, Any]:
        """Always empty: an ndarray carries no record; pass it to ``add`` as ``attrs=``."""
        return {}

    def attach_attrs(self, obj: Any, record: Mapping[str, Any]) -> Any:
        """``obj`` unchanged: an ndarray cannot carry its record (``find`` returns it)."""
        return obj


def canonical_dtype(obj: np.ndarray) -> np.dtype[Any]:
    """The little-endian dtype ``obj`` is stored as.

    Raises
    ------
    ValidationError
        For dtypes ``.npy`` cannot hold exactly and safely (see the module docstring).
    """
    dtype = obj.dtype
    if dtype.hasobject or dtype.kind == "T":
        raise ValidationError(
            f"a NumPy array of dtype {dtype} cannot be stored as .npy: np.save would pickle it, and "
            "loading a pickle can run arbitrary code; convert strings to a fixed-width 'U' array "
            "(arr.astype(str)) or store an xarray DataArray / pandas DataFrame instead")
    if dtype.kind not in _KINDS or dtype.itemsize > _MAX_ITEMSIZE.get(dtype.kind, dtype.itemsize):
        raise ValidationError(
            f"a NumPy array of dtype {dtype} cannot be stored exactly as .npy; use bool, (u)int8-64, "
            "float16-64, complex64/128, datetime64, timedelta64, or fixed-width bytes (S) / str (U)")
    return dtype.newbyteorder("<") if dtype.byteorder in "<>=" else dtype


def make_parent_dirs(fs: fsspec.AbstractFileSystem, path: str) -> None:
    """Create the directory ``path`` will be written in (local disk does not do it on open)."""
    if "/" in path.strip("/"):
        fs.makedirs(path.rstrip("/").rsplit("/", 1)[0], exist_ok=True)


def _checked(obj: Any) -> np.ndarray:
    if not isinstance(obj, np.ndarray):
        raise ArgumentTypeError(f"expected a numpy.ndarray, got {type(obj).__name__}")
    if type(obj) not in _STORABLE_TYPES:
        raise ValidationError(f"a {type(obj).__name__} would come back from .npy as a plain ndarray "
                              "(losing its mask or type); convert it with np.asarray(...) first, "
                              "or store it as a DataArray")
    return obj


def _iter_bytes(obj: Any, hasher: ContentHasher, chunk_bytes: int) -> Iterator[memoryview]:
    """The hashed stream's data, slab by slab, each added to ``hasher`` before it is yielded."""
    dtype = canonical_dtype(_checked(obj))
    shape = tuple(int(n) for n in obj.shape)
    hasher.update_document({"format": FORMAT_TAG, "dtype": dtype.str, "shape": list(shape)})
    for selection in iter_slabs(shape, chunk_shape(shape, dtype.itemsize, chunk_bytes)):
        # every slab is one contiguous run of the C-order bytes (see chunk_shape)
        block = np.ascontiguousarray(obj[selection] if selection else obj, dtype=dtype)
        data = block.reshape(-1).view(np.uint8).data
        hasher.update(data)
        yield data


def _write_header(target: Any, dtype: np.dtype[Any], shape: tuple[int, ...]) -> None:
    header = {"descr": npy_format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    try:
        npy_format.write_array_header_1_0(target, header)
    except ValueError:  # the header does not fit version 1.0's 64 KiB (very many dimensions)
        npy_format.write_array_header_2_0(target, header)


def _read_lazy(fs: fsspec.AbstractFileSystem, path: str, chunk_bytes: int) -> Any:
    reader = NpyRangeReader.open(fs, path)
    chunks = chunk_shape(reader.shape, reader.dtype.itemsize, chunk_bytes)
    meta = np.empty((0,) * len(reader.shape), dtype=reader.dtype)
    return dask.array.from_array(  # type: ignore[no-untyped-call]
        reader, chunks=chunks, meta=meta, name=False)


class NpyRangeReader:
    """Array-like view of an ``.npy`` blob that reads only the byte range a selection needs."""

    def __init__(self, fs: fsspec.AbstractFileSystem, path: str, *, offset: int,
                 shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self.fs, self.path, self.offset = fs, path, offset
        self.shape, self.dtype, self.ndim = shape, dtype, len(shape)

    @classmethod
    def open(cls, fs: fsspec.AbstractFileSystem, path: str) -> NpyRangeReader:
        """Read the header of the blob at ``path``.

        Raises
        ------
        IntegrityError
            If the header is unreadable, Fortran-ordered or describes objects.
        """
        with fs.open(path, "rb") as source:
            try:
                version = npy_format.read_magic(source)
                reader = (npy_format.read_array_header_1_0 if version == (1, 0)
                          else npy_format.read_array_header_2_0)
                shape, fortran_order, dtype = reader(source)
            except ValueError as err:
                raise IntegrityError(f"{path} is not a readable .npy blob: {err}") from err
            offset = source.tell()
        if fortran_order or dtype.hasobject:
            raise IntegrityError(f"{path} holds a Fortran-ordered or object array; this adapter "
                                 "never writes one")
        return cls(fs, path, offset=offset, shape=tuple(shape), dtype=dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        """Values of a tuple of step-1 slices (the selections dask asks for)."""
        bounds = [s.indices(n)[:2] for s, n in zip(_slices(key, self.ndim), self.shape, strict=True)]
        shape = tuple(max(0, stop - start) for start, stop in bounds)
        if 0 in shape:
            return np.empty(shape, dtype=self.dtype)
        first = int(np.ravel_multi_index([start for start, _ in bounds], self.shape)) if bounds else 0
        last = int(np.ravel_multi_index([stop - 1 for _, stop in bounds], self.shape)) + 1 if bounds else 1
        size = self.dtype.itemsize
        raw = self.fs.cat_file(self.path, start=self.offset + first * size, end=self.offset + last * size)
        values = np.frombuffer(raw, dtype=self.dtype)
        if last - first == int(np.prod(shape)):  # a contiguous slab: dask's own chunks
            return values.reshape(shape).copy()
        grid = np.ix_(*[np.arange(start, stop) for start, stop in bounds])
        return values[np.ravel_multi_index(grid, self.shape) - first]


def _slices(key: Any, ndim: int) -> tuple[slice, ...]:
    key = key if isinstance(key, tuple) else (key,)
    if any(not isinstance(k, slice) or k.step not in (None, 1) for k in key) or len(key) > ndim:
        raise IndexError(f"NpyRangeReader supports only step-1 slices, got {key!r}")
    return (*key, *[slice(None)] * (ndim - len(key)))
