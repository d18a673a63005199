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
the ``signalstore_es`` attribute) and written and read by the same code (the adapters share
``NetCdfAdapterBase`` / ``ZarrAdapterBase`` and the streaming of ``StreamedContent``), so the
stored forms, limits and lazy reading of ``netcdf`` and ``zarr`` apply unchanged. Variables come back in sorted
name order (a Dataset is a mapping: order is not content). ``WrittenBlob.shape`` is ``()``
and ``dtype`` empty: a Dataset has neither.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from signalstore_es.adapters.formats.hashing import decode_mapping, encode_mapping
from signalstore_es.adapters.formats.netcdf import NetCdfAdapterBase
from signalstore_es.adapters.formats.xarray_content import (
    DEFAULT_CHUNK_BYTES,
    StreamedContent,
    VariableSpec,
    canonical_dtype,
    chunk_shape,
    restore_dtype,
)
from signalstore_es.adapters.formats.zarr import ZarrAdapterBase
from signalstore_es.errors import ArgumentTypeError, IntegrityError, ValidationError

DATASET_TAG = "signalstore_es.xarray.Dataset/1"
_OBJECT_ITEMSIZE_GUESS = 64  # bytes per str element when sizing chunks of object arrays


class DatasetContent(StreamedContent):
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

    def _head(self) -> dict[str, Any]:
        return {"format": DATASET_TAG,
                "dims": [[str(d), int(n)] for d, n in sorted(self._obj.sizes.items())],
                "coords": [s.key for s in self.specs if not s.is_data],
                "data_vars": [s.key for s in self.specs if s.is_data]}

    def _header(self, spec: VariableSpec) -> dict[str, Any] | None:
        header = spec.document()
        return {k: header[k] for k in ("name", "dims", "shape", "dtype", "attrs")}

    def variable(self, spec: VariableSpec) -> xr.Variable:
        return self._obj.variables[spec.key]


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


class DatasetKind:
    """The Dataset half of a Dataset adapter: which objects it takes, how they are planned
    and rebuilt. Listed before a format's base class, whose stubs these methods fill."""

    chunk_bytes: int

    object_types = (xr.Dataset,)

    def handles(self, obj: Any) -> bool:
        return isinstance(obj, xr.Dataset)

    def is_address_cheap(self, obj: Any) -> bool:
        """True unless some data are dask-backed (hashing first would compute them twice)."""
        return not is_dask_backed(obj)

    def _content(self, obj: Any) -> DatasetContent:
        return DatasetContent(obj, chunk_bytes=self.chunk_bytes)

    def _build(self, metadata: Any, load: Callable[[str], Any]) -> Any:
        return build_dataset(metadata, load)


class NetCdfDatasetAdapter(DatasetKind, NetCdfAdapterBase):
    """Stores ``xarray.Dataset`` objects as netCDF-4 files (see the module docstring)."""

    name = "xarray.dataset.netcdf"


class ZarrDatasetAdapter(DatasetKind, ZarrAdapterBase):
    """Stores ``xarray.Dataset`` objects as Zarr v3 directories (see the module docstring)."""

    name = "xarray.dataset.zarr"


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
