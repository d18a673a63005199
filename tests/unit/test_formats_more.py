"""The adapters beyond DataArray: NumPy .npy, Dataset netCDF/Zarr, DataFrame Parquet, safetensors."""

from __future__ import annotations

import importlib.util
import io
import re
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import dask.array
import fsspec
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fsspec.implementations.local import LocalFileSystem
from hypothesis import given, settings

from signalstore_es.adapters.formats import (
    NetCdfDataArrayAdapter,
    NetCdfDatasetAdapter,
    NumpyAdapter,
    ParquetDataFrameAdapter,
    SafetensorsAdapter,
    ZarrDatasetAdapter,
    default_registry,
)
from signalstore_es.adapters.formats.hashing import ContentHasher
from signalstore_es.adapters.formats.numpy_npy import NpyRangeReader
from signalstore_es.adapters.formats.safetensors import (
    TensorEntry,
    address_of,
    read_header,
    write_safetensors,
)
from signalstore_es.errors import (
    ArgumentTypeError,
    ConfigurationError,
    IntegrityError,
    ValidationError,
)
from signalstore_es.ports.data_adapter import DataAdapter

ROUND_TRIP = settings(max_examples=30, deadline=None, database=None)
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=5)
HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_SAFETENSORS = importlib.util.find_spec("safetensors") is not None
DATASET_ADAPTERS = [NetCdfDatasetAdapter, ZarrDatasetAdapter]


@pytest.fixture(params=["memory", "local"])
def location(request: pytest.FixtureRequest) -> Iterator[tuple[fsspec.AbstractFileSystem, str]]:
    """A filesystem and an unused directory on it (memory or local disk)."""
    if request.param == "memory":
        fs, base = fsspec.filesystem("memory"), f"/formats-more-{uuid.uuid4().hex}"
        yield fs, base
        if fs.exists(base):
            fs.rm(base, recursive=True)
    else:
        with tempfile.TemporaryDirectory() as base:
            yield LocalFileSystem(), base


def round_trip(adapter: DataAdapter, obj: Any, location: tuple[Any, str], lazy: bool = False) -> Any:
    fs, base = location
    path = f"{base}/{uuid.uuid4().hex}{adapter.extension}"
    adapter.write(obj, fs, path)
    return adapter.read(fs, path, lazy=lazy)


def in_memory_round_trip(adapter: DataAdapter, obj: Any, lazy: bool = False) -> Any:
    fs, base = fsspec.filesystem("memory"), f"/formats-more-{uuid.uuid4().hex}"
    try:
        back = round_trip(adapter, obj, (fs, base), lazy=lazy)
        return back.compute() if lazy else back
    finally:
        if fs.exists(base):
            fs.rm(base, recursive=True)


# == NumPy .npy =============================================================================

NPY_DTYPES = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16", "?",
              "M8[ns]", "M8[s]", "m8[us]", "U4", "S3"]


def ndarrays(dtypes: list[str]) -> st.SearchStrategy[np.ndarray]:
    shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
    return st.sampled_from(dtypes).flatmap(lambda dtype: hnp.arrays(np.dtype(dtype), shapes))


def assert_same_array(expected: np.ndarray, actual: np.ndarray) -> None:
    """Equal type, dtype, shape and bytes (so NaN payloads and -0.0 count)."""
    assert (type(actual), actual.dtype, actual.shape) == (np.ndarray, expected.dtype, expected.shape)
    assert actual.tobytes() == expected.tobytes()


@ROUND_TRIP
@given(arr=ndarrays(NPY_DTYPES))
def test_npy_round_trip_through_memory_is_exact(arr: np.ndarray) -> None:
    assert_same_array(arr, in_memory_round_trip(NumpyAdapter(), arr))


@ROUND_TRIP
@given(arr=ndarrays(NPY_DTYPES))
def test_npy_round_trip_through_local_disk_is_exact(arr: np.ndarray) -> None:
    with tempfile.TemporaryDirectory() as base:
        assert_same_array(arr, round_trip(NumpyAdapter(), arr, (LocalFileSystem(), base)))


@ROUND_TRIP
@given(arr=ndarrays(["f8", "M8[ns]", "U4", "?", "i2"]))
def test_npy_lazy_read_is_exact_once_computed(arr: np.ndarray) -> None:
    assert_same_array(arr, in_memory_round_trip(NumpyAdapter(chunk_bytes=16), arr, lazy=True))


def test_npy_lazy_read_is_a_dask_array(location: Any) -> None:
    back = round_trip(NumpyAdapter(), np.arange(10.0), location, lazy=True)
    assert isinstance(back, dask.array.Array)


@settings(max_examples=40, deadline=None, database=None)
@given(data=st.data())
def test_npy_range_reader_matches_numpy_slicing_for_any_slices(data: st.DataObject) -> None:
    arr = np.arange(60, dtype="i4").reshape(3, 4, 5)
    key = tuple(slice(data.draw(st.integers(0, n)), data.draw(st.integers(0, n))) for n in arr.shape)
    fs, path = fsspec.filesystem("memory"), f"/npy-{uuid.uuid4().hex}.npy"
    NumpyAdapter().write(arr, fs, path)
    try:
        got = NpyRangeReader.open(fs, path)[key]
    finally:
        fs.rm(path)
    assert_same_array(arr[key], got)


