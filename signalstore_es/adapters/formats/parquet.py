"""``ParquetDataFrameAdapter``: a pandas DataFrame as one Parquet file (via pyarrow).

The file is what ``pyarrow.Table.from_pandas`` makes of the frame, with pyarrow's pandas
metadata (so index, column order, column labels and dtypes come back exactly) plus our format
tag; the frame's ``attrs`` are left out: the record is their source of truth and ``get`` puts
them back as ``df.attrs``, exactly like a DataArray's attrs. Compressed with zstd.

Hashed stream (framed parts are canonical JSON, see ``hashing``)::

    frame {"format", "shape", "columns": <labels, names, type and dtype of df.columns>,
           "index": <type and names of df.index; start/stop/step of a RangeIndex>}
    for each column in order, then each index level (none for a RangeIndex):
        frame {"dtype": str(dtype), ...categories' dtype and order}   then its value bytes

Value bytes: NumPy columns as little-endian C-order bytes (datetimes as int64); nullable
(masked) columns as their mask then their values with missing ones zeroed; strings and bytes
as a present flag and an 8-byte length then UTF-8 (or raw) bytes; categoricals as their
categories (strings) then their codes; tz-aware datetimes as UTC int64 (the zone is in the
dtype). Strings are hashed at Python speed (about a million a second).

Stored exactly (checked with ``assert_frame_equal(check_exact=True)``): bool, (u)int8-64,
float16-64, datetime64 and tz-aware datetimes in ms/us/ns, timedelta64, pandas' ``str`` and
``string`` dtypes (pyarrow storage), nullable ``Int*``/``UInt*``/``Float*``/``boolean``,
categoricals with non-empty ``str`` categories, object columns of ``bytes`` and None;
RangeIndex, Index and MultiIndex of those dtypes (nullable ones excepted) with ``str`` or None
names; unique column labels, all ``str`` (or a MultiIndex of them) or all int. Everything else
raises ValidationError at ``content_address`` and ``write``, because Parquet would bring it
back changed: complex numbers (no Parquet type), datetimes in seconds (come back in ms),
object columns holding ``str`` (come back as the ``str`` dtype) or mixed types, python-storage
strings, other categoricals and any categorical in a frame without rows (its categories are
lost), periods, intervals, sparse and Arrow-backed dtypes, big-endian columns, frames without
columns, duplicate, mixed-type or None labels, non-str index names.

``lazy=True`` has no effect: a DataFrame is loaded in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from signalstore_es.adapters.formats.hashing import ContentHasher, encode_value
from signalstore_es.adapters.formats.numpy_npy import make_parent_dirs
from signalstore_es.adapters.formats.xarray_content import canonical_bytes
from signalstore_es.errors import ArgumentTypeError, IntegrityError, ValidationError
from signalstore_es.ports.data_adapter import DataAdapter, WrittenBlob

FORMAT_TAG = "signalstore_es.pandas.DataFrame/1"
METADATA_KEY = b"signalstore_es"  #: schema metadata key holding the format tag
_STR = pd.StringDtype("pyarrow", na_value=np.nan)
_MASKED = (pd.Int8Dtype, pd.Int16Dtype, pd.Int32Dtype, pd.Int64Dtype, pd.UInt8Dtype, pd.UInt16Dtype,
           pd.UInt32Dtype, pd.UInt64Dtype, pd.Float32Dtype, pd.Float64Dtype, pd.BooleanDtype)
_TIME_UNITS = frozenset({"ms", "us", "ns"})  # Parquet has no seconds: [s] comes back as [ms]
_MAX_ITEMSIZE = 8  # wider: complex (no Parquet type) or platform long doubles
_ELEMENTS_PER_PIECE = 65_536
_LENGTH_BYTES = 8


class ParquetDataFrameAdapter(DataAdapter):
    """Stores ``pandas.DataFrame`` objects as Parquet files (see the module docstring)."""

    name = "pandas.dataframe.parquet"
    file_format = "parquet"
    extension = ".parquet"
    is_directory = False

    def __repr__(self) -> str:
        return "<ParquetDataFrameAdapter>"

    object_types = (pd.DataFrame,)

    def handles(self, obj: Any) -> bool:
        return isinstance(obj, pd.DataFrame)

    def is_address_cheap(self, obj: Any) -> bool:
        """Always True: the frame is in memory."""
        return True

    def content_address(self, obj: Any) -> str:
        """The address of the frame's labels, index, dtypes and values.

        Raises
        ------
        ArgumentTypeError
            If ``obj`` is not a DataFrame.
        ValidationError
            For anything Parquet would not bring back exactly (see the module docstring).
        """
        return FrameContent(obj).address()

    def write(self, obj: Any, fs: fsspec.AbstractFileSystem, path: str) -> WrittenBlob:
        """Write ``obj`` to ``path`` on ``fs`` as Parquet.

        Raises
        ------
        ArgumentTypeError, ValidationError
            As :meth:`content_address`; nothing is written then.
        """
        address = FrameContent(obj).address()
        table = _to_table(obj)
        make_parent_dirs(fs, path)
        with fs.open(path, "wb") as target:
            pq.write_table(table, target, compression="zstd")
        return WrittenBlob(address=address, size=int(fs.size(path)), shape=obj.shape)

    def read(self, fs: fsspec.AbstractFileSystem, path: str, *, lazy: bool = False) -> Any:
        """Load the DataFrame at ``path`` in memory (``lazy`` has no effect).

        Raises
        ------
        IntegrityError
            If the file is not a Parquet file this adapter wrote.
        """
        with fs.open(path, "rb") as source:
            try:
                table = pq.read_table(source)
            except pa.ArrowException as err:
                raise IntegrityError(f"{path} is not a readable Parquet blob: {err}") from err
        layout = _layout(table, path)
        frame = table.to_pandas()
        if layout.get("range_columns") is not None:  # pyarrow brings them back as Index[int64]
            frame.columns = pd.RangeIndex(*layout["range_columns"], name=frame.columns.name)
        return frame


class FrameContent:
    """A validated DataFrame: what its address covers.

    Raises
    ------
    ArgumentTypeError
        If ``obj`` is not a DataFrame.
    ValidationError
        For anything Parquet would not bring back exactly (see the module docstring).
    """

    def __init__(self, obj: Any) -> None:
        if not isinstance(obj, pd.DataFrame):
            raise ArgumentTypeError(f"expected a pandas.DataFrame, got {type(obj).__name__}")
        self._obj = obj
        _check_columns(obj.columns)
        _check_index(obj.index)
        # Series and Index values (not their .array: a NumPy column's array has no np.dtype)
        self.parts = [(f"column {label!r}", obj.iloc[:, i]) for i, label in enumerate(obj.columns)]
        if not isinstance(obj.index, pd.RangeIndex):
            self.parts += [(f"index level {name!r}", obj.index.get_level_values(i))
                           for i, name in enumerate(obj.index.names)]
        self.kinds = [value_kind(values.dtype, where=where) for where, values in self.parts]
        if len(obj) == 0 and "category" in self.kinds:
            raise ValidationError("a categorical column or index of a DataFrame without rows loses its "
                                  "categories in Parquet; store at least one row or convert it")

    def header(self) -> dict[str, Any]:
        """The first hashed frame: shape, column labels and the index's description."""
        return {"format": FORMAT_TAG, "shape": list(self._obj.shape),
                "columns": _labels_document(self._obj.columns), "index": _index_document(self._obj.index)}

    def address(self) -> str:
        """The content address (one pass over the values)."""
        hasher = ContentHasher()
        hasher.update_document(self.header())
        for (where, values), kind in zip(self.parts, self.kinds, strict=True):
            hasher.update_document(_dtype_document(values.dtype))
            for data in _VALUE_BYTES[kind](values, where):
                hasher.update(data)
        return hasher.address()


