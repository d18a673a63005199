"""Data adapters: content addresses, exact round trips, refused dtypes, the adapter registry."""

from __future__ import annotations

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
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem
from hypothesis import given, settings

from signalstore_es.adapters.formats import (
    AdapterRegistry,
    NetCdfDataArrayAdapter,
    ZarrDataArrayAdapter,
    default_registry,
)
from signalstore_es.adapters.formats.hashing import decode_value, encode_value
from signalstore_es.errors import AlreadyExistsError, ArgumentTypeError, NotFoundError, ValidationError
from signalstore_es.ports.data_adapter import DataAdapter, WrittenBlob

ADAPTERS = [NetCdfDataArrayAdapter, ZarrDataArrayAdapter]
ROUND_TRIP = settings(max_examples=40, deadline=None, database=None)
NUMERIC = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16", "?",
           "M8[ns]", "m8[ns]"]
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=5)


def sample() -> xr.DataArray:
    return xr.DataArray(
        np.array([[1.0, np.nan, 3.0], [np.inf, -0.0, 6.0]]), dims=("trial", "time"), name="lfp",
        coords={"trial": [1, 2], "time": ("time", [0.0, 0.5, 1.0], {"units": "s"}),
                "label": ("trial", np.array(["a", "bb"], dtype=object))},
        attrs={"schema_ref": "lfp", "data_name": "rat7"})


def without_attrs(obj: xr.DataArray) -> xr.DataArray:
    expected = obj.copy()
    expected.attrs = {}
    return expected


def assert_exact(expected: xr.DataArray, actual: xr.DataArray) -> None:
    """assert_identical ignores dtypes and -0.0 vs 0.0; this also compares dtypes and bits."""
    xr.testing.assert_identical(expected, actual)
    for name in [None, *expected.coords]:
        want = expected.variable if name is None else expected.coords[name].variable
        got = actual.variable if name is None else actual.coords[name].variable
        assert (got.dtype, got.dims) == (want.dtype, want.dims), name
        if want.dtype.kind == "O":
            assert [type(v) for v in got.values.ravel()] == [str] * want.size, name
        else:
            assert got.values.tobytes() == want.values.tobytes(), name


@pytest.fixture(params=["memory", "local"])
def location(request: pytest.FixtureRequest) -> Iterator[tuple[fsspec.AbstractFileSystem, str]]:
    """A filesystem and an unused directory on it (memory or local disk)."""
    if request.param == "memory":
        fs, base = fsspec.filesystem("memory"), f"/formats-{uuid.uuid4().hex}"
        yield fs, base
        if fs.exists(base):
            fs.rm(base, recursive=True)
    else:
        with tempfile.TemporaryDirectory() as base:
            yield LocalFileSystem(), base


def round_trip(adapter: DataAdapter, obj: xr.DataArray, location: tuple[Any, str],
               lazy: bool = False) -> xr.DataArray:
    fs, base = location
    path = f"{base}/{uuid.uuid4().hex}{adapter.extension}"
    adapter.write(obj, fs, path)
    return adapter.read(fs, path, lazy=lazy)


@st.composite
def dataarrays(draw: Any, dtypes: list[Any]) -> xr.DataArray:
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    elements = TEXT if dtype.kind in "UO" else None
    data = draw(hnp.arrays(dtype, shape, elements=elements))
    dims = ("x", "y", "z")[: len(shape)]
    coords = {dim: draw(coordinate_values(size))
              for dim, size in zip(dims, shape, strict=True) if draw(st.booleans())}
    if dims and draw(st.booleans()):
        attrs = draw(st.dictionaries(st.sampled_from(["units", "n", "ok"]), st.one_of(
            TEXT, st.integers(-5, 5), st.floats(), st.booleans(), st.none()), max_size=2))
        coords["extra"] = xr.Variable(dims[:1], np.arange(shape[0]), attrs)
    name = draw(st.one_of(st.none(), st.sampled_from(["v", "x", "temperature"])))
    return xr.DataArray(data, dims=dims, coords=coords, name=name, attrs={"ignored": 1})


def coordinate_values(size: int) -> st.SearchStrategy[np.ndarray]:
    return st.one_of(hnp.arrays("i8", size), hnp.arrays("M8[ns]", size),
                     hnp.arrays(np.dtype("U3"), size, elements=st.text("abc", max_size=3)),
                     hnp.arrays(object, size, elements=TEXT))


# -- addresses -----------------------------------------------------------------------------