def test_npy_blob_loads_with_plain_numpy_without_pickle(tmp_path: Any) -> None:
    arr = np.arange(6, dtype="u2").reshape(2, 3)
    NumpyAdapter().write(arr, LocalFileSystem(), f"{tmp_path}/a.npy")
    assert_same_array(arr, np.load(f"{tmp_path}/a.npy", allow_pickle=False))


def test_identical_arrays_have_the_same_address() -> None:
    assert NumpyAdapter().content_address(np.arange(5.0)) == NumpyAdapter().content_address(np.arange(5.0))


def test_npy_address_does_not_depend_on_the_chunk_size() -> None:
    arr = np.arange(100.0).reshape(10, 10)
    assert NumpyAdapter(chunk_bytes=24).content_address(arr) == NumpyAdapter().content_address(arr)


NPY_CHANGES = {
    "data value": lambda a: a + 1,
    "dtype": lambda a: a.astype("f4"),
    "shape": lambda a: a.reshape(3, 2),
    "transposed": lambda a: a.T,
    "nan to zero": lambda a: np.where(np.isnan(a), 0.0, a),
    "negative zero to zero": lambda a: np.where(a == 0, 0.0, a),
    "one element fewer": lambda a: a[:, :2],
}


@pytest.mark.parametrize("change", NPY_CHANGES.values(), ids=list(NPY_CHANGES))
def test_any_change_of_an_array_changes_its_address(change: Any) -> None:
    arr = np.array([[-0.0, np.nan, 2.0], [3.0, np.inf, 5.0]])
    assert NumpyAdapter().content_address(change(arr)) != NumpyAdapter().content_address(arr)


def test_big_endian_array_has_the_address_of_its_little_endian_equivalent() -> None:
    big = np.arange(4, dtype=">i4")
    assert NumpyAdapter().content_address(big) == NumpyAdapter().content_address(big.astype("<i4"))


def test_big_endian_array_comes_back_little_endian_with_equal_values(location: Any) -> None:
    big = np.array([1.5, -2.0], ">f8")
    assert_same_array(big.astype("<f8"), round_trip(NumpyAdapter(), big, location))


def test_npy_write_reports_address_shape_and_dtype(location: Any) -> None:
    fs, base = location
    arr = np.zeros((2, 3), "i2")
    written = NumpyAdapter().write(arr, fs, f"{base}/a.npy")
    assert (written.address, written.shape, written.dtype) == \
        (NumpyAdapter().content_address(arr), (2, 3), "int16")


def test_memmap_is_stored_as_the_plain_array_it_views(tmp_path: Any) -> None:
    mapped = np.memmap(tmp_path / "m.bin", dtype="f4", mode="w+", shape=(3,))
    mapped[:] = [1.0, 2.0, 3.0]
    assert NumpyAdapter().content_address(mapped) == NumpyAdapter().content_address(np.array(mapped))


class TaggedArray(np.ndarray):
    """A user subclass: .npy would bring it back as a plain ndarray."""


NPY_REFUSED = {
    "object": np.array(["a", 1], dtype=object),
    "variable-width strings": np.array(["a", "bc"], dtype=np.dtypes.StringDType()),
    "structured": np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]),
    "void": np.zeros(2, dtype="V4"),
    "long double": np.zeros(2, dtype=np.longdouble),
    "masked array": np.ma.masked_array([1, 2], mask=[True, False]),
    "ndarray subclass": np.arange(3).view(TaggedArray),
}


@pytest.mark.parametrize("arr", NPY_REFUSED.values(), ids=list(NPY_REFUSED))
def test_npy_refuses_what_it_cannot_store_exactly_at_content_address(arr: Any) -> None:
    with pytest.raises(ValidationError):
        NumpyAdapter().content_address(arr)


@pytest.mark.parametrize("arr", NPY_REFUSED.values(), ids=list(NPY_REFUSED))
def test_npy_refuses_what_it_cannot_store_exactly_before_writing(arr: Any) -> None:
    fs, path = fsspec.filesystem("memory"), f"/refused-{uuid.uuid4().hex}.npy"
    with pytest.raises(ValidationError):
        NumpyAdapter().write(arr, fs, path)
    assert not fs.exists(path)


def test_object_array_refusal_explains_the_pickle_risk() -> None:
    with pytest.raises(ValidationError, match="pickle"):
        NumpyAdapter().content_address(NPY_REFUSED["object"])


@pytest.mark.parametrize(("obj", "handled"), [(np.arange(3), True), (NPY_REFUSED["masked array"], False),
                                              ([1, 2], False), (xr.DataArray([1]), False)])
def test_npy_adapter_handles_only_plain_ndarrays(obj: Any, handled: bool) -> None:
    assert NumpyAdapter().handles(obj) is handled


def test_npy_content_address_of_a_list_raises_argument_type_error() -> None:
    with pytest.raises(ArgumentTypeError):
        NumpyAdapter().content_address([1, 2])