def value_kind(dtype: Any, *, where: str) -> str:
    """Which hashing rule applies to a column or index level of ``dtype``.

    Raises
    ------
    ValidationError
        If Parquet would not bring values of that dtype back exactly.
    """
    kind = _kind(dtype)
    if kind is None:
        raise ValidationError(
            f"{where} has dtype {dtype}, which Parquet does not bring back exactly; use bool, (u)int, "
            "float16-64, datetime64 in ms/us/ns (tz-aware or not), timedelta64, str/string, nullable "
            "Int/UInt/Float/boolean (not in an index), category with str categories, or object "
            "holding bytes/None (object columns of str: convert with .astype('str'))")
    return kind


def _kind(dtype: Any) -> str | None:  # noqa: PLR0911 - one branch per family of dtypes
    if isinstance(dtype, np.dtype):
        if dtype.kind == "O":
            return "object"
        is_seconds = dtype.kind == "M" and np.datetime_data(dtype)[0] not in _TIME_UNITS
        is_portable = dtype.kind in "biufMm" and dtype.byteorder != ">" and not is_seconds
        return "numpy" if is_portable and dtype.itemsize <= _MAX_ITEMSIZE else None
    if isinstance(dtype, pd.StringDtype):
        return "string" if dtype.storage == "pyarrow" else None
    if isinstance(dtype, _MASKED):
        return "masked"
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        is_str = categories is not None and len(categories) > 0 and categories.dtype == _STR
        return "category" if is_str else None
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "datetime_tz" if dtype.unit in _TIME_UNITS else None
    return None


