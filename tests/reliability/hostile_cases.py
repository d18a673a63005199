"""The catalogue of hostile inputs: every call must raise a clear SignalStoreError and change nothing.

Each :class:`Case` names the call (``act(uow, env)``), the error class it must raise and a
fragment its message must contain (the argument, key or operator at fault), so that a
message that does not say what was wrong fails the test. ``bug`` marks a case that fails today
(the reason is the finding), ``mongo_bug`` one that fails on the MongoDB backend only; the test
turns them into strict xfails.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
import xarray as xr

from signalstore_es.errors import (
    AlreadyExistsError,
    ArgumentTypeError,
    NotFoundError,
    ReadOnlyError,
    SignalStoreError,
    ValidationError,
)
from signalstore_es.testing import vocabulary as vocab

NAN, INF = float("nan"), float("inf")
NAIVE = datetime(2024, 5, 1, 12, 0)
NFC, NFD = unicodedata.normalize("NFC", "Café1"), unicodedata.normalize("NFD", "Café1")
WHERE = {"$where": "sleep(10000) || true"}
FUNCTION = {"$function": {"body": "function() { return true; }", "args": [], "lang": "js"}}
ACCUMULATOR = {"$accumulator": {"init": "function() { return 0; }", "accumulate": "function(s) { return s; }",
                                "accumulateArgs": [], "merge": "function(a) { return a; }", "lang": "js"}}


@attrs.frozen(kw_only=True)
class Case:
    id: str
    act: Callable[[Any, Any], Any]
    error: type[SignalStoreError]
    mentions: str  #: a fragment the error message must contain (case-insensitive)
    bug: str | None = None  #: why this case fails today on every backend (a finding), if it does
    mongo_bug: str | None = None  #: why it fails today on the MongoDB backend only
    damage: str | None = None  #: damage done to the blob of "u1" before the call


def _animal(**overrides: Any) -> dict[str, Any]:
    """A valid animal record "Hostile1" with fields replaced (``OMIT`` drops one)."""
    merged = {**vocab.animal_record("Hostile1"), **overrides}
    return {k: v for k, v in merged.items() if v is not vocab.OMIT}


def _array(**overrides: Any) -> xr.DataArray:
    values = np.arange(10, dtype="float64")
    attrs_ = {**vocab.spike_times_attrs("hostile-array", n_spikes=10), **overrides}
    return xr.DataArray(values, dims=["spike_idx"], name="hostile", attrs=attrs_)


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def _self_containing() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


def _deep_filter(depth: int) -> dict[str, Any]:
    filter_: dict[str, Any] = {"data_name": "Animal1"}
    for _ in range(depth):
        filter_ = {"$and": [filter_]}
    return filter_


def _model(**overrides: Any) -> dict[str, Any]:
    model = {"schema_name": "hostile_term", "schema_title": "Hostile", "schema_description": "A term.",
             "schema_type": "property_model", "json_schema": {"type": "string"}}
    return {**model, **overrides}


def _add(record: Any) -> Callable[[Any, Any], Any]:
    return lambda uow, env: uow.data.add(record)


def _find(*args: Any, **kwargs: Any) -> Callable[[Any, Any], Any]:
    return lambda uow, env: uow.data.find(*args, **kwargs)


def _names() -> list[Case]:
    bad_data_names = {
        "parent_traversal": "../../etc/passwd", "slash": "a/b", "backslash": "a\\b",
        "absolute_path": "/etc/passwd", "nul_byte": "Animal\x00", "double_underscore": "a__b",
        "empty": "", "leading_dollar": "$where", "too_long": "a" * 257, "leading_dot": ".hidden",
        "nfd_accent": NFD, "nfc_accent": NFC, "fullwidth_letter": "\uff21nimal1", "space": "Animal 1",
    }
    cases = [Case(id=f"add-data_name-{k}", act=_add(_animal(data_name=v)), error=ValidationError,
                  mentions="data_name") for k, v in bad_data_names.items()]
    cases += [
        Case(id="add-data_name-trailing_newline", act=_add(_animal(data_name="Animal1\n")), error=ValidationError,
             mentions="data_name"),
        Case(id="add-data_name-int", act=_add(_animal(data_name=42)), error=ArgumentTypeError, mentions="data_name"),
        Case(id="add-data_name-none", act=_add(_animal(data_name=None)), error=ArgumentTypeError, mentions="data_name"),
        Case(id="add-array-data_name-traversal", act=_add(_array(data_name="../../x")), error=ValidationError,
             mentions="data_name"),
    ]
    bad_schema_refs = {"parent_traversal": "../animal", "slash": "animal/x", "uppercase": "Animal",
                       "double_underscore": "ani__mal", "nfd_accent": unicodedata.normalize("NFD", "animé"),
                       "trailing_newline": "animal\n", "empty": ""}
    cases += [Case(id=f"add-schema_ref-{k}", act=_add(_animal(schema_ref=v)), error=ValidationError,
                   mentions="schema_ref") for k, v in bad_schema_refs.items()]
    cases += [
        Case(id="add-schema_ref-unknown", act=_add(_animal(schema_ref="unicorn")), error=ValidationError,
             mentions="unicorn"),
        Case(id="add-schema_ref-int", act=_add(_animal(schema_ref=5)), error=ArgumentTypeError, mentions="schema_ref"),
        Case(id="add-record-without-data_name", act=_add(_animal(data_name=vocab.OMIT)), error=ValidationError,
             mentions="data_name"),
    ]
    return cases


def _projects() -> list[Case]:
    bad = {"parent_traversal": "../other", "slash": "a/b", "dot": ".", "dotdot": "..", "empty": "",
           "nul_byte": "p\x00", "too_long": "p" * 64, "absolute_path": "/tmp/x", "nfd_accent": NFD,
           "space": "my project"}
    cases = [Case(id=f"project-{k}", act=lambda uow, env, v=v: env.provider(v), error=ValidationError,
                  mentions="project_name") for k, v in bad.items()]
    cases += [
        Case(id="project-trailing_newline", act=lambda uow, env: env.provider("proj\n").__enter__(),
             error=ValidationError, mentions="project_name"),
        Case(id="project-int", act=lambda uow, env: env.provider(7), error=ArgumentTypeError, mentions="project_name"),
    ]
    cases += [Case(id=f"project-reserved-{name}", act=lambda uow, env, n=name: env.provider(n).__enter__(),
                   error=ValidationError, mentions=name) for name in ("admin", "local", "config")]
    return cases


def _models() -> list[Case]:
    dm = lambda uow: uow.domain_models  # noqa: E731 - shorthand for the table below
    return [
        Case(id="model-schema_name-traversal", act=lambda u, e: dm(u).add(_model(schema_name="../evil")),
             error=ValidationError, mentions="schema_name"),
        Case(id="model-schema_name-trailing_newline", act=lambda u, e: dm(u).add(_model(schema_name="color\n")),
             error=ValidationError, mentions="schema_name"),
        Case(id="model-not-a-mapping", act=lambda u, e: dm(u).add("animal"), error=ValidationError,
             mentions="model"),
        Case(id="model-empty", act=lambda u, e: dm(u).add({}), error=ValidationError, mentions="schema_name"),
        Case(id="model-json_schema-remote-ref",
             act=lambda u, e: dm(u).add(_model(json_schema={"type": "string",
                                                             "$ref": "http://169.254.169.254/latest/meta-data"})),
             error=ValidationError, mentions="$ref"),
        Case(id="model-json_schema-file-ref",
             act=lambda u, e: dm(u).add(_model(json_schema={"type": "string", "$ref": "file:///etc/passwd"})),
             error=ValidationError, mentions="$ref"),
        Case(id="model-json_schema-invalid", act=lambda u, e: dm(u).add(_model(json_schema={"type": "no-such-type"})),
             error=ValidationError, mentions="json_schema"),
        Case(id="model-duplicate", act=lambda u, e: dm(u).add(vocab.data_models()[0]), error=AlreadyExistsError,
             mentions="animal"),
        Case(id="model-get-traversal", act=lambda u, e: dm(u).get("../animal"), error=ValidationError,
             mentions="schema_name"),
        Case(id="model-get-int", act=lambda u, e: dm(u).get(5), error=ArgumentTypeError, mentions="schema_name"),
        Case(id="model-remove-metamodel-in-use", act=lambda u, e: dm(u).remove("record_metamodel"),
             error=ValidationError, mentions="record_metamodel"),
        Case(id="model-remove-absent", act=lambda u, e: dm(u).remove("unicorn"), error=NotFoundError,
             mentions="unicorn"),
        Case(id="model-find-where", act=lambda u, e: dm(u).find(WHERE), error=ValidationError, mentions="$where"),
        Case(id="model-find-as_of-str", act=lambda u, e: dm(u).find(as_of="yesterday"), error=ArgumentTypeError,
             mentions="as_of"),
        Case(id="model-find-filter-str", act=lambda u, e: dm(u).find("animal"), error=ArgumentTypeError,
             mentions="filter"),
        Case(id="model-find-projection-mixed", act=lambda u, e: dm(u).find({}, projection={"a": 1, "b": 0}),
             error=ValidationError, mentions="projection"),
        Case(id="model-exists-int", act=lambda u, e: dm(u).exists(5), error=ArgumentTypeError, mentions="schema_name"),
        Case(id="model-remove-int", act=lambda u, e: dm(u).remove(5), error=ArgumentTypeError, mentions="schema_name"),
        Case(id="model-get-as_of-naive", act=lambda u, e: dm(u).get("animal", as_of=NAIVE), error=ValidationError,
             mentions="as_of"),
    ]


def _memory() -> list[Case]:
    return [
        Case(id="memory-schema_ref-traversal", act=lambda u, e: u.memory.add("../x", "obj1", 1),
             error=ValidationError, mentions="schema_ref"),
        Case(id="memory-object_name-traversal", act=lambda u, e: u.memory.add("animal", "../../x", 1),
             error=ValidationError, mentions="object_name"),
        Case(id="memory-object_name-slash", act=lambda u, e: u.memory.add("animal", "a/b", 1),
             error=ValidationError, mentions="object_name"),
        Case(id="memory-object_name-nfd-accent", act=lambda u, e: u.memory.add("animal", NFD, 1),
             error=ValidationError, mentions="object_name"),
        Case(id="memory-object_name-empty", act=lambda u, e: u.memory.add("animal", "", 1),
             error=ArgumentTypeError, mentions="object_name"),
        Case(id="memory-object_name-int", act=lambda u, e: u.memory.add("animal", 5, 1),
             error=ArgumentTypeError, mentions="object_name"),
        Case(id="memory-get-schema_ref-int", act=lambda u, e: u.memory.get(5, "obj1"), error=ArgumentTypeError,
             mentions="schema_ref"),
        Case(id="memory-exists-object_name-none", act=lambda u, e: u.memory.exists("animal", None),
             error=ArgumentTypeError, mentions="object_name"),
        Case(id="memory-remove-object_name-int", act=lambda u, e: u.memory.remove("animal", 5),
             error=ArgumentTypeError, mentions="object_name"),
        Case(id="memory-add-existing", act=lambda u, e: u.memory.add("animal", "kept", 2), error=AlreadyExistsError,
             mentions="kept"),
        Case(id="memory-remove-absent", act=lambda u, e: u.memory.remove("animal", "absent"), error=NotFoundError,
             mentions="absent"),
    ]


def _fields() -> list[Case]:
    bad_keys = {"int": 1, "empty": "", "dollar": "$where", "dotted": "a.b", "nul": "a\x00",
                "internal_blob": "_blob", "internal_key": "_key", "dunder_class": "__class__",
                "nfd_twin": unicodedata.normalize("NFD", "notés")}
    cases = [Case(id=f"add-field_name-{k}", act=_add({**_animal(), v: "x"}), error=ValidationError,
                  mentions=repr(v)[1:-1] if isinstance(v, str) and v else "field") for k, v in bad_keys.items()]
    bad_values: dict[str, Any] = {
        "object": object(), "set": {1, 2}, "bytes": b"x", "function": print, "complex": 1j,
        "decimal": Decimal("1.5"), "naive_datetime": NAIVE, "nan": NAN, "infinity": INF, "minus_infinity": -INF,
        "numpy_nan": np.float64("nan"), "nan_in_list": [1.0, NAN], "nan_in_nested_dict": {"a": {"b": NAN}},
        "int_beyond_64_bits": 2**64, "nested_40_deep": _nested(40), "self_containing_list": _self_containing(),
        "dataarray": xr.DataArray([1.0]), "numpy_object_array": np.array([object()]),
    }
    cases += [Case(id=f"add-value-{k}", act=_add(_animal(notes=v)), error=ValidationError, mentions="notes")
              for k, v in bad_values.items()]
    cases += [
        Case(id="add-array-attr-nan", act=_add(_array(notes=NAN)), error=ValidationError, mentions="notes"),
        Case(id="add-has_file-true-on-dict", act=_add(_animal(has_file=True)), error=ValidationError,
             mentions="has_file"),
        Case(id="add-version_timestamp-nonzero-int", act=_add(_animal(version_timestamp=5)), error=ValidationError,
             mentions="version_timestamp"),
        Case(id="add-version_timestamp-str", act=_add(_animal(version_timestamp="0")), error=ArgumentTypeError,
             mentions="version_timestamp"),
        Case(id="add-version_timestamp-bool", act=_add(_animal(version_timestamp=True)), error=ArgumentTypeError,
             mentions="version_timestamp"),
        Case(id="add-version_timestamp-naive", act=_add(_animal(version_timestamp=NAIVE)), error=ValidationError,
             mentions="version_timestamp"),
        Case(id="add-undeclared-property", act=_add(_animal(favourite_color="red")), error=ValidationError,
             mentions="favourite_color"),
        Case(id="add-value-lone-surrogate", act=_add(_animal(notes="bad \ud800 text")), error=ValidationError,
             mentions="notes"),
    ]
    cases += _oversized()
    return cases


def _oversized() -> list[Case]:
    """Records beyond the 14 MiB a record may hold (built when the case runs, not at import)."""
    fifteen_mib = 15 * 1024 * 1024
    return [
        Case(id="add-value-text-beyond-size-limit", act=lambda u, e: u.data.add(_animal(notes="x" * fifteen_mib)),
             error=ValidationError, mentions="notes"),
        Case(id="add-value-many-small-items-beyond-size-limit",  # 1M floats: 8 MB of values, 16 MB of BSON
             act=lambda u, e: u.data.add(_animal(notes=[0.5] * 1_000_000)), error=ValidationError,
             mentions="notes"),
        Case(id="add-record-many-fields-beyond-size-limit",
             act=lambda u, e: u.data.add({**_animal(), **{f"f{i}": "x" * 1024 for i in range(15 * 1024)}}),
             error=ValidationError, mentions="MiB"),
        Case(id="add-array-attr-beyond-size-limit", act=lambda u, e: u.data.add(_array(notes="x" * fifteen_mib)),
             error=ValidationError, mentions="notes"),
        Case(id="add-array-attr-numpy-array-beyond-size-limit",
             act=lambda u, e: u.data.add(_array(notes=np.zeros(5_000_000))), error=ValidationError,
             mentions="notes"),
    ]


def _add_arguments() -> list[Case]:
    string_array = xr.DataArray(np.array([object(), object()], dtype=object), dims=["spike_idx"],
                                attrs=vocab.spike_times_attrs("hostile-objects", n_spikes=2))
    return [
        Case(id="add-obj-int", act=_add(5), error=ArgumentTypeError, mentions="int"),
        Case(id="add-obj-str", act=_add("animal"), error=ArgumentTypeError, mentions="str"),
        Case(id="add-obj-none", act=_add(None), error=ArgumentTypeError, mentions="NoneType"),
        Case(id="add-obj-list", act=_add([vocab.animal_record("Hostile1")]), error=ArgumentTypeError, mentions="list"),
        Case(id="add-versioning_on-str", act=lambda u, e: u.data.add(_animal(), versioning_on="yes"),
             error=ArgumentTypeError, mentions="versioning_on"),
        Case(id="add-data_adapter-unknown-name", act=lambda u, e: u.data.add(_array(), data_adapter="no-such"),
             error=SignalStoreError, mentions="no-such"),
        Case(id="add-data_adapter-object", act=lambda u, e: u.data.add(_array(), data_adapter=object()),
             error=ArgumentTypeError, mentions="adapter"),
        Case(id="add-existing-key", act=_add(vocab.animal_record("Animal1")), error=AlreadyExistsError,
             mentions="Animal1"),
        Case(id="add-array-of-non-str-objects", act=_add(string_array), error=ValidationError, mentions="str"),
    ]


def _key_arguments() -> list[Case]:
    d = lambda uow: uow.data  # noqa: E731 - shorthand for the table below
    return [
        Case(id="get-schema_ref-int", act=lambda u, e: d(u).get(5, "Animal1"), error=ArgumentTypeError,
             mentions="schema_ref"),
        Case(id="get-data_name-none", act=lambda u, e: d(u).get("animal", None), error=ArgumentTypeError,
             mentions="data_name"),
        Case(id="get-data_name-traversal", act=lambda u, e: d(u).get("animal", "../Animal1"),
             error=ValidationError, mentions="data_name"),
        Case(id="get-version_timestamp-str", act=lambda u, e: d(u).get("animal", "Animal1", version_timestamp="0"),
             error=ArgumentTypeError, mentions="version_timestamp"),
        Case(id="get-nth_most_recent-zero", act=lambda u, e: d(u).get("animal", "Animal1", nth_most_recent=0),
             error=ValidationError, mentions="nth_most_recent"),
        Case(id="get-nth_most_recent-str", act=lambda u, e: d(u).get("animal", "Animal1", nth_most_recent="1"),
             error=ArgumentTypeError, mentions="nth_most_recent"),
        Case(id="get-nth_most_recent-bool", act=lambda u, e: d(u).get("animal", "Animal1", nth_most_recent=True),
             error=ArgumentTypeError, mentions="nth_most_recent"),
        Case(id="get-verify-str-on-array", act=lambda u, e: d(u).get("spike_times", "u1", verify="yes"),
             error=ArgumentTypeError, mentions="verify"),
        Case(id="get-verify-str-on-record", act=lambda u, e: d(u).get("animal", "Animal1", verify="yes"),
             error=ArgumentTypeError, mentions="verify"),
        Case(id="get-lazy-str-on-array", act=lambda u, e: d(u).get("spike_times", "u1", lazy="yes"),
             error=ArgumentTypeError, mentions="lazy"),
        Case(id="get-as_of-str", act=lambda u, e: d(u).get("animal", "Animal1", as_of="yesterday"),
             error=ArgumentTypeError, mentions="as_of"),
        Case(id="get-as_of-naive", act=lambda u, e: d(u).get("animal", "Animal1", as_of=NAIVE),
             error=ValidationError, mentions="as_of"),
        Case(id="get-as_of-beyond-head", act=lambda u, e: d(u).get("animal", "Animal1", as_of=10**6),
             error=ValidationError, mentions="as_of"),
        Case(id="get-as_of-negative", act=lambda u, e: d(u).get("animal", "Animal1", as_of=-1),
             error=ValidationError, mentions="as_of"),
        Case(id="get-as_of-bool", act=lambda u, e: d(u).get("animal", "Animal1", as_of=True),
             error=ArgumentTypeError, mentions="as_of"),
        Case(id="get-as_of-float", act=lambda u, e: d(u).get("animal", "Animal1", as_of=1.5),
             error=ArgumentTypeError, mentions="as_of"),
        Case(id="exists-data_name-traversal", act=lambda u, e: d(u).exists("animal", "../x"), error=ValidationError,
             mentions="data_name"),
        Case(id="remove-absent", act=lambda u, e: d(u).remove("animal", "Absent1"), error=NotFoundError,
             mentions="Absent1"),
        Case(id="remove-version_timestamp-float", act=lambda u, e: d(u).remove("animal", "Animal1", 1.5),
             error=ArgumentTypeError, mentions="version_timestamp"),
        Case(id="remove-data_name-list", act=lambda u, e: d(u).remove("animal", ["Animal1"]),
             error=ArgumentTypeError, mentions="data_name"),
        Case(id="restore-live", act=lambda u, e: d(u).restore("animal", "Animal1"), error=AlreadyExistsError,
             mentions="Animal1"),
        Case(id="restore-never-removed", act=lambda u, e: d(u).restore("animal", "Absent1"), error=NotFoundError,
             mentions="Absent1"),
        Case(id="restore-version_timestamp-str", act=lambda u, e: d(u).restore("animal", "Removed1", "0"),
             error=ArgumentTypeError, mentions="version_timestamp"),
        Case(id="exists-version_timestamp-list", act=lambda u, e: d(u).exists("animal", "Animal1", [0]),
             error=ArgumentTypeError, mentions="version_timestamp"),
        Case(id="history-version_timestamp-str", act=lambda u, e: d(u).history("animal", "Animal1", "0"),
             error=ArgumentTypeError, mentions="version_timestamp"),
        Case(id="restore-schema_ref-traversal", act=lambda u, e: d(u).restore("../animal", "Animal1"),
             error=ValidationError, mentions="schema_ref"),
        Case(id="history-data_name-traversal", act=lambda u, e: d(u).history("animal", "../x"),
             error=ValidationError, mentions="data_name"),
    ]


def _queries() -> list[Case]:
    code = {"where": WHERE, "function": {"$expr": FUNCTION}, "accumulator": {"$expr": ACCUMULATOR},
            "where-in-and": {"$and": [{"data_name": "Animal1"}, WHERE]},
            "where-in-or-in-nor": {"$nor": [{"$or": [WHERE]}]},
            "where-under-field": {"notes": WHERE},
            "function-in-elemMatch": {"tags": {"$elemMatch": {"$expr": FUNCTION}}},
            "where-in-not": {"age": {"$not": WHERE}}}
    cases = [Case(id=f"find-code-{k}", act=_find(v), error=ValidationError, mentions=_code_operator(k))
             for k, v in code.items()]
    malformed: dict[str, tuple[Any, type[SignalStoreError], str]] = {
        "filter-str": ("data_name", ArgumentTypeError, "filter"),
        "filter-list": ([{"data_name": "Animal1"}], ArgumentTypeError, "filter"),
        "and-not-a-list": ({"$and": {"data_name": "Animal1"}}, ValidationError, "$and"),
        "or-empty": ({"$or": []}, ValidationError, "$or"),
        "in-not-a-list": ({"age": {"$in": 5}}, ValidationError, "$in"),
        "bad-regex": ({"data_name": {"$regex": "("}}, ValidationError, "$regex"),
        "bad-regex-option": ({"data_name": {"$regex": "a", "$options": "z"}}, ValidationError, "$options"),
        "size-negative": ({"tags": {"$size": -1}}, ValidationError, "$size"),
        "unknown-field-operator": ({"age": {"$foo": 1}}, ValidationError, "$foo"),
        "unknown-top-level-operator": ({"$foo": 1}, ValidationError, "$foo"),
        "unknown-type": ({"age": {"$type": "no-such-type"}}, ValidationError, "$type"),
        "non-str-key": ({1: "x"}, ValidationError, "1"),
        "object-value": ({"age": object()}, ValidationError, "object"),
        "naive-datetime": ({"time_of_save": {"$lt": NAIVE}}, ValidationError, "time"),
        "int-beyond-64-bits": ({"age": 2**70}, ValidationError, "64"),
        "nested-10000-deep": (_deep_filter(10_000), ValidationError, "deep"),
        "bad-regex-class": ({"data_name": {"$regex": "[a-"}}, ValidationError, "$regex"),
        "regex-with-nul": ({"data_name": {"$regex": "a\x00"}}, ValidationError, "$regex"),
        "decimal-value": ({"age": Decimal("1.5")}, ValidationError, "Decimal"),
        "uuid-value": ({"age": uuid.UUID(int=7)}, ValidationError, "UUID"),
        "set-value": ({"age": {"$in": [{1, 2}]}}, ValidationError, "set"),
        "lone-surrogate-value": ({"data_name": "Animal\ud800"}, ValidationError, "surrogate"),
        "lone-surrogate-key": ({"no\ud800tes": "x"}, ValidationError, "surrogate"),
    }
    cases += [Case(id=f"find-{k}", act=_find(f), error=e, mentions=m) for k, (f, e, m) in malformed.items()]
    cases += [
        Case(id="find-projection-str", act=_find({}, projection="data_name"), error=SignalStoreError,
             mentions="projection"),
        Case(id="find-projection-mixed", act=_find({}, projection={"age": 1, "sex": 0}), error=ValidationError,
             mentions="projection"),
        Case(id="find-sort-int", act=_find({}, sort=5), error=SignalStoreError, mentions="sort"),
        Case(id="find-sort-key-not-str", act=_find({}, sort=[(5, 1)]), error=SignalStoreError, mentions="sort"),
        Case(id="find-get_data-str", act=_find({}, get_data="yes"), error=ArgumentTypeError, mentions="get_data"),
        Case(id="find-sort-direction-2", act=_find({}, sort=[("data_name", 2)]), error=ValidationError,
             mentions="sort"),
        Case(id="find-limit-negative", act=_find({}, limit=-1), error=ValidationError, mentions="limit"),
        Case(id="find-limit-str", act=_find({}, limit="5"), error=ArgumentTypeError, mentions="limit"),
        Case(id="find-limit-bool", act=_find({}, limit=True), error=ArgumentTypeError, mentions="limit"),
        Case(id="find-get_data-with-projection", act=_find({}, projection={"age": 1}, get_data=True),
             error=ValidationError, mentions="projection"),
        Case(id="find-as_of-naive", act=_find({}, as_of=NAIVE), error=ValidationError, mentions="as_of"),
        Case(id="find_view-sql-in-view-name", act=lambda u, e: u.find_view('records"; DROP TABLE commits; --'),
             error=ValidationError, mentions="view"),
        Case(id="find_view-unknown-view", act=lambda u, e: u.find_view("no_such_view"), error=ValidationError,
             mentions="no_such_view"),
        Case(id="find_view-log-table", act=lambda u, e: u.find_view("events"), error=ValidationError,
             mentions="events"),
    ]
    return cases


def _code_operator(case_id: str) -> str:
    return "$" + next(op for op in ("where", "function", "accumulator") if op in case_id)


def _other_calls() -> list[Case]:
    return [
        Case(id="list_marked-threshold-str", act=lambda u, e: u.data.list_marked_for_deletion("2024-01-01"),
             error=ArgumentTypeError, mentions="time_threshold"),
        Case(id="list_marked-threshold-naive", act=lambda u, e: u.data.list_marked_for_deletion(NAIVE),
             error=ValidationError, mentions="time_threshold"),
        Case(id="list_marked-threshold-int", act=lambda u, e: u.data.list_marked_for_deletion(5),
             error=ArgumentTypeError, mentions="time_threshold"),
        Case(id="list_marked-as_of-str", act=lambda u, e: u.data.list_marked_for_deletion(as_of="x"),
             error=ArgumentTypeError, mentions="as_of"),
        Case(id="purge-threshold-str", act=lambda u, e: u.purge("2024-01-01"), error=ArgumentTypeError,
             mentions="time_threshold"),
        Case(id="purge-threshold-naive", act=lambda u, e: u.purge(NAIVE), error=ValidationError,
             mentions="time_threshold"),
        Case(id="commit-message-int", act=lambda u, e: u.commit(message=5), error=ArgumentTypeError,
             mentions="message"),
        Case(id="commit-message-bytes", act=lambda u, e: u.commit(message=b"x"), error=ArgumentTypeError,
             mentions="message"),
        Case(id="commit-message-list", act=lambda u, e: u.commit(message=["x"]), error=ArgumentTypeError,
             mentions="message"),
        Case(id="log-since-str", act=lambda u, e: u.log(since="yesterday"), error=ArgumentTypeError,
             mentions="since"),
        Case(id="log-until-naive", act=lambda u, e: u.log(until=NAIVE), error=ValidationError, mentions="until"),
        Case(id="log-since-float", act=lambda u, e: u.log(since=1.5), error=ArgumentTypeError, mentions="since"),
        Case(id="log-actor-int", act=lambda u, e: u.log(actor=5), error=ArgumentTypeError, mentions="actor"),
        Case(id="log-limit-negative", act=lambda u, e: u.log(limit=-1), error=ValidationError, mentions="limit"),
        Case(id="log-limit-str", act=lambda u, e: u.log(limit="5"), error=ValidationError, mentions="limit"),
        Case(id="as_of-view-str", act=lambda u, e: u.as_of("yesterday"), error=ArgumentTypeError, mentions="as_of"),
        Case(id="as_of-view-naive", act=lambda u, e: u.as_of(NAIVE), error=ValidationError, mentions="as_of"),
        Case(id="list_marked-as_of-naive", act=lambda u, e: u.data.list_marked_for_deletion(as_of=NAIVE),
             error=ValidationError, mentions="as_of"),
        Case(id="find_view-filter-str", act=lambda u, e: u.find_view("records", "x"), error=ArgumentTypeError,
             mentions="filter"),
        Case(id="as_of-view-write", act=lambda u, e: u.as_of(1).data.add(_animal()), error=ReadOnlyError,
             mentions="read-only"),
        Case(id="as_of-view-commit", act=lambda u, e: u.as_of(1).commit(), error=ReadOnlyError,
             mentions="read-only"),
    ]


def _blobs() -> list[Case]:
    return [Case(id=f"get-damaged-blob-{kind}", act=lambda u, e: u.data.get("spike_times", "u1"),
                 error=SignalStoreError, mentions="blobs/blake3/", damage=kind)
            for kind in ("truncated", "emptied", "garbage", "header-flipped")] + [
        Case(id="get-verify-flipped-data-blob", act=lambda u, e: u.data.get("spike_times", "u1", verify=True),
             error=SignalStoreError, mentions="damaged", damage="data-flipped")]


def all_cases() -> list[Case]:
    cases = (_names() + _projects() + _models() + _memory() + _fields() + _add_arguments()
             + _key_arguments() + _queries() + _other_calls() + _blobs())
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    return cases