def test_ndarray_carries_no_record() -> None:
    assert NumpyAdapter().record_attrs(np.arange(3)) == {}


def test_loaded_ndarray_is_returned_bare_without_its_record() -> None:
    arr = np.arange(3)
    assert NumpyAdapter().attach_attrs(arr, {"schema_ref": "s", "data_name": "d"}) is arr


def test_npy_reading_a_file_that_is_not_npy_raises_integrity_error() -> None:
    fs, path = fsspec.filesystem("memory"), f"/garbage-{uuid.uuid4().hex}.npy"
    fs.pipe_file(path, b"not an npy file at all")
    with pytest.raises(IntegrityError):
        NumpyAdapter().read(fs, path)


# == xarray Dataset =========================================================================

DATASET_DTYPES = ["i1", "u8", "f2", "f8", "c16", "?", "M8[ns]", "m8[ns]", "U5", object]


@st.composite
def datasets(draw: Any) -> xr.Dataset:
    sizes = {"x": draw(st.integers(0, 3)), "y": draw(st.integers(1, 3))}
    names = draw(st.lists(st.sampled_from(["a", "b", "temp"]), max_size=3, unique=True))
    data_vars = {}
    for name in names:
        dims = draw(st.sampled_from([(), ("x",), ("y", "x")]))
        dtype = np.dtype(draw(st.sampled_from(DATASET_DTYPES)))
        elements = TEXT if dtype.kind in "UO" else None
        values = draw(hnp.arrays(dtype, tuple(sizes[d] for d in dims), elements=elements))
        attrs = draw(st.dictionaries(st.sampled_from(["units", "n"]), st.one_of(TEXT, st.integers(-3, 3)),
                                     max_size=2))
        data_vars[name] = xr.Variable(dims, values, attrs)
    coords = {"y": ("y", np.arange(sizes["y"]) * 10, {"units": "mm"})} if draw(st.booleans()) else {}
    return xr.Dataset(data_vars, coords=coords, attrs={"schema_ref": "ignored"})


def without_attrs(obj: xr.Dataset) -> xr.Dataset:
    expected = obj.copy()
    expected.attrs = {}
    return expected


def assert_same_dataset(expected: xr.Dataset, actual: xr.Dataset) -> None:
    """assert_identical plus dtypes and bytes of every variable."""
    xr.testing.assert_identical(expected, actual)
    for name, want in expected.variables.items():
        got = actual.variables[name]
        assert (got.dtype, got.dims, got.attrs) == (want.dtype, want.dims, want.attrs), name
        if want.dtype.kind == "O":
            assert [type(v) for v in got.values.ravel()] == [str] * want.size, name
        else:
            assert got.values.tobytes() == want.values.tobytes(), name


def sample_dataset() -> xr.Dataset:
    return xr.Dataset(
        {"lfp": (("trial", "time"), np.array([[1.0, np.nan, 3.0], [np.inf, -0.0, 6.0]]), {"units": "uV"}),
         "label": ("trial", np.array(["a", "bb"], dtype=object))},
        coords={"trial": [1, 2], "time": ("time", [0.0, 0.5, 1.0], {"units": "s"})},
        attrs={"schema_ref": "session", "data_name": "rat7"})


@pytest.mark.parametrize("adapter_class", DATASET_ADAPTERS)
@ROUND_TRIP
@given(obj=datasets())
def test_dataset_round_trip_is_exact(adapter_class: Any, obj: xr.Dataset) -> None:
    assert_same_dataset(without_attrs(obj), in_memory_round_trip(adapter_class(), obj))


@pytest.mark.parametrize("adapter_class", DATASET_ADAPTERS)
def test_dataset_round_trip_through_local_disk_is_exact(adapter_class: Any, tmp_path: Any) -> None:
    back = round_trip(adapter_class(), sample_dataset(), (LocalFileSystem(), str(tmp_path)))
    assert_same_dataset(without_attrs(sample_dataset()), back)


@pytest.mark.parametrize("adapter_class", DATASET_ADAPTERS)
@settings(max_examples=15, deadline=None, database=None)
@given(obj=datasets())
def test_dataset_lazy_read_is_exact_once_computed(adapter_class: Any, obj: xr.Dataset) -> None:
    back = in_memory_round_trip(adapter_class(chunk_bytes=16), obj, lazy=True)
    assert_same_dataset(without_attrs(obj), back)


@pytest.mark.parametrize("adapter_class", DATASET_ADAPTERS)
def test_dataset_lazy_read_is_dask_backed(adapter_class: Any, location: Any) -> None:
    back = round_trip(adapter_class(), sample_dataset(), location, lazy=True)
    assert isinstance(back["lfp"].data, dask.array.Array)


def test_dataset_variables_come_back_in_name_order(location: Any) -> None:
    back = round_trip(ZarrDatasetAdapter(), sample_dataset(), location)
    assert list(back.data_vars) == ["label", "lfp"]


def test_dataset_address_does_not_depend_on_the_file_format() -> None:
    assert NetCdfDatasetAdapter().content_address(sample_dataset()) == \
        ZarrDatasetAdapter().content_address(sample_dataset())