def _check_columns(columns: pd.Index) -> None:
    if len(columns) == 0:
        raise ValidationError("a DataFrame without columns does not come back from Parquet exactly "
                              "(its row count and column type are lost); add a column")
    if not columns.is_unique:
        raise ValidationError(f"column labels must be unique to be stored in Parquet; duplicated: "
                              f"{sorted(map(repr, columns[columns.duplicated()].unique()))[:5]}")
    _check_names(columns.names, "column index")
    if isinstance(columns, pd.MultiIndex):
        is_ok = all(level.dtype == _STR for level in columns.levels)
    else:
        is_ok = columns.dtype == _STR or columns.dtype.kind == "i"
    if not is_ok:
        raise ValidationError(
            f"column labels of dtype {columns.dtype} ({type(columns).__name__}) do not come back "
            "from Parquet exactly; use all-str labels (or a MultiIndex of str levels) or all-int "
            "labels, e.g. df.columns = df.columns.astype(str)")


def _check_index(index: pd.Index) -> None:
    _check_names(index.names, "index")
    if isinstance(index, pd.RangeIndex):
        return
    for i, name in enumerate(index.names):
        dtype = index.get_level_values(i).dtype
        if value_kind(dtype, where=f"index level {name!r}") == "masked":
            raise ValidationError(f"index level {name!r} has dtype {dtype}, which Parquet brings back as "
                                  "another dtype in an index; use a NumPy dtype for the index")


def _check_names(names: Iterable[Any], where: str) -> None:
    for name in names:
        if name is not None and not isinstance(name, str):
            raise ValidationError(f"{where} name {name!r} is a {type(name).__name__}; Parquet keeps "
                                  "only str (or None) names")


def _labels_document(columns: pd.Index) -> dict[str, Any]:
    dtypes = [str(level.dtype) for level in columns.levels] if isinstance(columns, pd.MultiIndex) \
        else [str(columns.dtype)]
    return {"type": type(columns).__name__, "names": list(columns.names), "dtypes": dtypes,
            "labels": encode_value(list(columns), where="column labels")}


def _index_document(index: pd.Index) -> dict[str, Any]:
    if isinstance(index, pd.RangeIndex):
        return {"type": "RangeIndex", "name": index.name, "start": index.start, "stop": index.stop,
                "step": index.step}
    return {"type": type(index).__name__, "names": list(index.names)}


def _dtype_document(dtype: Any) -> dict[str, Any]:
    if isinstance(dtype, pd.CategoricalDtype):
        return {"dtype": "category", "ordered": bool(dtype.ordered), "categories": len(dtype.categories),
                "categories_dtype": str(dtype.categories.dtype)}
    return {"dtype": str(dtype)}


