"""Every built-in data adapter through the public API, on every backend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from signalstore_es import ArgumentTypeError
from signalstore_es.testing import vocabulary as vocab


def _attrs(name):
    return vocab.spike_times_attrs(name, n_spikes=4)


def _frame(name):
    frame = pd.DataFrame({"t": [1.0, 2.0]})
    frame.attrs = _attrs(name)
    return frame


def test_a_numpy_array_round_trips_with_its_record_from_attrs(store, project):
    values = np.array([0.5, 1.25, np.nan, np.inf])
    with store(project) as uow:
        uow.data.add(values, attrs=_attrs("np1"))
        uow.commit()
        loaded = uow.data.get("spike_times", "np1")
        (record,) = uow.data.find({"data_name": "np1"})
    np.testing.assert_array_equal(loaded, values)
    assert loaded.dtype == values.dtype and record["has_file"] is True


def test_a_numpy_array_without_a_record_is_refused(store, project):
    with store(project) as uow, pytest.raises(ArgumentTypeError, match="attrs="):
        uow.data.add(np.arange(3))


def test_a_dataframe_round_trips_exactly_with_its_attrs(store, project):
    frame = pd.DataFrame({"t": [0.1, 0.2, 0.3, 0.4], "unit": np.array([1, 2, 1, 3], dtype="int32")},
                         index=pd.Index([10, 11, 12, 13], name="spike"))
    frame.attrs = _attrs("df1")
    with store(project) as uow:
        uow.data.add(frame)
        uow.commit()
        loaded = uow.data.get("spike_times", "df1")
    pd.testing.assert_frame_equal(loaded, frame, check_exact=True)
    assert loaded.attrs["data_name"] == "df1"


@pytest.mark.parametrize("adapter", ["netcdf", "zarr"])
def test_a_dataset_round_trips_with_its_record(store, project, adapter):
    dataset = xr.Dataset({"t": ("spike_idx", np.linspace(0, 1, 4)), "amp": ("spike_idx", np.arange(4.0))},
                         coords={"spike_idx": np.arange(4)}, attrs=_attrs(f"ds-{adapter}"))
    with store(project) as uow:
        uow.data.add(dataset, data_adapter=adapter)
        uow.commit()
        loaded = uow.data.get("spike_times", f"ds-{adapter}")
    xr.testing.assert_equal(loaded, dataset)
    assert loaded.attrs["data_name"] == f"ds-{adapter}"


def test_objects_of_every_format_verify_after_commit(store, project):
    with store(project) as uow:
        uow.data.add(np.arange(4.0), attrs=_attrs("a"))
        uow.data.add(_frame("b"))
        uow.data.add(xr.Dataset({"t": ("spike_idx", np.arange(4.0))}, attrs=_attrs("c")))
        uow.commit()
    report = store.verify(project)
    assert report.ok and report.blobs_checked == 3


def test_find_with_get_data_returns_each_object_in_its_own_type(store, project):
    with store(project) as uow:
        uow.data.add(np.arange(4.0), attrs=_attrs("a"))
        uow.data.add(_frame("b"))
        uow.commit()
        found = uow.data.find({"schema_ref": "spike_times"}, sort=[("data_name", 1)], get_data=True)
    assert [type(o) for o in found] == [np.ndarray, pd.DataFrame]