def test_dataset_attrs_do_not_change_the_address() -> None:
    other = sample_dataset().assign_attrs(data_name="another")
    adapter = NetCdfDatasetAdapter()
    assert adapter.content_address(other) == adapter.content_address(sample_dataset())


def test_dataset_variable_order_does_not_change_the_address() -> None:
    reordered = sample_dataset()[["label", "lfp"]]
    assert NetCdfDatasetAdapter().content_address(reordered) == \
        NetCdfDatasetAdapter().content_address(sample_dataset())


def test_dataset_and_its_dataarray_have_different_addresses() -> None:
    dataset = sample_dataset()[["lfp"]]
    assert NetCdfDatasetAdapter().content_address(dataset) != \
        NetCdfDataArrayAdapter().content_address(dataset["lfp"])


DATASET_CHANGES = {
    "data value": lambda d: d.assign(lfp=d["lfp"] + 1),
    "data variable attrs": lambda d: d.assign(lfp=d["lfp"].assign_attrs(units="mV")),
    "data variable name": lambda d: d.rename({"lfp": "lfp2"}),
    "data variable dtype": lambda d: d.assign(lfp=d["lfp"].astype("f4")),
    "data variable dropped": lambda d: d.drop_vars("label"),
    "data variable added": lambda d: d.assign(extra=("trial", [1, 2])),
    "coordinate value": lambda d: d.assign_coords(trial=[1, 3]),
    "coordinate attrs": lambda d: d.assign_coords(time=("time", [0.0, 0.5, 1.0], {"units": "ms"})),
    "dimension name": lambda d: d.rename({"time": "t"}),
    "shape": lambda d: d.isel(time=slice(0, 2)),
    "transposed": lambda d: d.transpose("time", "trial"),
    "data variable made a coordinate": lambda d: d.set_coords("label"),
}


@pytest.mark.parametrize("change", DATASET_CHANGES.values(), ids=list(DATASET_CHANGES))
def test_any_change_of_a_dataset_changes_its_address(change: Any) -> None:
    adapter = NetCdfDatasetAdapter()
    assert adapter.content_address(change(sample_dataset())) != adapter.content_address(sample_dataset())


DATASET_REFUSED = {
    "bytes variable": xr.Dataset({"b": ("x", np.array([b"ab"]))}),
    "object holding numbers": xr.Dataset({"o": ("x", np.array([1, "a"], dtype=object))}),
    "non-str variable name": xr.Dataset({7: ("x", [1])}),
    "slash in a variable name": xr.Dataset({"a/b": ("x", [1])}),
    "datetime variable attr": xr.Dataset({"a": ("x", [1], {"t": pd.Timestamp(0)})}),
    "multi-index": xr.Dataset(coords=xr.Coordinates.from_pandas_multiindex(
        pd.MultiIndex.from_tuples([(1, "a"), (2, "b")], names=["n", "s"]), "i")),
}


@pytest.mark.parametrize("adapter_class", DATASET_ADAPTERS)
@pytest.mark.parametrize("obj", DATASET_REFUSED.values(), ids=list(DATASET_REFUSED))
def test_unstorable_dataset_raises_validation_error(adapter_class: Any, obj: xr.Dataset) -> None:
    with pytest.raises(ValidationError):
        adapter_class().content_address(obj)


def test_zarr_dataset_refuses_a_variable_named_like_its_metadata_file(location: Any) -> None:
    with pytest.raises(ValidationError, match="zarr"):
        round_trip(ZarrDatasetAdapter(), xr.Dataset({"zarr.json": ("x", [1])}), location)


@pytest.mark.parametrize("adapter_class", DATASET_ADAPTERS)
@pytest.mark.parametrize(("obj", "handled"), [(sample_dataset(), True), (sample_dataset()["lfp"], False)])
def test_dataset_adapters_handle_only_datasets(adapter_class: Any, obj: Any, handled: bool) -> None:
    assert adapter_class().handles(obj) is handled


@pytest.mark.parametrize("adapter_class", DATASET_ADAPTERS)
def test_dask_backed_dataset_is_not_hashed_before_writing(adapter_class: Any) -> None:
    lazy = sample_dataset().chunk({"time": 1})
    assert adapter_class().is_address_cheap(lazy) is False


def test_loaded_dataset_carries_the_record_as_attrs() -> None:
    record = {"schema_ref": "session", "data_name": "rat7", "n": 3}
    assert NetCdfDatasetAdapter().attach_attrs(without_attrs(sample_dataset()), record).attrs == record


# == pandas DataFrame =======================================================================

def numpy_column(dtype: str) -> Any:
    return lambda n: hnp.arrays(np.dtype(dtype), n)


def nullable(dtype: str, elements: st.SearchStrategy[Any]) -> Any:
    return lambda n: st.lists(st.one_of(st.none(), elements), min_size=n, max_size=n).map(
        lambda values: pd.array(values, dtype=dtype))


def categorical(n: int) -> st.SearchStrategy[Any]:
    values = st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c"])), min_size=n, max_size=n)
    return st.tuples(values, st.booleans()).map(lambda v: pd.Categorical(
        v[0], categories=pd.Index(["c", "a", "b"], dtype="str"), ordered=v[1]))