def _numpy_bytes(values: Any, where: str) -> Iterator[bytes | memoryview]:
    yield canonical_bytes(np.asarray(values))


def _masked_bytes(values: Any, where: str) -> Iterator[bytes | memoryview]:
    mask = np.asarray(values.isna(), dtype=bool)
    numpy_dtype = values.dtype.numpy_dtype
    yield canonical_bytes(mask)
    yield canonical_bytes(values.to_numpy(dtype=numpy_dtype, na_value=numpy_dtype.type(0)))


def _string_bytes(values: Any, where: str) -> Iterator[bytes]:
    return _framed(values.to_numpy(dtype=object, na_value=None), where, str)


def _object_bytes(values: Any, where: str) -> Iterator[bytes]:
    return _framed(np.asarray(values, dtype=object), where, bytes)


def _category_bytes(values: Any, where: str) -> Iterator[bytes | memoryview]:
    categorical = values.array
    yield from _string_bytes(categorical.categories, f"{where} categories")
    yield canonical_bytes(np.asarray(categorical.codes))


def _datetime_tz_bytes(values: Any, where: str) -> Iterator[bytes | memoryview]:
    yield canonical_bytes(np.asarray(values.array.tz_convert(None)))


def _framed(elements: np.ndarray, where: str, kind: type) -> Iterator[bytes]:
    """Each element as a present flag, then an 8-byte length and its UTF-8 (or raw) bytes."""
    for start in range(0, len(elements), _ELEMENTS_PER_PIECE):
        yield b"".join(_frame(v, where, kind) for v in elements[start:start + _ELEMENTS_PER_PIECE])


def _frame(value: Any, where: str, kind: type) -> bytes:
    if value is None:
        return b"\x00"
    if type(value) is not kind:
        hint = " (object columns of str: convert with .astype('str'))" if isinstance(value, str) else ""
        raise ValidationError(f"{where} holds a value of type {type(value).__name__} ({value!r:.40}); "
                              f"Parquet would not bring it back exactly: only {kind.__name__} and None "
                              f"can be stored here{hint}")
    if isinstance(value, bytes):
        return b"\x01" + len(value).to_bytes(_LENGTH_BYTES, "little") + value
    try:
        raw = str(value).encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValidationError(f"{where}: string {value!r:.40} is not valid Unicode ({err.reason}) "
                              "and cannot be stored as UTF-8") from err
    return b"\x01" + len(raw).to_bytes(_LENGTH_BYTES, "little") + raw


_VALUE_BYTES = {"numpy": _numpy_bytes, "masked": _masked_bytes, "string": _string_bytes,
                "object": _object_bytes, "category": _category_bytes, "datetime_tz": _datetime_tz_bytes}


def _to_table(obj: pd.DataFrame) -> pa.Table:
    frame = obj.copy(deep=False)  # the record (attrs) is stored apart, never in the blob
    frame.attrs = {}
    try:
        table = pa.Table.from_pandas(frame)
    except (pa.ArrowException, ValueError, TypeError) as err:
        raise ValidationError(f"pyarrow cannot convert this DataFrame to Parquet: {err}") from err
    columns = obj.columns
    layout = {"format": FORMAT_TAG, "range_columns": [columns.start, columns.stop, columns.step]
              if isinstance(columns, pd.RangeIndex) else None}
    metadata = {**(table.schema.metadata or {}), METADATA_KEY: json.dumps(layout).encode("utf-8")}
    return table.replace_schema_metadata(metadata)


def _layout(table: pa.Table, path: str) -> dict[str, Any]:
    try:
        layout = json.loads((table.schema.metadata or {})[METADATA_KEY])
    except (KeyError, ValueError) as err:
        raise IntegrityError(f"{path} has no readable {METADATA_KEY.decode()} metadata: it was not "
                             "written by this adapter") from err
    if not isinstance(layout, dict) or layout.get("format") != FORMAT_TAG:
        raise IntegrityError(f"{path} is not a {FORMAT_TAG} blob")
    return layout
