"""The fast JSON paths of the codec agree with the reference encodings byte for byte.

Commit hashes of existing logs are recomputed by ``verify``, so ``canonical_json`` and the
assembled commit encoding must equal the stdlib's ``json.dumps(sort_keys=True, ...)`` exactly;
the hand-written event encoders must equal the cattrs converters they shortcut.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalstore_es.domain.codec import (
    BSON_CODEC,
    JSON_CODEC,
    blob_fields,
    canonical_json,
    decode_json_value,
    dumps_json,
    encode_json_value,
    event_canonical_json,
    event_from_json,
    event_json,
    has_wide_int,
    loads_json,
)
from signalstore_es.domain.commits import Commit, CommitDraft, canonical_commit_bytes, canonical_commit_document
from signalstore_es.domain.events import (
    BlobPurged,
    BlobRef,
    DomainModelAdded,
    DomainModelRemoved,
    RecordAdded,
    RecordPurged,
    RecordRemoved,
    RecordRestored,
)
from signalstore_es.domain.keys import RecordKey
from signalstore_es.errors import IntegrityError

T0 = datetime(2024, 4, 28, 9, 0, tzinfo=UTC)


def stdlib_canonical(document):
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
names = st.from_regex(r"[a-z][a-z0-9_]{0,8}[a-z0-9]", fullmatch=True).filter(lambda n: "__" not in n)
moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                       timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | texts)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(texts, inner, max_size=4), max_leaves=20)
record_values = st.recursive(scalars | moments, lambda inner: st.lists(inner, max_size=3)
                             | st.dictionaries(names, inner, max_size=3), max_leaves=12)
records = st.dictionaries(names, record_values, max_size=5)
keys = st.builds(RecordKey, schema_ref=names, data_name=names, version_timestamp=st.just(0) | moments)
blobs = st.builds(BlobRef, address=texts, adapter=texts, file_format=texts, extension=texts,
                  size=st.integers(0, 2**40), shape=st.lists(st.integers(0, 10**6), max_size=3),
                  dtype=texts, file_digest=texts)
events = st.one_of(
    st.builds(RecordAdded, key=keys, record=records, blob=st.none() | blobs),
    st.builds(RecordRemoved, key=keys, generation=st.integers(1, 10**6)),
    st.builds(RecordRestored, key=keys, generation=st.integers(1, 10**6)),
    st.builds(RecordPurged, key=keys, generation=st.integers(1, 10**6)),
    st.builds(DomainModelAdded, schema_name=names, model=st.dictionaries(names, json_values, max_size=4),
              json_schema=texts),
    st.builds(DomainModelRemoved, schema_name=names),
    st.builds(BlobPurged, address=texts),
)


@given(json_values)
def test_canonical_json_is_byte_identical_to_the_stdlib(value):
    assert canonical_json(value) == stdlib_canonical(value)


@pytest.mark.parametrize("value", [1e-07, 1e-05, 1e16, 1e22, 0.1, -0.0, 5e-324, 123456789.125,
                                   {"a": [1e-7, "1.5e-07"], "b": "x"}, "a\u2028b\x7f\x00",
                                   {"é": 1, "e": 2, "\U0001f600": 3}])
def test_canonical_json_handles_floats_and_odd_strings_like_the_stdlib(value):
    assert canonical_json(value) == stdlib_canonical(value)


def test_canonical_json_refuses_what_the_stdlib_refuses():
    for bad in (math.nan, {"a": math.inf}, {"d": T0}, "\ud800"):
        with pytest.raises((ValueError, TypeError)):
            stdlib_canonical(bad)
        with pytest.raises((ValueError, TypeError)):
            canonical_json(bad)


@given(events)
def test_event_canonical_json_equals_the_cattrs_reference(event):
    assert event_canonical_json(event) == stdlib_canonical(JSON_CODEC.event_to_document(event))


@given(events)
def test_event_json_round_trips_and_matches_the_cattrs_document(event):
    text = event_json(event)
    assert json.loads(text) == encode_json_value(JSON_CODEC.event_to_document(event))
    assert event_from_json(text) == event == JSON_CODEC.event_from_document(json.loads(text))


@given(st.lists(events, max_size=4), texts, st.none() | texts, st.integers(1, 10**9), moments)
def test_assembled_commit_encoding_equals_the_reference(events_, actor, message, seq, at):
    draft = CommitDraft(commit_id="c-" + str(seq), committed_at=at, actor=actor, message=message,
                        library_version="0.1.0", events=events_)
    commit = draft.seal(seq=seq, prev_hash="blake3:" + "0" * 64)
    assert canonical_commit_bytes(commit) == stdlib_canonical(canonical_commit_document(commit))


def test_a_commit_with_a_lone_surrogate_fails_as_before():
    commit = Commit(seq=1, commit_id="c", committed_at=T0, actor="\ud800", message=None,
                    library_version="0", events=(), prev_hash="", hash="")
    with pytest.raises(UnicodeEncodeError):
        canonical_commit_bytes(commit)


@given(records)
def test_record_documents_round_trip_with_datetimes_anywhere(record):
    assert loads_json(dumps_json(record)) == record
    assert json.loads(dumps_json(record)) == encode_json_value(record)
    assert decode_json_value(json.loads(dumps_json(record))) == record


def test_loads_json_accepts_what_the_stdlib_accepts():
    assert loads_json('{"a": NaN, "b": {"$date": 0}}')["b"] == datetime(1970, 1, 1, tzinfo=UTC)
    assert loads_json(str(2**70)) == 2**70
    assert loads_json('{"$date": 1000}') == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert loads_json('[{"$date": -1}]') == [datetime(1970, 1, 1, tzinfo=UTC) - timedelta(milliseconds=1)]


def test_dumps_json_takes_big_integers_to_the_stdlib():
    assert json.loads(dumps_json({"n": 2**70})) == {"n": 2**70}


@given(blobs)
def test_blob_fields_equal_the_bson_codec(blob):
    assert blob_fields(blob) == BSON_CODEC.blob_to_document(blob)


@pytest.mark.parametrize("document, error", [
    ({"event_type": "no_such_event"}, IntegrityError),
    ({"event_type": "record_added", "key": {"schema_ref": "s", "data_name": "d"}, "record": {}}, Exception),
])
def test_malformed_events_fail_as_on_the_cattrs_path(document, error):
    text = json.dumps(document)
    with pytest.raises(error) as fast:
        event_from_json(text)
    with pytest.raises(error) as reference:
        JSON_CODEC.event_from_document(json.loads(text))
    assert type(fast.value) is type(reference.value)


def test_events_with_coercible_fields_take_the_cattrs_path():
    document = {"event_type": "record_removed", "schema_version": 1,
                "key": {"schema_ref": "s", "data_name": "d", "version_timestamp": 0}, "generation": "3"}
    assert event_from_json(json.dumps(document)) == JSON_CODEC.event_from_document(document)



def test_orjson_reads_integers_beyond_64_bits_as_floats_which_is_why_the_store_refuses_them():
    """If this ever fails, orjson became exact and the 64-bit rule of models and user views
    could be relaxed."""
    assert type(orjson.loads(str(2**64))) is float and type(orjson.loads(str(-(2**63) - 1))) is float


@pytest.mark.parametrize("value, wide", [
    (2**63 - 1, False), (-(2**63), False), (2**63, True), (-(2**63) - 1, True), (True, False),
    ({"a": [1, {"b": 2**70}]}, True), ({"a": [1.0e30, "2**70"]}, False),
])
def test_has_wide_int_finds_integers_beyond_64_bits_anywhere(value, wide):
    assert has_wide_int(value) is wide