def test_identical_dataarrays_have_the_same_address() -> None:
    assert NetCdfDataArrayAdapter().content_address(sample()) == \
        NetCdfDataArrayAdapter().content_address(sample())


def test_address_is_blake3_followed_by_64_lowercase_hex_digits() -> None:
    address = ZarrDataArrayAdapter().content_address(sample())
    assert re.fullmatch("blake3:[0-9a-f]{64}", address)


def test_attrs_do_not_change_the_address() -> None:
    other = sample().assign_attrs(data_name="another", version_timestamp=3)
    adapter = NetCdfDataArrayAdapter()
    assert adapter.content_address(other) == adapter.content_address(sample())


def test_address_does_not_depend_on_the_file_format() -> None:
    netcdf, zarr = NetCdfDataArrayAdapter(), ZarrDataArrayAdapter()
    assert netcdf.content_address(sample()) == zarr.content_address(sample())


def test_address_does_not_depend_on_the_chunk_size() -> None:
    small = NetCdfDataArrayAdapter(chunk_bytes=16).content_address(sample())
    assert small == NetCdfDataArrayAdapter().content_address(sample())


CHANGES = {
    "data value": lambda a: a.copy(data=a.values + 1),
    "nan to zero": lambda a: a.fillna(0.0),
    "negative zero to zero": lambda a: a.copy(data=np.where(a.values == 0, 0.0, a.values)),
    "dtype": lambda a: a.astype("f4"),
    "name": lambda a: a.rename("other"),
    "name to None": lambda a: a.rename(None),
    "dimension name": lambda a: a.rename({"time": "t"}),
    "shape": lambda a: a.isel(time=slice(0, 2)),
    "coordinate value": lambda a: a.assign_coords(trial=[1, 3]),
    "coordinate dtype": lambda a: a.assign_coords(trial=np.array([1, 2], "i4")),
    "coordinate name": lambda a: a.rename({"label": "tag"}),
    "coordinate attrs": lambda a: a.assign_coords(time=("time", [0.0, 0.5, 1.0], {"units": "ms"})),
    "coordinate dims": lambda a: a.assign_coords(label=((), "a")),
    "coordinate dropped": lambda a: a.drop_vars("label"),
    "transposed": lambda a: a.transpose(),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=list(CHANGES))
def test_any_change_of_content_changes_the_address(change: Any) -> None:
    adapter = NetCdfDataArrayAdapter()
    assert adapter.content_address(change(sample())) != adapter.content_address(sample())


def test_fixed_width_and_object_strings_have_different_addresses() -> None:
    fixed = xr.DataArray(np.array(["ab", "c"]), dims="x")
    assert ZarrDataArrayAdapter().content_address(fixed) != \
        ZarrDataArrayAdapter().content_address(fixed.astype(object))


def test_nan_hashes_deterministically() -> None:
    first = xr.DataArray(np.array([np.nan, 1.0]), dims="x")
    assert NetCdfDataArrayAdapter().content_address(first) == \
        NetCdfDataArrayAdapter().content_address(xr.DataArray(np.array([float("nan"), 1.0]), dims="x"))


def test_big_endian_data_have_the_address_of_their_little_endian_equivalent() -> None:
    big = xr.DataArray(np.arange(4, dtype=">i4"), dims="x")
    assert NetCdfDataArrayAdapter().content_address(big) == \
        NetCdfDataArrayAdapter().content_address(big.astype("<i4"))


def test_dask_backed_data_have_the_address_of_their_in_memory_equivalent() -> None:
    lazy = sample().copy(data=dask.array.from_array(sample().values, chunks=1))
    assert ZarrDataArrayAdapter().content_address(lazy) == ZarrDataArrayAdapter().content_address(sample())


@pytest.mark.parametrize("adapter_class", ADAPTERS)
def test_write_reports_the_content_address_shape_and_dtype(adapter_class: Any, location: Any) -> None:
    adapter, (fs, base) = adapter_class(), location
    written = adapter.write(sample(), fs, f"{base}/blob{adapter.extension}")
    assert (written.address, written.shape, written.dtype) == \
        (adapter.content_address(sample()), (2, 3), "float64")


# -- exact round trips ---------------------------------------------------------------------

@pytest.mark.parametrize("adapter_class", ADAPTERS)
@ROUND_TRIP
@given(obj=dataarrays([*NUMERIC, "U5", object]))
def test_round_trip_through_memory_is_exact(adapter_class: Any, obj: xr.DataArray) -> None:
    fs, base = fsspec.filesystem("memory"), f"/formats-{uuid.uuid4().hex}"
    try:
        back = round_trip(adapter_class(), obj, (fs, base))
    finally:
        fs.rm(base, recursive=True)
    assert_exact(without_attrs(obj), back)


