"""``uow.data``: add, get, find, versions, remove, restore, purge, validation (every backend)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import xarray as xr

from signalstore_es import (
    AlreadyExistsError,
    ArgumentTypeError,
    NotFoundError,
    PurgedError,
    SignalStoreError,
    ValidationError,
)
from signalstore_es.testing import vocabulary as vocab
from tests.conftest import spike_times


def _committed(store, project, *objects, versioning_on=False):
    with store(project) as uow:
        for obj in objects:
            uow.data.add(obj, versioning_on=versioning_on)
        return uow.commit()


@pytest.mark.parametrize("filetype", ["netcdf", "zarr"])
def test_a_dataarray_round_trips_data_coords_name_and_attrs_exactly(backend_name, tmp_path, request, project, filetype):
    from tests.conftest import make_provider

    provider = make_provider(backend_name, tmp_path, request, default_filetype=filetype)
    with provider(project) as uow:
        for model in vocab.all_models():
            uow.domain_models.add(model)
        original = spike_times("u1").assign_coords(spike_idx=np.arange(100) * 2)
        uow.data.add(original)
        receipt = uow.commit()
        loaded = uow.data.get("spike_times", "u1")
    expected = original.copy()
    expected.attrs = {**original.attrs, "version_timestamp": 0, "has_file": True,
                      "time_of_save": receipt.committed_at, "time_of_removal": None}
    xr.testing.assert_identical(loaded, expected)


def test_add_never_mutates_the_callers_object(store, project):
    array = spike_times("u1")
    before = copy.deepcopy(array.attrs)
    with store(project) as uow:
        uow.data.add(array, versioning_on=True)
        uow.commit()
    assert array.attrs == before and array.name == "u1"


def test_a_metadata_record_is_returned_as_a_dict(store, project):
    _committed(store, project, vocab.session_record("s1", animal="Animal1"))
    with store(project) as uow:
        record = uow.data.get("session", "s1")
    assert record["has_file"] is False and record["schema_ref"] == "session"


def test_adding_an_existing_key_raises_already_exists_naming_the_key(store, project):
    _committed(store, project, vocab.session_record("s1", animal="Animal1"))
    with store(project) as uow, pytest.raises(AlreadyExistsError, match=r"\('session', 's1', 0\)"):
        uow.data.add(vocab.session_record("s1", animal="Animal1"))


def test_versioning_on_keeps_every_version_newest_first(store, project):
    _committed(store, project, spike_times("u1", n=10), versioning_on=True)
    _committed(store, project, spike_times("u1", n=20, seed=1), versioning_on=True)
    with store(project) as uow:
        sizes = [uow.data.get("spike_times", "u1", nth_most_recent=n).size for n in (1, 2)]
        missing = uow.data.get("spike_times", "u1", nth_most_recent=3)
    assert sizes == [20, 10] and missing is None


def test_version_timestamps_are_the_commit_times(store, project):
    receipt = _committed(store, project, spike_times("u1"), versioning_on=True)
    with store(project) as uow:
        record = uow.data.find({"data_name": "u1"})[0]
    assert record["version_timestamp"] == receipt.committed_at


def test_get_by_exact_version_timestamp(store, project):
    receipt = _committed(store, project, spike_times("u1"), versioning_on=True)
    with store(project) as uow:
        assert uow.data.get("spike_times", "u1", version_timestamp=receipt.committed_at) is not None
        assert uow.data.get("spike_times", "u1") is None  # the unversioned key does not exist


def test_find_queries_nested_fields(store, project):
    _committed(store, project, spike_times("u1", session="sA"), spike_times("u2", session="sB"))
    with store(project) as uow:
        found = uow.data.find({"session_data_ref.data_name": "sA"})
    assert [r["data_name"] for r in found] == ["u1"]


def test_find_sorts_limits_and_projects(store, project):
    _committed(store, project, *(vocab.session_record(f"s{i}", animal="Animal1") for i in range(5)))
    with store(project) as uow:
        found = uow.data.find({"schema_ref": "session"}, projection={"data_name": 1},
                              sort=[("data_name", -1)], limit=2)
    assert found == [{"data_name": "s4"}, {"data_name": "s3"}]


def test_find_with_get_data_returns_objects(store, project):
    _committed(store, project, spike_times("u1"), vocab.session_record("s1", animal="Animal1"))
    with store(project) as uow:
        found = uow.data.find({}, get_data=True, sort=[("data_name", 1)])
    assert isinstance(found[0], dict) and isinstance(found[1], xr.DataArray)


def test_find_refuses_code_executing_operators(store, project):
    with store(project) as uow, pytest.raises(ValidationError, match=r"\$where"):
        uow.data.find({"$where": "sleep(1000)"})


def test_removed_records_are_hidden_and_listed_for_deletion(store, project):
    _committed(store, project, spike_times("u1"))
    with store(project) as uow:
        uow.data.remove("spike_times", "u1")
        uow.commit()
        hidden = (uow.data.get("spike_times", "u1"), uow.data.find(), uow.data.exists("spike_times", "u1"))
        listed = [r["data_name"] for r in uow.data.list_marked_for_deletion()]
    assert hidden == (None, [], False) and listed == ["u1"]


def test_remove_uses_the_exact_version_key(store, project):
    first = _committed(store, project, spike_times("u1", n=10), versioning_on=True)
    _committed(store, project, spike_times("u1", n=20, seed=3), versioning_on=True)
    with store(project) as uow:
        uow.data.remove("spike_times", "u1", version_timestamp=first.committed_at)
        uow.commit()
        assert uow.data.get("spike_times", "u1", nth_most_recent=1).size == 20
        assert uow.data.get("spike_times", "u1", nth_most_recent=2) is None


def test_remove_of_a_missing_record_raises_not_found(store, project):
    with store(project) as uow, pytest.raises(NotFoundError, match="does not exist"):
        uow.data.remove("spike_times", "nothing")


def test_restore_brings_back_a_removed_record(store, project):
    _committed(store, project, spike_times("u1"))
    with store(project) as uow:
        uow.data.remove("spike_times", "u1")
        uow.commit()
        uow.data.restore("spike_times", "u1")
        uow.commit()
        assert uow.data.get("spike_times", "u1") is not None and uow.data.list_marked_for_deletion() == []


def test_a_removed_key_can_be_added_again_and_the_old_generation_stays_restorable(store, project):
    _committed(store, project, vocab.session_record("s1", animal="Animal1", session_notes="first"))
    with store(project) as uow:
        uow.data.remove("session", "s1")
        uow.data.add(vocab.session_record("s1", animal="Animal1", session_notes="second"))
        uow.commit()
        assert uow.data.get("session", "s1")["session_notes"] == "second"
        with pytest.raises(AlreadyExistsError):
            uow.data.restore("session", "s1")


def test_list_marked_for_deletion_threshold_is_strict(store, project):
    _committed(store, project, spike_times("u1"))
    with store(project) as uow:
        uow.data.remove("spike_times", "u1")
        receipt = uow.commit()
        assert uow.data.list_marked_for_deletion(receipt.committed_at) == []
        later = receipt.committed_at + timedelta(milliseconds=1)
        assert len(uow.data.list_marked_for_deletion(later)) == 1


def test_identical_content_is_stored_once(store, project, tmp_path):
    _committed(store, project, spike_times("u1"), spike_times("u2").rename("u1"))
    with store(project) as uow:
        addresses = {r["data_name"]: uow.data.get("spike_times", r["data_name"]) for r in uow.data.find()}
    assert set(addresses) == {"u1", "u2"}
    blob_files = [p for p in tmp_path.rglob("*") if p.is_file() and "blobs" in p.parts and p.suffix == ".nc"]
    assert len(blob_files) == 1


def test_purge_deletes_bytes_only_of_unreferenced_blobs_and_keeps_history(store, project, tmp_path):
    _committed(store, project, spike_times("u1"), spike_times("u2", seed=5))
    with store(project) as uow:
        uow.data.remove("spike_times", "u1")
        uow.commit()
        assert uow.purge() == 1
        uow.commit()
        remaining = [r["data_name"] for r in uow.data.find()]
        marked = uow.data.list_marked_for_deletion()
    blob_files = [p for p in tmp_path.rglob("*.nc") if "blobs" in p.parts]
    assert remaining == ["u2"] and marked == [] and len(blob_files) == 1


def test_a_purged_records_bytes_are_reported_as_purged_not_missing(store, project):
    _committed(store, project, spike_times("u1"))
    with store(project) as uow:
        uow.data.remove("spike_times", "u1")
        uow.commit()
        uow.purge()
        uow.commit()
    with store(project) as uow:
        from signalstore_es.api.loading import load_row

        row = uow._context.backend.find_rows("record_versions" if False else "records", {}, as_of=2)[0]
        with pytest.raises(PurgedError, match="purged"):
            load_row(uow._context, row)


BAD_NAMES = ["../../etc", "a/b", "a__b", "", "$x", 7, None, "x" * 257, ".hidden", "a b"]


@pytest.mark.parametrize("data_name", BAD_NAMES)
def test_bad_data_names_are_refused_and_change_nothing(store, project, data_name):
    with store(project) as uow:
        with pytest.raises(ValidationError):
            uow.data.add(vocab.session_record("s1", animal="Animal1") | {"data_name": data_name})
        assert uow.commit() is None


@pytest.mark.parametrize("bad", [
    {"schema_ref": "no_such_model", "data_name": "x"},
    {"schema_ref": "session", "data_name": "x"},  # misses required session fields
    {"data_name": "x"},
    {"schema_ref": "session"},
])
def test_invalid_records_raise_validation_errors(store, project, bad):
    with store(project) as uow, pytest.raises(ValidationError):
        uow.data.add(bad)


@pytest.mark.parametrize("obj", [42, "text", [1, 2], np.zeros(3)])
def test_objects_without_attrs_are_refused(store, project, obj):
    with store(project) as uow, pytest.raises(ArgumentTypeError, match="cannot add"):
        uow.data.add(obj)


@pytest.mark.parametrize("version", ["2024-01-01", 1.5, 3, datetime(2024, 1, 1)])
def test_bad_version_timestamps_are_refused(store, project, version):
    with store(project) as uow, pytest.raises(ValidationError):
        uow.data.get("session", "s1", version_timestamp=version)


def test_attrs_that_cannot_be_stored_are_refused_with_the_key(store, project):
    array = spike_times("u1")
    array.attrs["session_notes"] = object()
    with store(project) as uow, pytest.raises(ValidationError, match="session_notes"):
        uow.data.add(array)


def test_every_error_is_a_signalstore_error(store, project):
    with store(project) as uow, pytest.raises(SignalStoreError):
        uow.data.get(1, 2)


def test_time_of_save_in_future_is_ignored_on_input(store, project):
    record = vocab.session_record("s1", animal="Animal1") | {"time_of_save": datetime(2100, 1, 1, tzinfo=UTC)}
    receipt = _committed(store, project, record)
    with store(project) as uow:
        assert uow.data.get("session", "s1")["time_of_save"] == receipt.committed_at