def tz_aware(n: int) -> st.SearchStrategy[Any]:
    return hnp.arrays(np.dtype("M8[us]"), n).map(
        lambda a: pd.DatetimeIndex(a).tz_localize("UTC").tz_convert("Europe/Paris").array)


def object_bytes(n: int) -> st.SearchStrategy[Any]:
    values = st.lists(st.one_of(st.none(), st.binary(max_size=4)), min_size=n, max_size=n)
    return values.map(lambda v: pd.array(np.array(v, dtype=object), dtype=object))


COLUMNS = {
    **{dtype: numpy_column(dtype) for dtype in ["i1", "u8", "f2", "f4", "f8", "?", "M8[ns]", "M8[ms]",
                                                "m8[us]", "m8[s]"]},
    "str": nullable("str", TEXT), "string": nullable("string", TEXT),
    "Int64": nullable("Int64", st.integers(-2**63, 2**63 - 1)), "UInt8": nullable("UInt8", st.integers(0, 255)),
    "Float64": nullable("Float64", st.floats()), "boolean": nullable("boolean", st.booleans()),
    "category": categorical, "tz": tz_aware, "bytes": object_bytes,
}


def indexes(n: int) -> st.SearchStrategy[pd.Index]:
    name = st.one_of(st.none(), st.sampled_from(["k", "time"]))
    return st.one_of(
        st.tuples(st.integers(-5, 5), st.sampled_from([1, 2, -3]), name).map(
            lambda t: pd.RangeIndex(t[0], t[0] + n * t[1], t[1], name=t[2])),
        st.tuples(hnp.arrays(np.dtype("i8"), n), name).map(lambda t: pd.Index(t[0], name=t[1])),
        st.tuples(st.lists(st.one_of(st.none(), TEXT), min_size=n, max_size=n), name).map(
            lambda t: pd.Index(t[0], dtype="str", name=t[1])),
        hnp.arrays(np.dtype("M8[ns]"), n).map(pd.DatetimeIndex),
        st.tuples(st.lists(TEXT, min_size=n, max_size=n), hnp.arrays(np.dtype("u2"), n)).map(
            lambda t: pd.MultiIndex.from_arrays([pd.Index(t[0], dtype="str"), t[1]], names=["k", None])))


@st.composite
def frames(draw: Any) -> pd.DataFrame:
    n = draw(st.integers(0, 4))
    storable = [kind for kind in COLUMNS if n or kind != "category"]  # see FRAME_REFUSED
    kinds = draw(st.lists(st.sampled_from(storable), min_size=1, max_size=4))
    columns = {f"c{i}_{kind}": draw(COLUMNS[kind](n)) for i, kind in enumerate(kinds)}
    frame = pd.DataFrame(columns, index=draw(indexes(n)))
    frame.attrs = {"schema_ref": "table", "data_name": "ignored"}
    return frame


def assert_same_frame(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    """Values, dtypes, labels, index (its class too) and attrs all equal."""
    pd.testing.assert_frame_equal(expected, actual, check_exact=True, check_index_type=True,
                                  check_column_type=True)
    assert (type(actual.index), type(actual.columns)) == (type(expected.index), type(expected.columns))
    assert actual.attrs == expected.attrs


def frame_without_attrs(frame: pd.DataFrame) -> pd.DataFrame:
    expected = frame.copy()
    expected.attrs = {}
    return expected


def sample_frame() -> pd.DataFrame:
    frame = pd.DataFrame({"spikes": np.array([3, 0, 7], "i4"), "rate": [1.5, np.nan, -0.0],
                          "unit": pd.array(["a", None, "c"], dtype="str")},
                         index=pd.Index([10, 20, 30], name="trial"))
    frame.attrs = {"schema_ref": "table", "data_name": "rat7"}
    return frame


@ROUND_TRIP
@given(frame=frames())
def test_parquet_round_trip_is_exact(frame: pd.DataFrame) -> None:
    assert_same_frame(frame_without_attrs(frame), in_memory_round_trip(ParquetDataFrameAdapter(), frame))


def test_parquet_round_trip_through_local_disk_is_exact(tmp_path: Any) -> None:
    back = round_trip(ParquetDataFrameAdapter(), sample_frame(), (LocalFileSystem(), str(tmp_path)))
    assert_same_frame(frame_without_attrs(sample_frame()), back)


FRAME_EXAMPLES = {
    "multi-index columns": pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])),
    "range columns": pd.DataFrame(np.zeros((2, 2))),
    "int columns": pd.DataFrame([[1, 2]], columns=[3, 1]),
    "named columns": pd.DataFrame({"a": [1]}).rename_axis(columns="field"),
    "categorical index": pd.DataFrame({"a": [1, 2]}, index=pd.CategoricalIndex(["x", "y"])),
    "timedelta index": pd.DataFrame({"a": [1, 2]}, index=pd.TimedeltaIndex([1, 2], name="lag")),
    "tz-aware index": pd.DataFrame({"a": [1]}, index=pd.DatetimeIndex(["2020-01-01"], tz="UTC")),
    "multi-index with missing values": pd.DataFrame(
        {"a": [1, 2]}, index=pd.MultiIndex.from_arrays([["b", None], [1, 2]], names=["s", "n"])),
    "duplicated index": pd.DataFrame({"a": [1, 2]}, index=pd.Index([1, 1])),
    "empty": pd.DataFrame({"a": np.array([], "f8")}),
    "string with NUL": pd.DataFrame({"a": ["a\x00b"]}),
    "bytes and None": pd.DataFrame({"a": pd.array([b"x", None], dtype=object)}),
    "all None object": pd.DataFrame({"a": pd.array([None, None], dtype=object)}),
    "biggest uint64": pd.DataFrame({"a": np.array([2**64 - 1], "u8")}),
}