@pytest.mark.parametrize("adapter_class", ADAPTERS)
@ROUND_TRIP
@given(obj=dataarrays([*NUMERIC, "U5", object]))
def test_round_trip_through_local_disk_is_exact(adapter_class: Any, obj: xr.DataArray) -> None:
    with tempfile.TemporaryDirectory() as base:
        back = round_trip(adapter_class(), obj, (LocalFileSystem(), base))
    assert_exact(without_attrs(obj), back)


@pytest.mark.parametrize("adapter_class", ADAPTERS)
@ROUND_TRIP
@given(obj=dataarrays(["f8", "M8[ns]", "U5", object, "?"]))
def test_lazy_read_is_exact_once_computed(adapter_class: Any, obj: xr.DataArray) -> None:
    fs, base = fsspec.filesystem("memory"), f"/formats-{uuid.uuid4().hex}"
    try:
        back = round_trip(adapter_class(), obj, (fs, base), lazy=True).compute()
    finally:
        fs.rm(base, recursive=True)
    assert_exact(without_attrs(obj), back)


@pytest.mark.parametrize("adapter_class", ADAPTERS)
def test_lazy_read_is_dask_backed(adapter_class: Any, location: Any) -> None:
    back = round_trip(adapter_class(), sample(), location, lazy=True)
    assert isinstance(back.data, dask.array.Array)


@pytest.mark.parametrize("adapter_class", ADAPTERS)
def test_read_is_loaded_in_memory(adapter_class: Any, location: Any) -> None:
    back = round_trip(adapter_class(), sample(), location)
    assert isinstance(back.data, np.ndarray)


EXAMPLES = {
    "0-D": xr.DataArray(np.float32(2.5)),
    "1-D stays 1-D": xr.DataArray(np.arange(5), dims="x"),
    "empty": xr.DataArray(np.zeros((0, 3), "i2"), dims=("x", "y"), coords={"y": ["a", "b", "c"]}),
    "unnamed": xr.DataArray(np.arange(3.0), dims="x", name=None),
    "named like its dimension": xr.DataArray(np.arange(3.0), dims="x", name="x"),
    "datetime coordinate": xr.DataArray([1, 2], dims="t",
                                        coords={"t": pd.to_datetime(["2020-01-01", "NaT"])}),
    "datetime64[s] data": xr.DataArray(np.array(["2020-01-01", "NaT"], "M8[s]"), dims="t"),
    "scalar coordinate": sample().isel(trial=0),
    "big integers": xr.DataArray(np.array([2**64 - 1, 0], "u8"), dims="x"),
    "2-D coordinate in transposed order": xr.DataArray(
        np.zeros((2, 3)), dims=("x", "y"), coords={"grid": (("y", "x"), np.arange(6).reshape(3, 2))}),
    "coordinate attrs of every kind": xr.DataArray([1, 2], dims="x", coords={"x": ("x", [5, 6], {
        "f": 1.5, "nan": float("nan"), "i": 2, "b": True, "none": None, "list": [1, "a"],
        "tuple": (1, 2), "map": {"k": [1.0]}, "np_scalar": np.float32(0.1),
        "np_array": np.array([[1, 2]], "u2"), "np_str": np.str_("s")})}),
}


@pytest.mark.parametrize("adapter_class", ADAPTERS)
@pytest.mark.parametrize("obj", EXAMPLES.values(), ids=list(EXAMPLES))
def test_example_round_trips_exactly(adapter_class: Any, obj: xr.DataArray, location: Any) -> None:
    assert_exact(without_attrs(obj), round_trip(adapter_class(), obj, location))


@pytest.mark.parametrize("adapter_class", ADAPTERS)
def test_coordinate_attr_types_survive_the_round_trip(adapter_class: Any, location: Any) -> None:
    obj = EXAMPLES["coordinate attrs of every kind"]
    attrs = round_trip(adapter_class(), obj, location).coords["x"].attrs
    assert {k: type(v) for k, v in attrs.items()} == {k: type(v) for k, v in obj.coords["x"].attrs.items()}


@pytest.mark.parametrize("adapter_class", ADAPTERS)
def test_big_endian_data_come_back_little_endian_with_equal_values(adapter_class: Any,
                                                                    location: Any) -> None:
    big = xr.DataArray(np.array([1.5, -2.0], ">f8"), dims="x")
    back = round_trip(adapter_class(), big, location)
    assert_exact(big.astype("<f8"), back)


