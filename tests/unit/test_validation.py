"""Domain-model and record validation (signalstore_es.domain.validation) and the example vocabulary."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from signalstore_es.domain import validation
from signalstore_es.domain.validation import check_model, check_record, dependents
from signalstore_es.errors import ArgumentTypeError, ValidationError
from signalstore_es.testing import vocabulary as vocab
from signalstore_es.testing.vocabulary import OMIT, data_ref

NOW = datetime(2024, 4, 28, 9, 30, tzinfo=UTC)


def _models(*extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """name -> checked model: the example vocabulary (added in order) plus ``extra``."""
    models: dict[str, dict[str, Any]] = {}
    for model in [*vocab.all_models(), *extra]:
        models[model["schema_name"]] = check_model(model, models.get)
    return models


@pytest.fixture
def models() -> dict[str, dict[str, Any]]:
    return _models()


def _raises(call: Callable[[], Any], error: type[Exception] = ValidationError) -> str:
    with pytest.raises(error) as caught:
        call()
    return str(caught.value)


def _term(name: str, json_schema: Any) -> dict[str, Any]:
    return {"schema_name": name, "schema_title": "Test Term", "schema_description": "A test term.",
            "schema_type": "property_model", "json_schema": json_schema}


def _data_model(**changes: Any) -> dict[str, Any]:
    model = next(m for m in vocab.data_models() if m["schema_name"] == "session")
    return {**model, **changes}


# ------------------------------------------------------------------------------ vocabulary

ALL_MODELS = vocab.all_models()


@pytest.mark.parametrize("index", range(len(ALL_MODELS)), ids=[m["schema_name"] for m in ALL_MODELS])
def test_each_vocabulary_model_passes_check_model_after_the_models_before_it(index):
    earlier = {m["schema_name"]: m for m in ALL_MODELS[:index]}
    checked = check_model(ALL_MODELS[index], earlier.get)
    assert checked == ALL_MODELS[index]


def test_all_models_lists_metamodels_then_property_models_then_data_models():
    kinds = [m["schema_type"] for m in vocab.all_models()]
    assert kinds == sorted(kinds, key=["metamodel", "property_model", "data_model"].index)


def test_the_vocabulary_ships_the_models_the_demo_and_tests_use():
    names = {m["schema_name"] for m in vocab.all_models()}
    assert {"record_metamodel", "xarray_dataarray_metamodel", "animal", "session", "probe",
            "spike_times", "spike_waveforms", "spike_labels", "data_ref"} <= names


def test_vocabulary_functions_return_fresh_copies():
    vocab.data_models()[0]["json_schema"]["properties"].clear()
    assert vocab.data_models()[0]["json_schema"]["properties"]


def test_record_helpers_apply_overrides_and_omit_fields():
    record = vocab.session_record("s1", start_time=OMIT, session_notes="calm")
    assert "start_time" not in record and record["session_notes"] == "calm"


HELPER_RECORDS = {
    "animal": vocab.animal_record(),
    "probe": vocab.probe_record(),
    "session": vocab.session_record("2024-04-28-AM-Animal1"),
    "session_with_notes": vocab.session_record("s1", animal="Animal1", session_notes=""),
    "spike_times": vocab.spike_times_attrs("unit7", session="2024-04-28-AM-Animal1", animal="Animal1"),
    "spike_waveforms": vocab.spike_waveforms_attrs("unit7"),
    "spike_labels": vocab.spike_labels_attrs("unit7"),
    "versioned_with_store_fields": vocab.session_record(
        "s2", version_timestamp=NOW, time_of_save=NOW, time_of_removal=None),
    "ref_with_version": vocab.session_record(
        "s3", animal_data_ref={"schema_ref": "animal", "data_name": "A.1", "version_timestamp": NOW}),
    **{f"example_{r['schema_ref']}": r for r in vocab.example_records()},
}


@pytest.mark.parametrize("record", HELPER_RECORDS.values(), ids=HELPER_RECORDS.keys())
def test_every_helper_record_passes_check_record(models, record):
    assert check_record(record, models.get) is None


def test_spike_times_are_one_dimensional_over_spike_idx():
    attrs = vocab.spike_times_attrs("unit7", n_spikes=42)
    assert (attrs["data_dimensions"], attrs["shape"]) == (["spike_idx"], [42])


# ------------------------------------------------------------------------------ check_model


def test_check_model_drops_system_fields_and_leaves_the_input_unchanged(models):
    model = _term("x_value", {"type": "string"}) | {"version_timestamp": 0, "time_of_save": NOW,
                                                   "time_of_removal": None}
    before = copy.deepcopy(model)
    checked = check_model(model, models.get)
    assert (checked, model) == (_term("x_value", {"type": "string"}), before)


def test_check_model_returns_a_deep_copy(models):
    model = _term("x_value", {"type": "string", "enum": ("a", "b")})
    checked = check_model(model, models.get)
    assert checked["json_schema"] is not model["json_schema"] and checked["json_schema"]["enum"] == ["a", "b"]


@pytest.mark.parametrize("model", [None, "session", ["schema_name"], 7])
def test_check_model_refuses_a_non_dict_with_argument_type_error(models, model):
    message = _raises(lambda: check_model(model, models.get), ArgumentTypeError)
    assert "must be a dict" in message


def test_check_model_refuses_a_lookup_that_is_not_callable():
    message = _raises(lambda: check_model(_term("x_value", {"type": "string"}), {}), ArgumentTypeError)
    assert "lookup must be callable" in message


def _without(key: str) -> Callable[[], dict[str, Any]]:
    return lambda: {k: v for k, v in _data_model().items() if k != key}


def _remote_ref() -> dict[str, Any]:
    return _term("x_value", {"type": "string", "$ref": "http://example.com/schema.json"})


INVALID_MODELS: dict[str, tuple[Callable[[], Any], list[str]]] = {
    "missing schema_name": (_without("schema_name"), ["'required'", "$.schema_name", "lowercase"]),
    "missing schema_title": (_without("schema_title"), ["'session'", "'required'", "$.schema_title"]),
    "missing schema_description": (_without("schema_description"), ["'required'", "$.schema_description"]),
    "missing schema_type": (_without("schema_type"), ["'required'", "$.schema_type", "'metamodel'"]),
    "missing json_schema": (_without("json_schema"), ["'required'", "$.json_schema"]),
    "uppercase schema_name": (lambda: _term("Session", {"type": "string"}),
                              ["'Session'", "'pattern'", "$.schema_name", "lowercase"]),
    "double underscore in schema_name": (lambda: _term("a__b", {"type": "string"}), ["'pattern'", "$.schema_name"]),
    "one-letter schema_name": (lambda: _term("a", {"type": "string"}), ["'pattern'", "$.schema_name"]),
    "schema_name with trailing newline": (lambda: _term("animal\n", {"type": "string"}),
                                          ["'pattern'", "$.schema_name"]),
    "schema_name not a str": (lambda: _term(7, {"type": "string"}), ["no valid schema_name", "'type'"]),
    "title with a dash": (lambda: _term("x_value", {"type": "string"}) | {"schema_title": "X-Value"},
                          ["'x_value'", "'pattern'", "$.schema_title", "letters, digits and spaces"]),
    "two-letter title": (lambda: _term("x_value", {"type": "string"}) | {"schema_title": "Xv"},
                         ["'pattern'", "$.schema_title"]),
    "description with leading space": (lambda: _term("x_value", {}) | {"schema_description": " Text"},
                                       ["'pattern'", "$.schema_description", "one non-empty line"]),
    "two-line description": (lambda: _term("x_value", {"type": "string"}) | {"schema_description": "One\ntwo"},
                             ["'pattern'", "$.schema_description"]),
    "empty description": (lambda: _term("x_value", {"type": "string"}) | {"schema_description": ""},
                          ["'pattern'", "$.schema_description"]),
    "unknown schema_type": (lambda: _data_model(schema_type="record_model"),
                            ["'enum'", "$.schema_type", "'property_model'"]),
    "json_schema not an object": (lambda: _term("x_value", "string"), ["'type'", "$.json_schema"]),
    "json_schema without type": (lambda: _term("x_value", {"enum": [1, 2]}),
                                 ["'required'", "$.json_schema.type", "a JSON Schema object with a 'type'"]),
    "extra top-level field": (lambda: _data_model(schema_ref="session"),
                              ["'additionalProperties'", "$.schema_ref", "remove it"]),
    "data model without metamodel_ref": (_without("metamodel_ref"),
                                         ["'session'", "'required'", "$.metamodel_ref"]),
    "data model with null metamodel_ref": (lambda: _data_model(metamodel_ref=None),
                                           ["'type'", "$.metamodel_ref", "required for data models"]),
    "metamodel_ref breaking the name rule": (lambda: _data_model(metamodel_ref="Record"),
                                             ["'pattern'", "$.metamodel_ref"]),
    "data model of type array": (lambda: _data_model(json_schema={"type": "array"}),
                                 ["'const'", "$.json_schema.type", "'object'"]),
    "metamodel of type string": (lambda: vocab.metamodels()[0] | {"json_schema": {"type": "string"}},
                                 ["'record_metamodel'", "'const'", "$.json_schema.type"]),
    "unknown JSON Schema type": (lambda: _term("x_value", {"type": "strin"}),
                                 ["not a valid JSON Schema", "$.json_schema.type", "datetime"]),
    "negative minLength": (lambda: _term("x_value", {"type": "string", "minLength": -1}),
                           ["not a valid JSON Schema", "$.json_schema.minLength"]),
    "invalid regex": (lambda: _term("x_value", {"type": "string", "pattern": "(unclosed"}),
                      ["not a valid JSON Schema", "'format'", "$.json_schema.pattern"]),
    "properties not an object": (lambda: _term("x_value", {"type": "object", "properties": ["a"]}),
                                 ["not a valid JSON Schema", "$.json_schema.properties"]),
    "required not a list": (lambda: _term("x_value", {"type": "object", "required": "a"}),
                            ["not a valid JSON Schema", "$.json_schema.required"]),
    "unknown $schema": (lambda: _term("x_value", {"type": "string", "$schema": "http://example.com/s"}),
                        ["unknown $schema", "$.json_schema.$schema", "remove $schema"]),
    "unresolvable local $ref": (lambda: _term("x_value", {"type": "object", "properties": {
                                    "a": {"$ref": "#/definitions/missing"}}}),
                                ["'$ref'", "$.json_schema.properties.a.$ref", "cannot be resolved"]),
    "remote $ref": (_remote_ref, ["'$ref'", "http://example.com/schema.json", "never fetched"]),
    "datetime inside json_schema": (lambda: _term("x_value", {"type": "datetime", "const": NOW}),
                                    ["$.json_schema.const", "datetime", "only JSON values"]),
    "NaN inside json_schema": (lambda: _term("x_value", {"type": "number", "maximum": float("nan")}),
                               ["$.json_schema.maximum", "only JSON values"]),
    "integer beyond 64 bits inside json_schema": (
        lambda: _term("x_value", {"type": "integer", "maximum": 2**70}),
        ["$.json_schema.maximum", "does not fit in 64 bits", "write it as a float"]),
    "unknown metamodel_ref": (lambda: _data_model(metamodel_ref="no_such_metamodel"),
                              ["'session'", "'no_such_metamodel'", "$.metamodel_ref", "add the metamodel"]),
    "metamodel_ref naming a property model": (lambda: _data_model(metamodel_ref="session_date"),
                                              ["'session_date'", "names a property_model", "$.metamodel_ref"]),
    "data model rejected by its metamodel": (
        lambda: _data_model(json_schema={**_data_model()["json_schema"], "properties": {
            **_data_model()["json_schema"]["properties"], "has_file": {"const": True}}}),
        ["does not satisfy its metamodel 'record_metamodel'", "'const'",
         "$.json_schema.properties.has_file"]),
    "property without a property model": (
        lambda: _data_model(json_schema={**_data_model()["json_schema"], "properties": {
            **_data_model()["json_schema"]["properties"], "favourite_colour": {}}}),
        ["'favourite_colour'", "$.json_schema.properties.favourite_colour",
         "add a property model named 'favourite_colour'"]),
    "required property without a property model": (
        lambda: _data_model(json_schema={**_data_model()["json_schema"], "required": [
            *_data_model()["json_schema"]["required"], "session_time"]}),
        ["'session_time'", "$.json_schema.required", "no property model"]),
}


@pytest.mark.parametrize("make, fragments", INVALID_MODELS.values(), ids=INVALID_MODELS.keys())
def test_an_invalid_model_raises_a_validation_error_naming_the_rule(models, make, fragments):
    message = _raises(lambda: check_model(make(), {**models, "session": None}.get))
    assert [f for f in fragments if f not in message] == [], message


@pytest.mark.parametrize("dialect", [
    "http://json-schema.org/draft-04/schema#", "http://json-schema.org/draft-06/schema#",
    "http://json-schema.org/draft-07/schema", "https://json-schema.org/draft/2020-12/schema"])
def test_a_json_schema_may_name_a_known_dialect(models, dialect):
    model = _term("x_value", {"$schema": dialect, "type": "string", "minLength": 1})
    assert check_model(model, models.get)["json_schema"]["$schema"] == dialect


def test_a_resolvable_local_ref_is_accepted(models):
    schema = {"type": "object", "definitions": {"name": {"type": "string"}},
              "properties": {"a": {"$ref": "#/definitions/name"}}}
    assert check_model(_term("x_value", schema), models.get)["json_schema"] == schema


# ---------------------------------------------------------------------------- dependents


def test_dependents_lists_the_data_models_of_a_metamodel(models):
    assert dependents("record_metamodel", models.values()) == ["animal", "probe", "session"]


def test_dependents_lists_the_data_models_listing_a_property(models):
    assert dependents("session_date", models.values()) == ["session"]


def test_dependents_of_data_ref_are_the_data_models_with_data_refs(models):
    users = dependents("data_ref", models.values())
    assert users == ["session", "spike_labels", "spike_times", "spike_waveforms"]


def test_a_data_model_has_no_dependents(models):
    assert dependents("spike_times", models.values()) == []


def test_dependents_ignores_removed_models(models):
    models["animal"] = {**models["animal"], "time_of_removal": NOW}
    assert dependents("record_metamodel", models.values()) == ["probe", "session"]


# ----------------------------------------------------------------------------- check_record

INVALID_RECORDS: dict[str, tuple[Any, list[str]]] = {
    "unknown schema_ref": ({"schema_ref": "no_such_model", "data_name": "x"},
                           ["('no_such_model', 'x')", "unknown schema_ref 'no_such_model'",
                            "add its data model first"]),
    "schema_ref naming a property model": (vocab.session_record("s1", schema_ref="session_date"),
                                           ["'session_date'", "not a data model"]),
    "no schema_ref": ({"data_name": "x"}, ["(None, 'x')", "no str schema_ref"]),
    "schema_ref not a str": ({"schema_ref": 7, "data_name": "x"}, ["no str schema_ref", "got 7"]),
    "property missing from the vocabulary": (
        vocab.session_record("s1", favourite_colour="blue"),
        ["('session', 's1')", "'favourite_colour'", "no property model",
         "add a property model named 'favourite_colour' to the vocabulary, or remove the property"]),
    "missing required property": (vocab.session_record("s1", start_time=OMIT),
                                  ["('session', 's1')", "data model 'session'", "'required'",
                                   "$.start_time", "add the property 'start_time'"]),
    "has_file true on a session": (vocab.session_record("s1", has_file=True),
                                   ["data model 'session'", "'has_file'", "'const'"]),
    "schema_ref not matching its data model": (
        vocab.session_record("s1") | {"schema_ref": "animal"}, ["('animal', 's1')", "'required'"]),
    "bad version_timestamp": (vocab.session_record("s1", version_timestamp="yesterday"),
                              ["'version_timestamp'", "'anyOf'", "yesterday"]),
    "two-dimensional spike times": (vocab.spike_times_attrs("u1", data_dimensions=["spike_idx", "1"]),
                                    ["('spike_times', 'u1')", "'data_dimensions'", "'const'"]),
    "data ref to the wrong kind of record": (
        vocab.spike_times_attrs("u1", session_data_ref=data_ref("animal", "Animal1")),
        ["data model 'spike_times'", "$.session_data_ref.schema_ref", "'const'"]),
    "failing property model": (vocab.session_record("s1", session_date="2024-13-01"),
                               ["('session', 's1')", "property 'session_date' = '2024-13-01'",
                                "property model 'session_date'", "'pattern'", "use a value"]),
    "value outside an enum": (vocab.animal_record("a1", sex="other"),
                              ["('animal', 'a1')", "'sex'", "'enum'", "'other'"]),
    "wrong type": (vocab.probe_record("p1", channel_count="four"),
                   ["'channel_count'", "'type'", "'four'"]),
    "data ref without data_name": (
        vocab.session_record("s1", animal_data_ref={"schema_ref": "animal"}),
        ["'animal_data_ref'", "property model 'data_ref'", "'required'", "$.animal_data_ref.data_name"]),
    "data ref with a bad data_name": (
        vocab.session_record("s1", animal_data_ref=data_ref("animal", "a__b")),
        ["'animal_data_ref'", "'pattern'", "$.animal_data_ref.data_name"]),
    "data ref with an extra key": (
        vocab.session_record("s1", animal_data_ref=data_ref("animal", "a") | {"seq": 3}),
        ["'animal_data_ref'", "'additionalProperties'"]),
    "data ref with an int version": (
        vocab.session_record("s1", animal_data_ref=data_ref("animal", "a") | {"version_timestamp": 5}),
        ["'animal_data_ref'", "property model 'data_ref'", "$.animal_data_ref.version_timestamp"]),
    "data ref not an object": (vocab.session_record("s1", animal_data_ref="Animal1"),
                               ["'animal_data_ref'", "'type'", "'Animal1'"]),
    "non-str property name": (vocab.session_record("s1") | {7: "x"}, ["property names must be str"]),
}


@pytest.mark.parametrize("record, fragments", INVALID_RECORDS.values(), ids=INVALID_RECORDS.keys())
def test_an_invalid_record_raises_a_validation_error_naming_the_property_and_rule(models, record, fragments):
    message = _raises(lambda: check_record(record, models.get))
    assert [f for f in fragments if f not in message] == [], message


def test_a_data_ref_property_needs_the_data_ref_property_model(models):
    without = {**models, "data_ref": None}
    message = _raises(lambda: check_record(vocab.session_record("s1"), without.get))
    assert "'animal_data_ref'" in message and "add a property model named 'data_ref'" in message


def test_a_long_offending_value_is_shortened_in_the_message(models):
    message = _raises(lambda: check_record(vocab.session_record("s1", session_date="9" * 10_000), models.get))
    assert "..." in message and len(message) < 1_000


@pytest.mark.parametrize("record", [None, "session", [("schema_ref", "session")], 3.5])
def test_check_record_refuses_a_non_dict_with_argument_type_error(models, record):
    message = _raises(lambda: check_record(record, models.get), ArgumentTypeError)
    assert "must be a dict" in message


def test_system_fields_need_no_property_model(models):
    record = vocab.animal_record("a1", version_timestamp=NOW, time_of_save=NOW, time_of_removal=None)
    assert not set(validation.RECORD_SYSTEM_FIELDS) & set(models) and check_record(record, models.get) is None


def test_a_data_model_still_constrains_system_fields(models):
    message = _raises(lambda: check_record(vocab.animal_record("a1", time_of_save="noon"), models.get))
    assert "'time_of_save'" in message and "'type'" in message


def _event_models(term_schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    metamodel = {"schema_name": "any_metamodel", "schema_title": "Any Metamodel",
                 "schema_description": "Accepts any data model.", "schema_type": "metamodel",
                 "json_schema": {"type": "object"}}
    term = _term("recorded_at", term_schema)
    event = {"schema_name": "event", "schema_title": "Event", "schema_description": "Something that happened.",
             "schema_type": "data_model", "metamodel_ref": "any_metamodel",
             "json_schema": {"type": "object", "properties": {"recorded_at": {}}, "required": ["recorded_at"]}}
    return _models(metamodel, term, event)


def test_a_property_model_may_use_the_datetime_type():
    models = _event_models({"type": "datetime"})
    assert check_record({"schema_ref": "event", "data_name": "e1", "recorded_at": NOW}, models.get) is None


def test_the_datetime_type_refuses_a_string():
    models = _event_models({"type": "datetime"})
    message = _raises(lambda: check_record({"schema_ref": "event", "data_name": "e1",
                                            "recorded_at": NOW.isoformat()}, models.get))
    assert "'recorded_at'" in message and "'type'" in message


def test_a_schema_using_keywords_outside_the_fast_path_still_validates():
    models = _event_models({"type": "array", "uniqueItems": True, "items": {"multipleOf": 2}})
    message = _raises(lambda: check_record({"schema_ref": "event", "data_name": "e1",
                                            "recorded_at": [2, 2]}, models.get))
    assert "'uniqueItems'" in message


@pytest.mark.parametrize("schema", [{"$ref": "#/definitions/missing"}, {"$ref": "#"}],
                         ids=["unresolvable", "endless"])
def test_a_stored_schema_that_cannot_be_applied_raises_a_validation_error(models, schema):
    broken = {**models, "notes": {**models["notes"], "json_schema": schema}}
    message = _raises(lambda: check_record(vocab.animal_record("a1", notes="x"), broken.get))
    assert "property model 'notes' cannot be applied" in message


def test_equal_schemas_share_one_compiled_validator():
    schema = {"type": "string", "pattern": "^a"}
    assert validation._check_for(schema) is validation._check_for(copy.deepcopy(schema))


# ---------------------------------------------------------------------- property-based tests

KEYS = st.sampled_from(["a", "b", "c"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, 1.0, 1.5, -2.5]),
                    st.sampled_from(["", "a", "b", "ab", "ba"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                    max_leaves=6)
INSTANCES = st.one_of(JSON, st.just(NOW), st.lists(st.just(NOW) | SCALARS, max_size=2))
TYPES = st.sampled_from(["string", "object", "array", "boolean", "null", "integer", "number", "datetime"])
COUNTS, BOUNDS = st.integers(0, 3), st.integers(-2, 3) | st.sampled_from([0.5, 1.5])
LEAF_KEYWORDS: dict[str, st.SearchStrategy[Any]] = {
    "type": TYPES | st.lists(TYPES, min_size=1, max_size=3, unique=True),
    "enum": st.lists(JSON, min_size=1, max_size=3), "const": JSON,
    "pattern": st.sampled_from(["^a", "b$", "a|b", ""]),
    **dict.fromkeys(["minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"], COUNTS),
    **dict.fromkeys(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"], BOUNDS),
    "required": st.lists(KEYS, unique=True, max_size=3),
}
# sampled_from + flatmap picks keywords evenly (one_of would favour the richest strategies)
LEAF_SCHEMAS = st.one_of(st.booleans(), st.just({}), st.sampled_from(sorted(LEAF_KEYWORDS)).flatmap(
    lambda k: LEAF_KEYWORDS[k].map(lambda v: {k: v})))


def _compound(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    schemas = inner.filter(lambda s: isinstance(s, dict))
    several = st.lists(inner, min_size=1, max_size=3)
    keywords: dict[str, st.SearchStrategy[Any]] = {
        "properties": st.dictionaries(KEYS, inner, max_size=3).map(lambda p: {"properties": p}),
        "additionalProperties": st.tuples(st.dictionaries(KEYS, inner, max_size=2), inner).map(
            lambda t: {"properties": t[0], "additionalProperties": t[1]}),
        "items": inner.map(lambda s: {"items": s}),
        "tuple items": st.lists(inner, max_size=3).map(lambda s: {"items": s}),
        "contains": inner.map(lambda s: {"contains": s}), "not": inner.map(lambda s: {"not": s}),
        "propertyNames": inner.map(lambda s: {"propertyNames": s}),
        "allOf": several.map(lambda s: {"allOf": s}), "anyOf": several.map(lambda s: {"anyOf": s}),
        "oneOf": several.map(lambda s: {"oneOf": s}),
        "if then else": st.tuples(inner, inner, inner).map(lambda t: {"if": t[0], "then": t[1], "else": t[2]}),
        "if then": st.tuples(inner, inner).map(lambda t: {"if": t[0], "then": t[1]}),
        "several keywords": st.lists(schemas, min_size=2, max_size=3).map(
            lambda ds: {k: v for d in ds for k, v in d.items()}),
    }
    return st.sampled_from(sorted(keywords)).flatmap(keywords.__getitem__)


SCHEMAS = st.recursive(LEAF_SCHEMAS, _compound, max_leaves=8)


def _values_in(schema: Any) -> list[Any]:
    """Every value a schema mentions, and look-alikes (1, 1.0, True), to probe its edges."""
    found: list[Any] = []
    if isinstance(schema, dict):
        for value in schema.values():
            found += _values_in(value)
    elif isinstance(schema, list):
        found += [schema, *(v for item in schema for v in _values_in(item))]
    elif not isinstance(schema, bool) and isinstance(schema, (int, float)):
        found += [schema, float(schema), int(schema), *([bool(schema)] if schema in (0, 1) else [])]
    else:
        found += [schema, *([int(schema), float(schema)] if isinstance(schema, bool) else [])]
    return found


def _probes(schema: Any) -> st.SearchStrategy[Any]:
    edges = st.sampled_from(_values_in(schema) or [None])
    return st.one_of(INSTANCES, edges, st.lists(edges, max_size=3), st.dictionaries(KEYS, edges, max_size=3))


EDGE_CASES = [
    ({"const": True}, 1), ({"const": 1}, True), ({"const": False}, 0), ({"const": None}, 0),
    ({"const": 1.0}, 1), ({"const": [1]}, [True]), ({"const": ["a"]}, ("a",)), ({"const": {"a": 0}}, {"a": False}),
    ({"enum": [0, "a"]}, False), ({"enum": ["a"]}, ["a"]), ({"enum": [[1]]}, [1.0]),
    ({"type": "integer"}, 1.0), ({"type": "integer"}, True), ({"type": "integer"}, 1.5),
    ({"type": "number"}, True), ({"type": "datetime"}, NOW), ({"type": "object"}, NOW),
    ({"type": ["null", "datetime"]}, None), ({"minimum": 1}, 1), ({"exclusiveMinimum": 1}, 1),
    ({"maximum": 1}, True), ({"minLength": 2}, "ab"), ({"maxItems": 1}, []), ({"contains": {}}, []),
    ({"oneOf": [{}, {"type": "integer"}]}, 1), ({"not": {"type": "string"}}, "a"),
    ({"additionalProperties": False}, {}), ({"additionalProperties": False, "properties": {"a": {}}}, {"b": 1}),
    ({"items": [{"type": "string"}]}, [1]), ({"items": [{"type": "string"}]}, ["a", 1]),
    ({"if": {"type": "string"}, "else": False}, 1), ({"propertyNames": {"pattern": "^a"}}, {"b": 1}),
]


@pytest.mark.parametrize("schema, instance", EDGE_CASES, ids=[str(i) for i in range(len(EDGE_CASES))])
def test_the_compiled_fast_path_agrees_with_jsonschema_on_edge_cases(schema, instance):
    fast = validation._try_fast(schema)
    reference = validation._record_validator(Draft7Validator)(schema)
    assert fast is not None and fast(instance) == reference.is_valid(instance)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=SCHEMAS, data=st.data())
def test_the_compiled_fast_path_agrees_with_jsonschema(schema, data):
    instance = data.draw(_probes(schema), label="instance")
    fast = validation._try_fast(schema)
    reference = validation._record_validator(Draft7Validator)(schema)
    assert fast is not None and fast(instance) == reference.is_valid(instance)


FUZZ_NAMES = sorted({m["schema_name"] for m in vocab.all_models()} | validation.RECORD_SYSTEM_FIELDS)
FUZZ_VALUES = st.one_of(JSON, st.just(NOW), st.datetimes(), st.text(max_size=5), st.floats(),
                        st.dictionaries(st.sampled_from(["schema_ref", "data_name", "version_timestamp"]),
                                        st.text(max_size=5) | st.just(NOW) | st.integers(), max_size=3))
FUZZ_RECORDS = st.one_of(
    st.dictionaries(st.sampled_from(FUZZ_NAMES) | st.text(max_size=6), FUZZ_VALUES, max_size=8),
    st.builds(lambda base, extra: {**base, **extra},
              st.sampled_from(list(HELPER_RECORDS.values())),
              st.dictionaries(st.sampled_from(FUZZ_NAMES), FUZZ_VALUES, max_size=3)),
    st.integers(), st.text(max_size=5), st.lists(SCALARS, max_size=2), st.none(),
)
FUZZ_MODELS = _models()


@settings(max_examples=500, deadline=None)
@given(record=FUZZ_RECORDS)
def test_check_record_only_ever_raises_validation_errors(record):
    try:
        check_record(record, FUZZ_MODELS.get)
    except ValidationError as refusal:  # ArgumentTypeError is a ValidationError; others propagate
        assert str(refusal)