@pytest.mark.parametrize("frame", FRAME_EXAMPLES.values(), ids=list(FRAME_EXAMPLES))
def test_parquet_example_round_trips_exactly(frame: pd.DataFrame, location: Any) -> None:
    assert_same_frame(frame, round_trip(ParquetDataFrameAdapter(), frame, location))


def test_parquet_blob_leaves_the_frame_attrs_out(location: Any) -> None:
    assert round_trip(ParquetDataFrameAdapter(), sample_frame(), location).attrs == {}


def test_parquet_blob_opens_with_plain_pandas(tmp_path: Any) -> None:
    ParquetDataFrameAdapter().write(sample_frame(), LocalFileSystem(), f"{tmp_path}/t.parquet")
    assert_same_frame(frame_without_attrs(sample_frame()), pd.read_parquet(f"{tmp_path}/t.parquet"))


def test_identical_frames_have_the_same_address() -> None:
    assert ParquetDataFrameAdapter().content_address(sample_frame()) == \
        ParquetDataFrameAdapter().content_address(sample_frame())


def test_frame_attrs_do_not_change_the_address() -> None:
    assert ParquetDataFrameAdapter().content_address(frame_without_attrs(sample_frame())) == \
        ParquetDataFrameAdapter().content_address(sample_frame())


FRAME_CHANGES = {
    "data value": lambda f: f.assign(spikes=f["spikes"] + 1),
    "nan to zero": lambda f: f.assign(rate=f["rate"].fillna(0.0)),
    "negative zero to zero": lambda f: f.assign(rate=[1.5, np.nan, 0.0]),
    "missing string to empty": lambda f: f.assign(unit=pd.array(["a", "", "c"], dtype="str")),
    "str to string dtype": lambda f: f.assign(unit=f["unit"].astype("string")),
    "column dtype": lambda f: f.astype({"spikes": "i8"}),
    "column name": lambda f: f.rename(columns={"rate": "hz"}),
    "column order": lambda f: f[["rate", "spikes", "unit"]],
    "column dropped": lambda f: f.drop(columns="unit"),
    "index value": lambda f: f.set_axis([10, 20, 31]),
    "index name": lambda f: f.rename_axis("t"),
    "index dtype": lambda f: f.set_axis(pd.Index(np.array([10, 20, 30], "u8"), name="trial")),
    "range index": lambda f: f.reset_index(drop=True),
    "row order": lambda f: f.iloc[::-1],
    "nullable ints": lambda f: f.astype({"spikes": "Int32"}),
    "categorical": lambda f: f.astype({"unit": "category"}),
}


@pytest.mark.parametrize("change", FRAME_CHANGES.values(), ids=list(FRAME_CHANGES))
def test_any_change_of_a_frame_changes_its_address(change: Any) -> None:
    adapter = ParquetDataFrameAdapter()
    assert adapter.content_address(change(sample_frame())) != adapter.content_address(sample_frame())


FRAME_REFUSED = {
    "complex column": pd.DataFrame({"a": np.array([1j], "c16")}),
    "datetime in seconds": pd.DataFrame({"a": np.array(["2020-01-01"], "M8[s]")}),
    "tz-aware datetime in seconds": pd.DataFrame(
        {"a": pd.DatetimeIndex(np.array(["2020-01-01"], "M8[s]")).tz_localize("UTC")}),
    "object column of str": pd.DataFrame({"a": pd.Series(["x", "y"], dtype=object)}),
    "object column of mixed types": pd.DataFrame({"a": pd.Series([1, "y"], dtype=object)}),
    "python-storage strings": pd.DataFrame({"a": pd.array(["x"], dtype="string[python]")}),
    "categorical of ints": pd.DataFrame({"a": pd.Categorical([1, 2])}),
    "categorical without categories": pd.DataFrame({"a": pd.Categorical([None])}),
    "period": pd.DataFrame({"a": pd.period_range("2020", periods=2, freq="M")}),
    "interval": pd.DataFrame({"a": pd.interval_range(0, 2)}),
    "big-endian column": pd.DataFrame({"a": np.array([1, 2], ">i4")}),
    "lone surrogate": pd.DataFrame({"a": pd.Series(["\ud800"], dtype=object)}),
    "duplicate column labels": pd.DataFrame([[1, 2]], columns=["a", "a"]),
    "mixed column labels": pd.DataFrame({"a": [1], 2: [2]}),
    "float column labels": pd.DataFrame({1.5: [1]}),
    "non-str index name": pd.DataFrame({"a": [1]}, index=pd.Index([1], name=3)),
    "nullable index": pd.DataFrame({"a": [1, 2]}, index=pd.Index(pd.array([1, None], "Int64"))),
    "no columns": pd.DataFrame(index=pd.RangeIndex(3)),
    "categorical without rows": pd.DataFrame({"a": pd.Categorical([], categories=pd.Index(["x"], dtype="str"))}),
}


