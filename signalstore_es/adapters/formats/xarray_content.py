"""The logical content of an xarray DataArray: what its address covers and what a blob stores.

Hashed stream (framed parts are canonical JSON with an 8-byte length, see ``hashing``)::

    frame {"format", "name", "dims", "shape", "dtype", "coords": [sorted coordinate names]}
    for each coordinate, sorted by name:
        frame {"name", "dims", "shape", "dtype", "attrs"}   then its data bytes
    the DataArray's data bytes

Data bytes are the values in C order, hashed chunk by chunk while they are streamed:

* numbers and bool: little-endian bytes (byte order is representation, not content: a
  big-endian array has the address of, and is stored as, its little-endian equivalent);
  NaN hashes by its bit pattern, so it is deterministic and -0.0 differs from 0.0;
* datetime64 / timedelta64: the int64 view (the unit is in the dtype string);
* fixed-width unicode (``<U<n>``): its UCS-4 bytes;
* object arrays: every element must be a ``str``; each is an 8-byte little-endian length
  followed by its UTF-8 bytes.

The DataArray's own ``attrs`` (and ``encoding``) are neither hashed nor stored: the record is
their source of truth. Coordinate attrs are both. ``name`` is a ``str`` or ``None``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import numpy as np
import xarray as xr

from signalstore_es.adapters.formats.hashing import (
    ContentHasher,
    decode_mapping,
    encode_mapping,
    length_prefixed_utf8,
)
from signalstore_es.errors import ArgumentTypeError, IntegrityError, ValidationError
from signalstore_es.ports.data_adapter import DataAdapter, WrittenBlob

FORMAT_TAG = "signalstore_es.xarray.DataArray/1"
METADATA_ATTR = "signalstore_es"  #: global attribute holding the JSON layout of the blob
DATA_KEY = "__xarray_dataarray_variable__"  #: xarray's own name for an unnamed DataArray
DEFAULT_CHUNK_BYTES = 16 * 2**20
_OBJECT_ITEMSIZE_GUESS = 64  # bytes per str element when sizing chunks of object arrays
_SUPPORTED_KINDS = frozenset("biufcMmUO")
_MAX_ITEMSIZE = {"f": 8, "c": 16}  # wider ones are platform long doubles, not portable
Selection = tuple[slice, ...]


@attrs.frozen(kw_only=True)
class VariableSpec:
    """One stored variable: the DataArray's data or one of its coordinates."""

    key: str  #: variable name inside the blob
    name: str | None  #: coordinate name, or the DataArray's name for the data
    is_data: bool
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: np.dtype[Any]  #: canonical (little-endian) dtype
    attrs: Mapping[str, Any]  #: canonical form of the coordinate attrs
    chunks: tuple[int, ...]  #: C-order slab shape used to stream (and to chunk Zarr)

    def document(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "is_data": self.is_data, "dims": list(self.dims),
                "shape": list(self.shape), "dtype": self.dtype.str, "attrs": dict(self.attrs),
                "chunks": list(self.chunks)}


class StreamedContent:
    """Variables planned to be hashed and streamed in one pass (a DataArray's or a Dataset's).

    Subclasses set ``specs`` and say what the first frame is, which variables have a header
    frame, and where each variable's values come from.
    """

    specs: tuple[VariableSpec, ...]

    def _head(self) -> dict[str, Any]:
        raise NotImplementedError

    def _header(self, spec: VariableSpec) -> dict[str, Any] | None:
        raise NotImplementedError

    def variable(self, spec: VariableSpec) -> xr.Variable:
        """The variable whose values ``spec`` streams."""
        raise NotImplementedError

    def in_memory(self, spec: VariableSpec) -> bool:
        """Whether any slab of ``spec`` is a view of values already in memory in their stored
        dtype, so that slab size costs no memory (no copy, no compute, no conversion)."""
        variable = self.variable(spec)
        return (bool(getattr(variable, "_in_memory", False)) and not isinstance(variable, xr.IndexVariable)
                and variable.dtype == spec.dtype and spec.dtype.kind not in "OU")

    def metadata(self) -> dict[str, Any]:
        raise NotImplementedError

    def iter_blocks(self, hasher: ContentHasher, *, batch: int = 1,
                    memory_batch: int | None = None) -> Iterator[tuple[VariableSpec, Selection, np.ndarray]]:
        """Yield every slab in hashing order; each is added to ``hasher`` once the consumer is done.

        The headers are hashed before the first slab of their variable; a slab is hashed when
        the consumer asks for the next one, so with a :class:`BackgroundHasher` hashing slab
        *k* overlaps writing slab *k + 1*, and the hash reads each slab after it was written
        (a concurrent mutation of the data then makes the hash differ, never the file alone).

        ``batch`` (``memory_batch`` for variables already in memory) is the number of
        ``spec.chunks`` slabs per yielded slab; the bytes hashed do not depend on it.
        """
        hasher.update_document(self._head())
        for spec in self.specs:
            header = self._header(spec)
            if header is not None:
                hasher.update_document(header)
            variable = self.variable(spec)
            factor = memory_batch if memory_batch is not None and self.in_memory(spec) else batch
            for selection in iter_slabs(spec.shape, batch_shape(spec.shape, spec.chunks, factor)):
                block = np.asarray(variable[selection].values, dtype=spec.dtype)
                yield spec, selection, block
                hasher.update(canonical_bytes(block))

    def address(self) -> str:
        """The content address (consumes one full pass over the data, on all cores)."""
        with ContentHasher(threads=True) as hasher:
            for _ in self.iter_blocks(hasher, memory_batch=_WHOLE):
                pass
            return hasher.address()