def test_netcdf_reads_from_a_dirfilesystem_over_local_disk(tmp_path: Any) -> None:
    fs = DirFileSystem(str(tmp_path), LocalFileSystem())
    assert_exact(without_attrs(sample()), round_trip(NetCdfDataArrayAdapter(), sample(), (fs, "sub")))


def test_netcdf_file_has_no_fill_values_or_cf_encoding(tmp_path: Any) -> None:
    NetCdfDataArrayAdapter().write(sample(), LocalFileSystem(), f"{tmp_path}/b.nc")
    with xr.open_dataset(f"{tmp_path}/b.nc", engine="netcdf4", decode_cf=False) as raw:
        assert [k for v in raw.variables.values() for k in v.attrs] == []


def test_zarr_blob_opens_with_plain_xarray(tmp_path: Any) -> None:
    ZarrDataArrayAdapter().write(sample(), LocalFileSystem(), f"{tmp_path}/b.zarr")
    with xr.open_zarr(f"{tmp_path}/b.zarr", consolidated=False) as raw:
        assert raw["lfp"].dims == ("trial", "time")


# -- refused objects -----------------------------------------------------------------------

REFUSED = {
    "bytes": xr.DataArray(np.array([b"ab"]), dims="x"),
    "structured": xr.DataArray(np.zeros(2, dtype=[("a", "i4")]), dims="x"),
    "long double": xr.DataArray(np.zeros(2, dtype=np.longdouble), dims="x"),
    "object holding numbers": xr.DataArray(np.array([1, "a"], dtype=object), dims="x"),
    "object holding None": xr.DataArray(np.array(["a", None], dtype=object), dims="x"),
    # fastpath: pandas (pyarrow strings) would refuse to even build this DataArray
    "lone surrogate": xr.DataArray(xr.Variable("x", np.array(["\ud800"], dtype=object), fastpath=True)),
    "non-str name": xr.DataArray([1], dims="x", name=7),
    "slash in a dimension name": xr.DataArray([1], dims="a/b"),
    "coordinate named like the data key": xr.DataArray([1], dims="x",
                                                       coords={"__xarray_dataarray_variable__": 1}),
    "datetime coordinate attr": xr.DataArray([1], dims="x", coords={"x": ("x", [1], {"t": pd.Timestamp(0)})}),
    "multi-index": xr.DataArray([1, 2], dims="i",
                                coords={"i": pd.MultiIndex.from_tuples([(1, "a"), (2, "b")])}),
}


@pytest.mark.parametrize("adapter_class", ADAPTERS)
@pytest.mark.parametrize("obj", REFUSED.values(), ids=list(REFUSED))
def test_unstorable_content_raises_validation_error(adapter_class: Any, obj: xr.DataArray) -> None:
    with pytest.raises(ValidationError):
        adapter_class().content_address(obj)


def test_refused_dtype_message_names_the_dtype() -> None:
    with pytest.raises(ValidationError, match="dtype \\|S2"):
        NetCdfDataArrayAdapter().content_address(REFUSED["bytes"])


def test_netcdf_refuses_strings_with_nul_naming_the_format(location: Any) -> None:
    obj = xr.DataArray(np.array(["a\x00b"], dtype=object), dims="x")
    with pytest.raises(ValidationError, match=r"NUL.*netcdf"):
        round_trip(NetCdfDataArrayAdapter(), obj, location)


@pytest.mark.parametrize("adapter_class", ADAPTERS)
def test_fixed_width_string_with_a_lone_surrogate_is_refused_at_write(adapter_class: Any,
                                                                       location: Any) -> None:
    with pytest.raises(ValidationError, match="not valid Unicode"):
        round_trip(adapter_class(), xr.DataArray(np.array(["a\ud800"]), dims="x"), location)


def test_zarr_keeps_strings_with_nul(location: Any) -> None:
    obj = xr.DataArray(np.array(["a\x00b"], dtype=object), dims="x")
    assert_exact(obj, round_trip(ZarrDataArrayAdapter(), obj, location))


def test_netcdf_refuses_a_name_netcdf_cannot_hold(location: Any) -> None:
    with pytest.raises(ValidationError, match="netcdf"):
        round_trip(NetCdfDataArrayAdapter(), xr.DataArray([1], dims=" x"), location)