@pytest.mark.parametrize("frame", FRAME_REFUSED.values(), ids=list(FRAME_REFUSED))
def test_parquet_refuses_what_it_would_not_bring_back_exactly(frame: pd.DataFrame) -> None:
    with pytest.raises(ValidationError):
        ParquetDataFrameAdapter().content_address(frame)


@pytest.mark.parametrize("frame", FRAME_REFUSED.values(), ids=list(FRAME_REFUSED))
def test_parquet_refuses_before_writing(frame: pd.DataFrame) -> None:
    fs, path = fsspec.filesystem("memory"), f"/refused-{uuid.uuid4().hex}.parquet"
    with pytest.raises(ValidationError):
        ParquetDataFrameAdapter().write(frame, fs, path)
    assert not fs.exists(path)


def test_object_str_column_refusal_says_how_to_convert() -> None:
    with pytest.raises(ValidationError, match=re.escape(".astype('str')")):
        ParquetDataFrameAdapter().content_address(FRAME_REFUSED["object column of str"])


def test_parquet_write_reports_address_and_shape(location: Any) -> None:
    fs, base = location
    written = ParquetDataFrameAdapter().write(sample_frame(), fs, f"{base}/t.parquet")
    assert (written.address, written.shape) == \
        (ParquetDataFrameAdapter().content_address(sample_frame()), (3, 3))


def test_frame_record_is_its_attrs() -> None:
    assert ParquetDataFrameAdapter().record_attrs(sample_frame()) == {"schema_ref": "table", "data_name": "rat7"}


def test_loaded_frame_carries_the_record_as_attrs() -> None:
    record = {"schema_ref": "table", "data_name": "rat7", "n": 1}
    assert ParquetDataFrameAdapter().attach_attrs(frame_without_attrs(sample_frame()), record).attrs == record


def test_parquet_file_not_written_by_the_adapter_raises_integrity_error(tmp_path: Any) -> None:
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(IntegrityError, match="not written by this adapter"):
        ParquetDataFrameAdapter().read(LocalFileSystem(), str(tmp_path / "plain.parquet"))


def test_parquet_content_address_of_a_series_raises_argument_type_error() -> None:
    with pytest.raises(ArgumentTypeError):
        ParquetDataFrameAdapter().content_address(pd.Series([1]))


# == safetensors ============================================================================

class FakeTensor:
    """Looks like a torch object by module name, so handles() has to try importing torch."""

    __module__ = "torch"


def numpy_entry(name: str, arr: np.ndarray) -> TensorEntry:
    tags = {"f2": "F16", "f4": "F32", "f8": "F64", "i1": "I8", "i2": "I16", "i4": "I32", "i8": "I64",
            "u1": "U8", "u2": "U16", "u4": "U32", "u8": "U64", "b1": "BOOL", "c8": "C64"}
    data = memoryview(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))
    return TensorEntry(name=name, dtype=tags[arr.dtype.str[1:]], shape=arr.shape, data=data)


def written_safetensors(entries: list[TensorEntry]) -> tuple[bytes, str]:
    buffer, hasher = io.BytesIO(), ContentHasher()
    write_safetensors(buffer, entries, hasher)
    return buffer.getvalue(), hasher.address()


def test_safetensors_adapter_does_not_handle_numpy_mappings() -> None:
    assert SafetensorsAdapter().handles({"w": np.zeros(2)}) is False


def test_safetensors_adapter_does_not_handle_tensor_lookalikes_or_missing_torch() -> None:
    assert SafetensorsAdapter().handles({"w": FakeTensor()}) is False


@pytest.mark.skipif(HAS_TORCH, reason="PyTorch is installed")
def test_safetensors_address_without_torch_says_which_extra_to_install() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("pip install signalstore_es[torch]")):
        SafetensorsAdapter().content_address({"w": FakeTensor()})


@pytest.mark.skipif(HAS_TORCH, reason="PyTorch is installed")
def test_safetensors_read_without_torch_raises_configuration_error() -> None:
    fs, path = fsspec.filesystem("memory"), f"/st-{uuid.uuid4().hex}.safetensors"
    fs.pipe_file(path, written_safetensors([numpy_entry("w", np.zeros(2, "f4"))])[0])
    with pytest.raises(ConfigurationError, match="torch"):
        SafetensorsAdapter().read(fs, path)


SAFETENSORS_DTYPES = ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "?", "c8"]