_WHOLE = 2**62  #: a batch factor that takes whole variables


class DataArrayContent(StreamedContent):
    """A validated DataArray, planned as variables to hash and stream in one pass.

    Parameters
    ----------
    obj : xarray.DataArray
    chunk_bytes : int
        Target size of one streamed slab; peak extra memory is about one slab.

    Raises
    ------
    ArgumentTypeError
        If ``obj`` is not a DataArray.
    ValidationError
        For names, dtypes, indexes or coordinate attrs that cannot be stored exactly.
    """

    def __init__(self, obj: Any, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        if not isinstance(obj, xr.DataArray):
            raise ArgumentTypeError(f"expected an xarray.DataArray, got {type(obj).__name__}")
        _check_names(obj)
        self._obj = obj
        coords = [_spec(n, obj.coords[n].variable, False, chunk_bytes) for n in sorted(map(str, obj.coords))]
        key = obj.name if isinstance(obj.name, str) and obj.name not in {*obj.coords, *obj.dims} else DATA_KEY
        self.data = _spec(key, obj.variable, True, chunk_bytes, name=obj.name)
        self.specs: tuple[VariableSpec, ...] = (*coords, self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def metadata(self) -> dict[str, Any]:
        """The JSON layout stored in the blob, from which :func:`build_dataarray` rebuilds it."""
        return {"format": FORMAT_TAG, "variables": [spec.document() for spec in self.specs]}

    def _head(self) -> dict[str, Any]:
        return {"format": FORMAT_TAG, "name": self.data.name, "dims": list(self.data.dims),
                "shape": list(self.data.shape), "dtype": self.data.dtype.str,
                "coords": [spec.name for spec in self.specs[:-1]]}

    def _header(self, spec: VariableSpec) -> dict[str, Any] | None:
        if spec.is_data:
            return None
        header = spec.document()
        return {k: header[k] for k in ("name", "dims", "shape", "dtype", "attrs")}

    def variable(self, spec: VariableSpec) -> xr.Variable:
        return self._obj.variable if spec.is_data else self._obj.coords[spec.key].variable


def canonical_bytes(block: np.ndarray) -> bytes | memoryview:
    """The hashed bytes of one C-order slab (see the module docstring)."""
    if block.dtype.kind == "O":
        return b"".join(length_prefixed_utf8(s) for s in checked_strings(block).ravel())
    flat = np.ascontiguousarray(block).reshape(-1)
    if block.dtype.kind in "Mm":
        flat = flat.view("<i8")
    return flat.view(np.uint8).data  # zero-copy view of the slab


def checked_strings(block: np.ndarray, *, file_format: str = "", forbid_nul: bool = False) -> np.ndarray:
    """``block`` as an object array of ``str``; refuses values the format cannot store."""
    values = block.astype(object) if block.dtype.kind == "U" else block
    where = f"in {file_format} " if file_format else ""
    for value in values.ravel():
        if not isinstance(value, str):
            raise ValidationError(f"object arrays can only be stored {where}when every element is a "
                                  f"str; found a {type(value).__name__} ({value!r:.40})")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValidationError(f"string {value!r:.40} is not valid Unicode ({err.reason}) and "
                                  f"cannot be stored {where}as UTF-8") from err
        if forbid_nul and "\x00" in value:
            raise ValidationError(f"string {value!r:.40} contains a NUL character, which "
                                  f"{file_format} strings cannot hold; remove it or use zarr")
    return values


def chunk_shape(shape: tuple[int, ...], itemsize: int, chunk_bytes: int) -> tuple[int, ...]:
    """A slab shape of about ``chunk_bytes`` whose slabs tile the array in C order.

    Trailing axes are taken whole while they fit, one axis is split, leading axes get 1, so
    every slab is one contiguous run of the C-order bytes.
    """
    limit = max(1, chunk_bytes // max(1, itemsize))
    chunks, inner = [1] * len(shape), 1
    for axis in reversed(range(len(shape))):
        extent = max(1, shape[axis])
        if inner * extent > limit:
            chunks[axis] = max(1, limit // inner)
            break
        chunks[axis], inner = extent, inner * extent
    return tuple(chunks)


def iter_slabs(shape: tuple[int, ...], chunks: tuple[int, ...]) -> Iterator[Selection]:
    """Selections of ``chunks``-shaped slabs in C order (none if any axis is empty)."""
    starts = [range(0, extent, step) for extent, step in zip(shape, chunks, strict=True)]
    for corner in itertools.product(*starts):
        yield tuple(slice(s, min(s + step, extent))
                    for s, step, extent in zip(corner, chunks, shape, strict=True))


def batch_shape(shape: tuple[int, ...], chunks: tuple[int, ...], factor: int) -> tuple[int, ...]:
    """A slab of about ``factor`` chunks that is still one contiguous C-order run.

    ``chunks`` comes from :func:`chunk_shape`; the batch grows its split axis by whole chunks,
    and once that axis is whole, the next leading one, so batch edges are chunk edges.
    """
    out, left = list(chunks), max(1, factor)
    for axis in reversed(range(len(shape))):
        extent = max(1, shape[axis])
        if left <= 1:
            break
        if out[axis] >= extent:
            continue
        count = -(-extent // out[axis])
        if left < count:
            out[axis] *= left
            break
        out[axis], left = extent, left // count
    return tuple(out)


def build_dataarray(metadata: Any, load: Callable[[str], Any]) -> xr.DataArray:
    """Rebuild a DataArray from a blob's ``metadata`` and a loader of its variables.

    ``load(key)`` returns a NumPy or dask array; dtypes the format stored differently are
    restored with :func:`restore_dtype`, lazily for dask arrays.
    """
    if not isinstance(metadata, Mapping) or metadata.get("format") != FORMAT_TAG:
        raise IntegrityError(f"not a {FORMAT_TAG} blob: its layout attribute is missing or unknown")
    coords, data, name = {}, None, None
    for doc in metadata["variables"]:
        values = restore_dtype(load(doc["key"]), np.dtype(doc["dtype"]))
        variable = xr.Variable(tuple(doc["dims"]), values, attrs=decode_mapping(doc["attrs"]))
        if tuple(variable.shape) != tuple(doc["shape"]):
            raise IntegrityError(f"variable {doc['key']!r} has shape {variable.shape}, "
                                 f"layout says {tuple(doc['shape'])}")
        if doc["is_data"]:
            data, name = variable, doc["name"]
        else:
            coords[doc["name"]] = variable
    if data is None:
        raise IntegrityError("the blob layout names no data variable")
    return xr.DataArray(data, coords=coords, name=name)


def restore_dtype(values: Any, dtype: np.dtype[Any]) -> Any:
    """``values`` as ``dtype``: same-size reinterpretation or a string conversion, never a cast
    that could change a number."""
    if values.dtype == dtype:
        return values
    if dtype.kind in "bfMm" and values.dtype.kind in "iu" and values.dtype.itemsize == dtype.itemsize:
        return values.view(dtype)
    if dtype.kind in "UO" and values.dtype.kind in "UOT":
        return values.astype(dtype)
    raise IntegrityError(f"stored dtype {values.dtype} cannot be restored to {dtype}")


def _spec(key: str, variable: xr.Variable, is_data: bool, chunk_bytes: int,
          name: Any = None) -> VariableSpec:
    where = "the data" if is_data else f"coordinate {key!r}"
    dtype = canonical_dtype(variable.dtype, where=where)
    itemsize = _OBJECT_ITEMSIZE_GUESS if dtype.kind == "O" else dtype.itemsize
    attrs = {} if is_data else encode_mapping(variable.attrs, where=f"{where} attrs")
    shape = tuple(int(n) for n in variable.shape)
    return VariableSpec(key=key, name=name if is_data else key, is_data=is_data,
                        dims=tuple(str(d) for d in variable.dims), shape=shape, dtype=dtype,
                        attrs=attrs, chunks=chunk_shape(shape, itemsize, chunk_bytes))


def canonical_dtype(dtype: np.dtype[Any], *, where: str) -> np.dtype[Any]:
    """The little-endian form of a supported dtype.

    Raises
    ------
    ValidationError
        For bytes (S), void/structured (V), extended-precision floats (> 8 bytes) and complex
        (> 16 bytes), and NumPy's variable-width StringDType: they have no exact stored form.
    """
    too_wide = dtype.itemsize > _MAX_ITEMSIZE.get(dtype.kind, dtype.itemsize)
    if dtype.kind not in _SUPPORTED_KINDS or too_wide:
        raise ValidationError(
            f"{where} has dtype {dtype}, which signalstore_es cannot store exactly; use bool, "
            "(u)int8-64, float16-64, complex64/128, datetime64, timedelta64, str (U) or object "
            "arrays of str")
    return dtype.newbyteorder("<") if dtype.byteorder in "<>=" else dtype


def _check_names(obj: xr.DataArray) -> None:
    if obj.name is not None and not isinstance(obj.name, str):
        raise ValidationError(f"DataArray name {obj.name!r} is a {type(obj.name).__name__}; "
                              "use a str or None")
    for kind, names in (("dimension", obj.dims), ("coordinate", tuple(obj.coords))):
        for name in names:
            if not isinstance(name, str) or not name or name.startswith(".") or "/" in name \
                    or "\x00" in name or name == DATA_KEY:
                raise ValidationError(f"{kind} name {name!r} cannot be stored: use a non-empty str "
                                      f"without '/', NUL or a leading '.', other than {DATA_KEY!r}")
    for name, index in obj.xindexes.items():
        if type(index) is not xr.indexes.PandasIndex:
            raise ValidationError(f"coordinate {name!r} has a {type(index).__name__}; only plain "
                                  "pandas indexes can be stored (reset or drop the others)")


class StreamedAdapter(DataAdapter):
    """What the netCDF and Zarr adapters share: an object becomes a :class:`StreamedContent`
    (:meth:`_content`), its address is that content's, and the loaded variables become an
    object again (:meth:`_build`). A kind mixin (:class:`DataArrayKind`, ``DatasetKind``),
    listed first, fills these in; a format base class adds ``write`` and ``read``."""

    def _content(self, obj: Any) -> StreamedContent:
        raise NotImplementedError

    def _build(self, metadata: Any, load: Callable[[str], Any]) -> Any:
        raise NotImplementedError

    def _written(self, content: Any, obj: Any, address: str, size: int) -> WrittenBlob:
        """What ``write`` returns (the kind adds shape and dtype)."""
        return WrittenBlob(address=address, size=size)

    def content_address(self, obj: Any) -> str:
        return self._content(obj).address()


class DataArrayKind:
    """The DataArray half of a DataArray adapter: which objects it takes, how they are planned,
    rebuilt and described. Listed before a format's base class, whose stubs these fill."""

    chunk_bytes: int

    object_types = (xr.DataArray,)

    def handles(self, obj: Any) -> bool:
        return isinstance(obj, xr.DataArray)

    def is_address_cheap(self, obj: Any) -> bool:
        """True unless the data are dask-backed (hashing first would compute them twice)."""
        return getattr(obj, "chunks", None) is None

    def _content(self, obj: Any) -> DataArrayContent:
        return DataArrayContent(obj, chunk_bytes=self.chunk_bytes)

    def _build(self, metadata: Any, load: Callable[[str], Any]) -> Any:
        return build_dataarray(metadata, load)

    def _written(self, content: Any, obj: Any, address: str, size: int) -> WrittenBlob:
        return WrittenBlob(address=address, size=size, shape=content.shape, dtype=str(obj.dtype))
