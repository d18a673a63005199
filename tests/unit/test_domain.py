"""Pure domain rules: keys, values, commits, hashes, conflict footprints."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalstore_es.domain.codec import BSON_CODEC, JSON_CODEC, event_json
from signalstore_es.domain.commits import Footprint, commit_hash
from signalstore_es.domain.events import BlobPurged, DomainModelAdded, RecordAdded, RecordRemoved
from signalstore_es.domain.keys import RecordKey, check_data_name, check_schema_name
from signalstore_es.domain.values import MAX_DEPTH, normalize_document, normalize_value
from signalstore_es.errors import ArgumentTypeError, ValidationError
from signalstore_es.testing.contracts import chain, record_added

UTC = UTC


@pytest.mark.parametrize("name", ["2024-04-28-AM-Animal1", "unit7", "a", "A.b-c_d", "0" * 256])
def test_valid_data_names_are_accepted(name):
    assert check_data_name(name) == name


@pytest.mark.parametrize("name", ["../../etc", "a/b", "a__b", "", "$x", "-a", ".a", "a b", "0" * 257, "é"])
def test_invalid_data_names_name_the_rule(name):
    with pytest.raises(ValidationError, match="naming rule"):
        check_data_name(name)


@pytest.mark.parametrize("name", [7, None, b"x", ["x"]])
def test_non_string_names_raise_argument_type_errors(name):
    with pytest.raises(ArgumentTypeError):
        check_data_name(name)


@pytest.mark.parametrize("name", ["Session", "a", "_a", "a_", "a__b", "1a", "a-b"])
def test_invalid_schema_names_are_refused(name):
    with pytest.raises(ValidationError):
        check_schema_name(name)


def test_version_timestamps_are_cut_to_utc_milliseconds():
    moment = datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    key = RecordKey.checked("spike_times", "u1", moment)
    assert key.version_timestamp == datetime(2024, 1, 1, 10, 0, 0, 123000, tzinfo=UTC)


def test_a_naive_version_timestamp_is_refused_with_advice():
    with pytest.raises(ValidationError, match="timezone-aware"):
        RecordKey.checked("spike_times", "u1", datetime(2024, 1, 1))


def test_numpy_attrs_become_plain_values():
    normalized = normalize_document({"n": np.int32(3), "f": np.float64(1.5), "a": np.array([1, 2])}, where="r")
    assert normalized == {"n": 3, "f": 1.5, "a": [1, 2]} and type(normalized["n"]) is int


@pytest.mark.parametrize("bad", [{"x": math.nan}, {"x": math.inf}, {"x": object()}, {"$x": 1}, {"a.b": 1},
                                 {1: 2}, {"": 1}, {"x": 2**64}, {"x": datetime(2024, 1, 1)}])
def test_values_that_cannot_be_stored_faithfully_are_refused(bad):
    with pytest.raises(ValidationError):
        normalize_document(bad, where="record")


def test_deeply_nested_values_are_refused():
    deep: dict = {}
    node = deep
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ValidationError, match="nested deeper"):
        normalize_document(deep, where="record")


record_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text() | st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), children, max_size=3),
    max_leaves=10,
)


any_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**65), 2**65) | st.floats() | st.text()
    | st.sampled_from(["\ud800", "µV", "x\x00y"]) | st.builds(np.int16, st.integers(-5, 5))
    | st.datetimes() | st.datetimes(timezones=st.just(UTC)),
    lambda children: st.lists(children, max_size=3) | st.tuples(children)
    | st.dictionaries(st.text(max_size=4) | st.sampled_from(["$x", "a.b", "ü", 1]), children, max_size=3),
    max_leaves=12,
)


def _outcome(normalize, document):
    try:
        return "ok", normalize()
    except ValidationError as err:
        return "refused", str(err)


@given(st.dictionaries(st.text(max_size=4) | st.sampled_from(["$x", "a.b", "µ"]), any_values, max_size=5))
def test_normalizing_a_document_agrees_with_normalizing_it_as_a_value(document):
    """normalize_document takes a shortcut for plain documents; it must give the very result,
    or the very error, of the value-by-value walk."""
    whole = _outcome(lambda: normalize_document(document, where="record"), document)
    walked = _outcome(lambda: normalize_value(document, where="record"), document)
    assert whole == walked
    if whole[0] == "ok":
        assert repr(whole[1]) == repr(walked[1])  # same types too (1 vs 1.0 vs True)


def test_a_document_nested_exactly_to_the_limit_is_accepted_and_one_deeper_is_not():
    def nested(levels):
        document = node = {}
        for _ in range(levels - 1):
            node["x"] = {}
            node = node["x"]
        node["leaf"] = [1]
        return document

    assert normalize_document(nested(MAX_DEPTH - 1), where="record") == normalize_value(
        nested(MAX_DEPTH - 1), where="record")
    with pytest.raises(ValidationError, match="nested deeper"):
        normalize_document(nested(MAX_DEPTH), where="record")


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), record_values, max_size=5))
def test_events_round_trip_through_both_codecs(record):
    event = RecordAdded(key=RecordKey(schema_ref="session", data_name="s1"), record=record)
    assert [c.event_from_document(c.event_to_document(event)) for c in (JSON_CODEC, BSON_CODEC)] == [event, event]


def test_a_stored_event_keeps_the_field_order_of_nested_mappings():
    """Canonical JSON sorts keys, so it is only hashed, never stored: MongoDB compares
    embedded documents field by field in order, so a replayed view must keep the order."""
    (commit,) = chain((RecordAdded(key=RecordKey(schema_ref="session", data_name="s1"),
                                   record={"ref": {"schema_ref": "animal", "data_name": "a1"}}),))
    assert list(commit.events[0].record["ref"]) == ["schema_ref", "data_name"]
    assert list(json.loads(event_json(commit.events[0]))["record"]["ref"]) == ["schema_ref", "data_name"]


def test_commits_are_hash_chained():
    first, second = chain((record_added("s1"),), (record_added("s2"),))
    assert second.prev_hash == first.hash and commit_hash(second) == second.hash


def test_any_edit_of_a_commit_changes_its_hash():
    commit = chain((record_added("s1", notes="original"),))[0]
    tampered = attrs.evolve(commit, events=(record_added("s1", notes="edited"),))
    assert commit_hash(tampered) != commit.hash


def test_adding_the_same_key_twice_clashes():
    mine, theirs = Footprint.of([record_added("s1")]), Footprint.of([record_added("s1")])
    assert mine.clash(theirs) == "record:session/s1/0"


def test_adding_the_same_content_under_different_names_does_not_clash():
    address = "blake3:" + "a" * 64
    assert Footprint.of([record_added("s1", address=address)]).clash(Footprint.of([record_added("s2", address=address)])) is None


def test_a_purge_clashes_with_a_new_reference_to_the_same_blob():
    address = "blake3:" + "a" * 64
    assert Footprint.of([BlobPurged(address=address)]).clash(Footprint.of([record_added("s2", address=address)])) == f"blob:{address}"


def test_a_record_validated_against_a_model_changed_meanwhile_clashes():
    model = DomainModelAdded(schema_name="session", model={"schema_name": "session"}, json_schema="{}")
    assert Footprint.of([record_added("s1")]).clash(Footprint.of([model])) == "model:session"


def test_removing_different_records_does_not_clash():
    a = RecordRemoved(key=RecordKey(schema_ref="session", data_name="a"), generation=1)
    b = RecordRemoved(key=RecordKey(schema_ref="session", data_name="b"), generation=1)
    assert Footprint.of([a]).clash(Footprint.of([b])) is None


def test_an_events_record_is_read_only_and_still_a_plain_json_object():
    import json
    import pickle

    event = RecordAdded(key=RecordKey(schema_ref="session", data_name="s1"), record={"a": 1, "b": [2]})
    for change in (lambda r: r.__setitem__("a", 2), lambda r: r.update(a=2), lambda r: r.pop("a"),
                   lambda r: r.setdefault("c", 3), lambda r: r.clear(), lambda r: r.__delitem__("a")):
        with pytest.raises(TypeError, match="read-only"):
            change(event.record)
    assert event.record == {"a": 1, "b": [2]} and json.loads(json.dumps(event.record)) == event.record
    assert pickle.loads(pickle.dumps(event)) == event
    assert attrs.evolve(event, record={**event.record, "a": 2}).record["a"] == 2