@pytest.mark.skipif(not HAS_SAFETENSORS, reason="needs the safetensors package")
@ROUND_TRIP
@given(arrays=st.dictionaries(st.text(min_size=1, max_size=4).filter(lambda s: s != "__metadata__"),
                              ndarrays(SAFETENSORS_DTYPES), max_size=4))
def test_written_safetensors_file_loads_exactly_with_the_reference_reader(
        arrays: dict[str, np.ndarray]) -> None:
    import safetensors.numpy

    raw, _ = written_safetensors([numpy_entry(name, arr) for name, arr in arrays.items()])
    loaded = safetensors.numpy.load(raw)
    assert {k: (v.dtype, v.shape, v.tobytes()) for k, v in loaded.items()} == \
        {k: (v.dtype, v.shape, v.tobytes()) for k, v in arrays.items()}


def test_safetensors_bytes_and_address_do_not_depend_on_mapping_order() -> None:
    first = [numpy_entry("b", np.arange(3, dtype="f4")), numpy_entry("a", np.arange(2, dtype="i1"))]
    assert written_safetensors(first) == written_safetensors(first[::-1])


def test_safetensors_address_without_writing_is_the_address_hashed_while_writing() -> None:
    entries = [numpy_entry("w", np.arange(6, dtype="f2").reshape(2, 3)), numpy_entry("b", np.ones(2, "?"))]
    assert address_of(entries) == written_safetensors(entries)[1]


def test_safetensors_address_changes_with_a_tensor_name() -> None:
    first, renamed = numpy_entry("b", np.arange(3, dtype="f4")), numpy_entry("c", np.arange(3, dtype="f4"))
    assert address_of([renamed]) != address_of([first])


def test_safetensors_address_changes_with_a_dtype_of_the_same_bytes() -> None:
    as_int, as_float = numpy_entry("w", np.zeros(2, "i4")), numpy_entry("w", np.zeros(2, "f4"))
    assert address_of([as_int]) != address_of([as_float])


def test_safetensors_data_start_eight_byte_aligned() -> None:
    raw, _ = written_safetensors([numpy_entry("w", np.arange(3, dtype="f8"))])
    assert (8 + int.from_bytes(raw[:8], "little")) % 8 == 0


SAFETENSORS_BAD_ENTRIES = {
    "reserved name": [numpy_entry("__metadata__", np.zeros(1, "f4"))],
    "duplicated name": [numpy_entry("w", np.zeros(1, "f4")), numpy_entry("w", np.zeros(1, "f4"))],
    "bytes disagree with the shape": [TensorEntry(name="w", dtype="F32", shape=(3,), data=memoryview(b"\0" * 8))],
    "unknown dtype": [TensorEntry(name="w", dtype="F128", shape=(1,), data=memoryview(b"\0" * 16))],
}


@pytest.mark.parametrize("entries", SAFETENSORS_BAD_ENTRIES.values(), ids=list(SAFETENSORS_BAD_ENTRIES))
def test_safetensors_writer_refuses_bad_entries(entries: list[TensorEntry]) -> None:
    with pytest.raises(ValidationError):
        written_safetensors(entries)


@pytest.mark.skipif(not HAS_SAFETENSORS, reason="needs the safetensors package")
def test_safetensors_file_without_our_tag_raises_integrity_error() -> None:
    import safetensors.numpy

    raw = safetensors.numpy.save({"w": np.zeros(2, "f4")})
    with pytest.raises(IntegrityError, match="format tag"):
        read_header(io.BytesIO(raw), "plain.safetensors")


def test_state_dict_is_returned_bare_without_its_record() -> None:
    state = {"w": FakeTensor()}
    assert SafetensorsAdapter().attach_attrs(state, {"schema_ref": "model"}) is state


@pytest.mark.skipif(not HAS_TORCH, reason="needs the torch extra")
def test_state_dict_round_trip_is_exact(location: Any) -> None:
    import torch

    state = {"w": torch.arange(6, dtype=torch.bfloat16).reshape(2, 3), "b": torch.tensor([True, False])}
    back = round_trip(SafetensorsAdapter(), state, location)
    assert all(torch.equal(back[k], v) and back[k].dtype == v.dtype for k, v in state.items())


# == registry ===============================================================================

@pytest.mark.parametrize(("obj", "name"), [
    (np.arange(3), "numpy.ndarray.npy"),
    (sample_frame(), "pandas.dataframe.parquet"),
    (sample_dataset(), "xarray.dataset.netcdf"),
    (sample_dataset()["lfp"], "xarray.dataarray.netcdf"),
])
def test_default_registry_picks_the_built_in_adapter_by_object_type(obj: Any, name: str) -> None:
    assert default_registry().for_object(obj).name == name


def test_default_filetype_zarr_stores_datasets_in_zarr() -> None:
    assert default_registry("zarr").for_object(sample_dataset()).name == "xarray.dataset.zarr"


def test_explicit_format_overrides_the_default_for_a_dataset() -> None:
    assert default_registry("netcdf").for_object(sample_dataset(), "zarr").name == "xarray.dataset.zarr"


def test_safetensors_adapter_is_registered_even_without_torch() -> None:
    assert isinstance(default_registry().by_name("torch.state_dict.safetensors"), SafetensorsAdapter)