def test_zarr_refuses_a_variable_named_like_its_metadata_file(location: Any) -> None:
    with pytest.raises(ValidationError, match="zarr"):
        round_trip(ZarrDataArrayAdapter(), xr.DataArray([1], dims="x", name="zarr.json"), location)


def test_content_address_of_a_non_dataarray_raises_argument_type_error() -> None:
    with pytest.raises(ArgumentTypeError):
        NetCdfDataArrayAdapter().content_address(np.arange(3))


@pytest.mark.parametrize("adapter_class", ADAPTERS)
@pytest.mark.parametrize(("obj", "handled"), [(sample(), True), (sample().to_dataset(), False),
                                          (np.arange(3), False)])
def test_adapters_handle_only_dataarrays(adapter_class: Any, obj: Any, handled: bool) -> None:
    assert adapter_class().handles(obj) is handled


# -- canonical attr values -----------------------------------------------------------------

JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=10)


def same(first: Any, second: Any) -> bool:
    """Deep equality that also compares types, NaN with NaN and -0.0 with 0.0 by sign."""
    if type(first) is not type(second):
        return False
    if isinstance(first, float):
        return repr(first) == repr(second)
    if isinstance(first, (list, tuple)):
        return len(first) == len(second) and all(map(same, first, second))
    if isinstance(first, dict):
        return first.keys() == second.keys() and all(same(first[k], second[k]) for k in first)
    return bool(first == second)


@settings(deadline=None, database=None)
@given(value=JSONISH)
def test_canonical_attr_values_decode_to_equal_values(value: Any) -> None:
    assert same(decode_value(encode_value(value, where="attr")), value)


# -- registry ------------------------------------------------------------------------------

class NumpyAdapter(DataAdapter):
    name, file_format, extension = "test.numpy", "npy", ".npy"

    def handles(self, obj: Any) -> bool:
        return isinstance(obj, np.ndarray)

    def content_address(self, obj: Any) -> str:
        return "blake3:" + "0" * 64

    def write(self, obj: Any, fs: Any, path: str) -> WrittenBlob:
        raise NotImplementedError

    def read(self, fs: Any, path: str, *, lazy: bool = False) -> Any:
        raise NotImplementedError


class OtherNumpyAdapter(NumpyAdapter):
    pass


@pytest.mark.parametrize(("filetype", "adapter_class"), [("netcdf", NetCdfDataArrayAdapter),
                                                         ("zarr", ZarrDataArrayAdapter)])
def test_default_registry_stores_dataarrays_in_the_default_filetype(filetype: str,
                                                                    adapter_class: Any) -> None:
    assert type(default_registry(filetype).for_object(sample())) is adapter_class


def test_default_registry_refuses_an_unknown_filetype() -> None:
    with pytest.raises(ValidationError, match="hdf5"):
        default_registry("hdf5")


def test_explicit_filetype_overrides_the_default() -> None:
    assert type(default_registry("netcdf").for_object(sample(), "zarr")) is ZarrDataArrayAdapter


def test_adapter_is_found_by_its_stored_name() -> None:
    assert type(default_registry().by_name("xarray.dataarray.zarr")) is ZarrDataArrayAdapter


def test_unknown_adapter_name_raises_not_found() -> None:
    with pytest.raises(NotFoundError, match=r"no\.such"):
        default_registry().by_name("no.such")


def test_custom_adapter_stores_the_types_it_handles() -> None:
    registry = default_registry()
    registry.register(NumpyAdapter())
    assert type(registry.for_object(np.arange(3))) is NumpyAdapter


def test_adapter_instance_passed_for_one_object_is_registered_for_reading() -> None:
    registry = default_registry()
    registry.for_object(np.arange(3), NumpyAdapter())
    assert type(registry.by_name("test.numpy")) is NumpyAdapter


def test_registering_another_class_under_a_taken_name_raises_already_exists() -> None:
    registry = AdapterRegistry([NumpyAdapter()])
    with pytest.raises(AlreadyExistsError, match=r"test\.numpy"):
        registry.register(OtherNumpyAdapter())


def test_object_no_adapter_handles_raises_argument_type_error() -> None:
    with pytest.raises(ArgumentTypeError, match="dict"):
        default_registry().for_object({"a": 1})


def test_adapter_that_cannot_store_the_object_is_refused() -> None:
    with pytest.raises(ArgumentTypeError, match=r"xarray\.dataarray\.netcdf"):
        default_registry().for_object(np.arange(3), NetCdfDataArrayAdapter())
