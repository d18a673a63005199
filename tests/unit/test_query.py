"""The MongoDB query language of the embedded backend: checks, matcher, projection, sort, limit.

Expected results follow the MongoDB server (matcher ``path.cpp``/``expression_leaf.cpp``,
``BtreeKeyGenerator`` for sort keys, ``ProjectionNode`` for projections), not intuition.
"""

from __future__ import annotations

import copy
import functools
import re
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import bson
import numpy as np
import pytest
from bson.codec_options import CodecOptions
from hypothesis import given, settings
from hypothesis import strategies as st

from signalstore_es.domain.query import (
    apply_projection,
    check_embedded_filter,
    check_filter,
    check_limit,
    check_sort,
    compile_filter,
    pushdown_equalities,
    sort_documents,
)
from signalstore_es.domain.query_bson import bson_compare, bson_type_code
from signalstore_es.errors import ArgumentTypeError, ValidationError

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
NAN = float("nan")
PROPERTY = settings(max_examples=150, deadline=None, database=None)


def matches(filter: Any, doc: dict[str, Any]) -> bool:
    return compile_filter(filter)(doc)


# -- check_filter --------------------------------------------------------------------------

def test_check_filter_turns_none_into_an_empty_filter() -> None:
    assert check_filter(None) == {}


@pytest.mark.parametrize("bad", [1, "a: 1", [("a", 1)], ("a",)], ids=["int", "str", "list", "tuple"])
def test_check_filter_refuses_a_non_mapping_naming_its_type(bad: Any) -> None:
    with pytest.raises(ArgumentTypeError, match=type(bad).__name__):
        check_filter(bad)


CODE_PLACES = [
    pytest.param(lambda op: {op: "return true"}, id="top level"),
    pytest.param(lambda op: {"$and": [{"a": 1}, {op: "x"}]}, id="inside $and"),
    pytest.param(lambda op: {"$or": [{"$nor": [{op: "x"}]}]}, id="inside $or inside $nor"),
    pytest.param(lambda op: {"a": {"$elemMatch": {op: "x"}}}, id="inside $elemMatch"),
    pytest.param(lambda op: {"$expr": {op: {"body": "f", "args": [], "lang": "js"}}}, id="inside $expr"),
    pytest.param(lambda op: {"a": {"$not": {op: "x"}}}, id="inside $not"),
    pytest.param(lambda op: {"a": {"$in": [{"b": {op: "x"}}]}}, id="inside a literal"),
]


@pytest.mark.parametrize("place", CODE_PLACES)
@pytest.mark.parametrize("op", ["$where", "$function", "$accumulator"])
def test_check_filter_refuses_code_executing_operators_anywhere(op: str, place: Any) -> None:
    with pytest.raises(ValidationError, match=re.escape(op) + ".*executes JavaScript code on the server"):
        check_filter(place(op))


MALFORMED = [
    pytest.param({"$and": {"a": 1}}, r"\$and .*non-empty list", id="$and not a list"),
    pytest.param({"$or": []}, r"\$or .*non-empty list", id="$or empty"),
    pytest.param({"$nor": [1]}, r"\$nor .*non-empty list", id="$nor of non-documents"),
    pytest.param({"a": {"$in": 1}}, r"\$in .*list", id="$in not a list"),
    pytest.param({"a": {"$nin": "ab"}}, r"\$nin .*list", id="$nin a string"),
    pytest.param({"a": {"$in": [{"$gt": 1}]}}, "cannot be nested inside", id="operator inside $in"),
    pytest.param({"$foo": 1}, r"unknown top-level operator \$foo", id="unknown top-level operator"),
    pytest.param({"a": {"$foo": 1}}, r"unknown operator \$foo", id="unknown field operator"),
    pytest.param({1: "a"}, "keys must be str", id="non-str key"),
    pytest.param({"a": {"$eq": {2: 1}}}, "keys must be str", id="non-str key in a literal"),
    pytest.param({"a": {"$gt": 1, "b": 2}}, "mixes operators and field names", id="operators mixed with fields"),
    pytest.param({"a": {"$not": {"b": 1}}}, r"\$not .*document of operators", id="$not of a literal document"),
    pytest.param({"a": {"$not": 5}}, r"\$not .*document of operators", id="$not of a value"),
    pytest.param({"a": {"$not": {}}}, r"\$not .*non-empty", id="$not empty"),
    pytest.param({"a": {"$size": -1}}, r"\$size .*>= 0", id="$size negative"),
    pytest.param({"a": {"$size": 1.5}}, r"\$size .*whole number", id="$size fractional"),
    pytest.param({"a": {"$size": True}}, r"\$size", id="$size bool"),
    pytest.param({"a": {"$type": "text"}}, r"\$type .*not a BSON type", id="$type unknown alias"),
    pytest.param({"a": {"$type": []}}, r"\$type .*at least one", id="$type empty list"),
    pytest.param({"a": {"$regex": 5}}, r"\$regex .*str", id="$regex not a str"),
    pytest.param({"a": {"$options": "i"}}, r"\$options needs a \$regex", id="$options alone"),
    pytest.param({"a": {"$regex": "x", "$options": "q"}}, r"\$options .*letters", id="$options bad letter"),
    pytest.param({"a": {"$elemMatch": [1]}}, r"\$elemMatch .*document", id="$elemMatch not a document"),
    pytest.param({"a..b": 1}, "empty component", id="empty path component"),
    pytest.param({"": 1}, "empty component", id="empty path"),
    pytest.param({"a.$": 1}, "starting with '\\$'", id="positional path component"),
    pytest.param({"t": datetime(2024, 1, 1)}, "naive datetime", id="naive datetime"),
    pytest.param({"a": 2**63}, "does not fit in 64 bits", id="integer beyond 64 bits"),
    pytest.param({"a": {"$mod": [2]}}, r"\$mod", id="$mod malformed"),
]


@pytest.mark.parametrize("filter, message", MALFORMED)
def test_check_filter_refuses_malformed_shapes_saying_what_is_wrong(filter: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        check_filter(filter)


def test_check_filter_returns_a_copy_that_does_not_share_the_input() -> None:
    original = {"a": {"$in": [1, 2]}, "$and": [{"b": {"c": 1}}]}
    checked = check_filter(original)
    checked["a"]["$in"].append(3)
    checked["$and"][0]["b"]["c"] = 9
    assert original == {"a": {"$in": [1, 2]}, "$and": [{"b": {"c": 1}}]}


def test_check_filter_accepts_operators_only_the_server_evaluates() -> None:
    filter = {"a": {"$mod": [2, 0]}, "$comment": "x", "$expr": {"$gt": ["$a", 1]}}
    assert check_filter(filter) == filter


def test_check_filter_turns_numpy_values_into_python_values() -> None:
    checked = check_filter({"a": np.int64(3), "b": {"$in": np.array([1.5, 2.5])}})
    assert checked == {"a": 3, "b": {"$in": [1.5, 2.5]}} and type(checked["a"]) is int


def test_check_filter_keeps_sub_millisecond_datetimes_for_the_server() -> None:
    moment = T0 + timedelta(microseconds=1500)
    assert check_filter({"t": moment})["t"] == moment


# -- check_embedded_filter ----------------------------------------------------------------

@pytest.mark.parametrize("filter, op", [
    ({"a": {"$mod": [2, 0]}}, "$mod"),
    ({"$expr": {"$gt": ["$a", 1]}}, "$expr"),
    ({"$text": {"$search": "x"}}, "$text"),
    ({"$comment": "x"}, "$comment"),
    ({"a": {"$bitsAllSet": 3}}, "$bitsAllSet"),
    ({"a": {"$geoWithin": {"$box": [[0, 0], [1, 1]]}}}, "$geoWithin"),
    ({"$or": [{"a": {"$elemMatch": {"$mod": [2, 0]}}}]}, "$mod"),
], ids=["$mod", "$expr", "$text", "$comment", "$bitsAllSet", "$geoWithin", "nested $mod"])
def test_embedded_check_refuses_operators_outside_the_subset_listing_the_supported_ones(
        filter: Any, op: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(op) + r" .*not supported.*supported: \$and.*\$type"):
        check_embedded_filter(filter)


@pytest.mark.parametrize("filter", [
    {"a": {"$eq": 1, "$ne": 2, "$gt": 0, "$gte": 0, "$lt": 5, "$lte": 5}},
    {"a": {"$in": [1], "$nin": [2], "$exists": True, "$all": [1], "$size": 1, "$type": "int"}},
    {"a": {"$not": {"$regex": "x", "$options": "imsx"}}},
    {"a": {"$elemMatch": {"b": {"$gt": 1}}}, "$and": [{"a": 1}], "$or": [{"a": 1}], "$nor": [{"a": 2}]},
], ids=["comparisons", "sets and arrays", "$not and $regex", "$elemMatch and logic"])
def test_embedded_check_accepts_every_operator_of_the_subset(filter: Any) -> None:
    assert check_embedded_filter(filter) == filter


@pytest.mark.parametrize("value", [re.compile("x"), b"x"], ids=["pattern", "bytes"])
def test_embedded_check_refuses_values_a_record_cannot_hold(value: Any) -> None:
    with pytest.raises(ValidationError, match="cannot appear in a filter for the embedded backend"):
        check_embedded_filter({"a": value})


UNENCODABLE = [object(), Decimal("1.5"), uuid.UUID(int=1), date(2024, 1, 1), {1, 2}, frozenset({1})]


@pytest.mark.parametrize("value", UNENCODABLE, ids=["object", "Decimal", "UUID", "date", "set", "frozenset"])
@pytest.mark.parametrize("check", [check_filter, check_embedded_filter], ids=["mongo", "embedded"])
def test_both_checks_refuse_values_bson_cannot_encode_naming_the_type(check: Any, value: Any) -> None:
    with pytest.raises(ValidationError, match=f"a {type(value).__name__} .*cannot appear in a filter"):
        check({"a": {"$in": [value]}})


def test_the_values_check_filter_lets_through_are_the_ones_bson_encodes() -> None:
    filter = {"a": re.compile("x"), "b": b"x", "c": bson.ObjectId(), "d": bson.Decimal128("1.5"),
              "e": bson.Regex("x"), "f": bson.Int64(5)}
    assert bson.decode(bson.encode(check_filter(filter))) is not None


@pytest.mark.parametrize("filter", [{"a": "x\ud800"}, {"x\udc00": 1}, {"a": {"$in": ["\ud800"]}}],
                         ids=["value", "key", "nested value"])
@pytest.mark.parametrize("check", [check_filter, check_embedded_filter], ids=["mongo", "embedded"])
def test_both_checks_refuse_text_with_a_lone_surrogate(check: Any, filter: Any) -> None:
    with pytest.raises(ValidationError, match="lone surrogate"):
        check(filter)


@pytest.mark.parametrize("check", [check_filter, check_embedded_filter], ids=["mongo", "embedded"])
def test_both_checks_refuse_a_regex_with_a_nul(check: Any) -> None:
    with pytest.raises(ValidationError, match=r"\$regex .*NUL"):
        check({"a": {"$regex": "a\x00"}})


def test_check_filter_leaves_judging_a_pattern_to_the_server_whose_pcre_python_re_cannot_compile() -> None:
    pcre_only = {"a": {"$regex": "\\p{L}+"}, "b": {"$regex": "(?<word>x)"}}
    assert check_filter(pcre_only) == pcre_only


def test_embedded_check_refuses_dollar_keys_inside_literal_values() -> None:
    with pytest.raises(ValidationError, match="cannot appear inside a literal value"):
        check_embedded_filter({"a": {"$eq": {"b": {"$gt": 1}}}})


def test_embedded_check_refuses_an_invalid_regex() -> None:
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        check_embedded_filter({"a": {"$regex": "(unclosed"}})


def test_embedded_check_reports_code_operators_as_code_not_as_unsupported() -> None:
    with pytest.raises(ValidationError, match="executes JavaScript"):
        check_embedded_filter({"$where": "this.a == 1"})


@pytest.mark.parametrize("moment", [
    T0 + timedelta(microseconds=123_456),
    datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2024, 5, 1, 12, 0, 0, 4_999, tzinfo=timezone(timedelta(hours=-5))),
], ids=["after epoch", "before epoch", "other zone"])
def test_embedded_check_cuts_datetimes_to_the_milliseconds_bson_stores(moment: datetime) -> None:
    stored = bson.decode(bson.encode({"t": moment}), CodecOptions(tz_aware=True))["t"]
    assert check_embedded_filter({"t": moment})["t"] == stored


# -- matcher: equality, null, comparisons ----------------------------------------------------

EQUALITY = [
    ({"a": 1}, {"a": 1}, True, "equal value matches"),
    ({"a": 1}, {"a": 1.0}, True, "int equals float of the same value"),
    ({"a": 1}, {"a": 2}, False, "other value does not match"),
    ({"a": "1"}, {"a": 1}, False, "string does not equal number"),
    ({"a": 1}, {"a": True}, False, "number does not equal bool"),
    ({"a": True}, {"a": 1}, False, "bool does not equal number"),
    ({"tags": "a"}, {"tags": ["a", "b"]}, True, "array field matches any element"),
    ({"tags": "c"}, {"tags": ["a", "b"]}, False, "array field without the value does not match"),
    ({"a": [1, 2]}, {"a": [1, 2]}, True, "whole array matches equal array"),
    ({"a": [1, 2]}, {"a": [2, 1]}, False, "array equality is order sensitive"),
    ({"a": [1, 2]}, {"a": [[1, 2], 3]}, True, "array value matches array element"),
    ({"a": [1]}, {"a": [1, 2]}, False, "array value does not match a longer array"),
    ({"a": {"x": 1, "y": 2}}, {"a": {"x": 1, "y": 2}}, True, "dict matches same keys in same order"),
    ({"a": {"x": 1, "y": 2}}, {"a": {"y": 2, "x": 1}}, False, "dict equality is key order sensitive"),
    ({"a": {"x": 1}}, {"a": {"x": 1.0}}, True, "dict equality compares numbers by value"),
    ({"a": {"x": 1}}, {"a": {"x": 1, "y": 2}}, False, "dict equality needs the same keys"),
    ({"a": {}}, {"a": {}}, True, "empty dict matches empty dict"),
    ({"a": {}}, {"a": {"x": 1}}, False, "empty dict does not match a non-empty one"),
    ({"a": {"$eq": {"x": 1}}}, {"a": [{"x": 1}]}, True, "$eq dict matches dict element"),
    ({"a.b.c": 1}, {"a": {"b": {"c": 1}}}, True, "dotted path reaches nested field"),
    ({"a.b": 1}, {"a": [{"b": 1}, {"b": 2}]}, True, "dotted path runs through array of documents"),
    ({"a.b": 2}, {"a": [{"b": 1}, {"b": 2}]}, True, "dotted path checks every document in the array"),
    ({"a.b": 1}, {"a": [1, {"b": 1}]}, True, "dotted path skips scalar array elements"),
    ({"a.b": 1}, {"a": [[{"b": 1}]]}, False, "dotted path does not run through nested arrays"),
    ({"a.b": 3}, {"a": [{"b": [3, 4]}]}, True, "dotted path reaches leaf array elements"),
    ({"a.b": 1}, {"a": 5}, False, "dotted path under a scalar finds nothing"),
    ({"t": T0}, {"t": T0}, True, "datetime equals itself"),
    ({"t": T0.astimezone(timezone(timedelta(hours=2)))}, {"t": T0}, True, "same instant in another zone is equal"),
    ({"t": T0 + timedelta(microseconds=700)}, {"t": T0}, True, "sub-millisecond part is cut as in BSON"),
    ({"a": "é"}, {"a": "é"}, True, "non-ascii string equality"),
]

NULLS = [
    ({"a": None}, {}, True, "None matches a missing field"),
    ({"a": None}, {"a": None}, True, "None matches null"),
    ({"a": None}, {"a": 0}, False, "None does not match zero"),
    ({"a": None}, {"a": []}, False, "None does not match an empty array"),
    ({"a": None}, {"a": [1, None]}, True, "None matches an array holding null"),
    ({"a.b": None}, {"a": [{"c": 1}]}, True, "None on dotted path matches element lacking the field"),
    ({"a.b": None}, {"a": [1]}, False, "None on dotted path ignores scalar elements"),
    ({"a.b": None}, {"a": []}, False, "None on dotted path through empty array does not match"),
    ({"a.b": None}, {}, True, "None on dotted path matches missing parent"),
    ({"a.b": None}, {"a": 5}, True, "None on dotted path matches scalar parent"),
    ({"a": {"$ne": None}}, {}, False, "$ne None excludes missing field"),
    ({"a": {"$ne": None}}, {"a": 0}, True, "$ne None matches present value"),
    ({"a": {"$ne": None}}, {"a": [1, None]}, False, "$ne None fails on array holding null"),
]

COMPARISONS = [
    ({"a": {"$gt": 1}}, {"a": 2}, True, "$gt matches larger number"),
    ({"a": {"$gt": 1}}, {"a": 1.5}, True, "$gt compares int with float"),
    ({"a": {"$gt": 1}}, {"a": 1}, False, "$gt does not match equal"),
    ({"a": {"$gte": 1}}, {"a": 1.0}, True, "$gte matches equal"),
    ({"a": {"$lt": 2**53 + 1}}, {"a": float(2**53)}, True, "large int compares exactly with float"),
    ({"a": {"$lte": -1}}, {"a": -1}, True, "$lte matches equal negative"),
    ({"a": {"$lt": "b"}}, {"a": "B"}, True, "strings compare by code point"),
    ({"a": {"$lt": "b"}}, {"a": "ab"}, True, "string prefix order"),
    ({"a": {"$gt": 1}}, {"a": "x"}, False, "$gt on number does not match string"),
    ({"a": {"$lt": "z"}}, {"a": 1}, False, "$lt on string does not match number"),
    ({"a": {"$gt": 0}}, {"a": True}, False, "$gt on number does not match bool"),
    ({"a": {"$gt": False}}, {"a": True}, True, "true is greater than false"),
    ({"a": {"$gt": 1}}, {}, False, "$gt does not match missing field"),
    ({"a": {"$lt": 1}}, {"a": None}, False, "$lt does not match null"),
    ({"a": {"$gte": None}}, {}, True, "$gte None matches missing field"),
    ({"a": {"$lte": None}}, {"a": None}, True, "$lte None matches null"),
    ({"a": {"$gt": None}}, {"a": None}, False, "$gt None matches nothing"),
    ({"a": {"$lt": None}}, {}, False, "$lt None does not match missing"),
    ({"a": {"$gt": 3}}, {"a": [1, 5]}, True, "$gt on array matches if an element does"),
    ({"a": {"$lt": 0}}, {"a": [1, 5]}, False, "$lt on array fails if no element does"),
    ({"a": {"$gt": 3, "$lt": 2}}, {"a": [1, 5]}, True, "each operator may use a different element"),
    ({"a": {"$gt": [1, 2]}}, {"a": [1, 3]}, True, "array operand compares whole arrays"),
    ({"a": {"$lt": [2]}}, {"a": [1]}, True, "array operand compares arrays element-wise"),
    ({"a": {"$gt": [1]}}, {"a": [1, 0]}, True, "longer array with equal prefix is greater"),
    ({"t": {"$gt": T0}}, {"t": T1}, True, "$gt on datetimes"),
    ({"t": {"$gt": T0}}, {"t": 5}, False, "$gt on datetime does not match number"),
    ({"a": {"$gt": {"x": 1}}}, {"a": {"x": 2}}, True, "dicts compare by value"),
    ({"a": {"$gt": {"x": 1}}}, {"a": {"y": 0}}, True, "dicts compare by field name"),
    ({"a": {"$gt": {"y": 1}}}, {"a": {"x": "s"}}, True, "dicts compare value type before field name"),
    ({"a": {"$gt": {"x": 1}}}, {"a": {"x": 1, "y": 0}}, True, "dict with more fields is greater"),
    ({"a": {"$lt": NAN}}, {"a": 1}, False, "$lt NaN matches nothing"),
    ({"a": {"$gte": NAN}}, {"a": 1}, False, "$gte NaN matches no number"),
    ({"a": NAN}, {"a": 1}, False, "NaN equals no number"),
    ({"a": {"$gte": float("inf")}}, {"a": 10**18}, False, "infinity is above every integer"),
]

SETS = [
    ({"a": {"$ne": 1}}, {"a": [1, 2]}, False, "$ne fails if any element equals"),
    ({"a": {"$ne": 1}}, {}, True, "$ne matches missing field"),
    ({"a": {"$ne": 1}}, {"a": "1"}, True, "$ne matches value of another type"),
    ({"a": {"$ne": [1, 2]}}, {"a": [1, 2]}, False, "$ne of array fails on equal array"),
    ({"a": {"$in": [1, 2]}}, {"a": 2}, True, "$in matches a listed value"),
    ({"a": {"$in": [3, 5]}}, {"a": [1, 5]}, True, "$in matches an array element"),
    ({"a": {"$in": [None]}}, {}, True, "$in with None matches missing field"),
    ({"a": {"$in": [1]}}, {}, False, "$in without None does not match missing"),
    ({"a": {"$in": [[1, 2]]}}, {"a": [1, 2]}, True, "$in with array value matches equal array"),
    ({"a": {"$in": []}}, {"a": 1}, False, "empty $in matches nothing"),
    ({"a": {"$in": [1]}}, {"a": True}, False, "$in number does not match bool"),
    ({"a": {"$in": [1]}}, {"a": 1.0}, True, "$in int matches equal float"),
    ({"a": {"$nin": [1]}}, {"a": [1, 2]}, False, "$nin fails if any element is listed"),
    ({"a": {"$nin": [1]}}, {}, True, "$nin matches missing field"),
    ({"a": {"$nin": [None]}}, {}, False, "$nin with None fails on missing field"),
    ({"a": {"$nin": []}}, {}, True, "empty $nin matches everything"),
]

EXISTS = [
    ({"a": {"$exists": True}}, {"a": None}, True, "present null exists"),
    ({"a": {"$exists": True}}, {}, False, "missing field does not exist"),
    ({"a": {"$exists": False}}, {}, True, "$exists false matches missing"),
    ({"a": {"$exists": False}}, {"a": 0}, False, "$exists false fails on present field"),
    ({"a": {"$exists": True}}, {"a": []}, True, "empty array exists"),
    ({"a.b": {"$exists": True}}, {"a": [{"c": 1}, {"b": 2}]}, True, "exists through array of documents"),
    ({"a.b": {"$exists": False}}, {"a": [1, 2]}, True, "no field under array of scalars"),
    ({"a.b": {"$exists": False}}, {"a": [{"c": 1}, {"b": None}]}, False,
     "exists false fails if one element has it"),
    ({"a": {"$exists": 0}}, {}, True, "$exists 0 means false"),
    ({"a": {"$exists": 1}}, {"a": 1}, True, "$exists 1 means true"),
]

LOGIC = [
    ({"$and": [{"a": 1}, {"b": 2}]}, {"a": 1, "b": 3}, False, "$and needs every clause"),
    ({"$and": [{"a": 1}, {"b": 2}]}, {"a": 1, "b": 2}, True, "$and matches when all hold"),
    ({"$or": [{"a": 1}, {"b": 2}]}, {"b": 2}, True, "$or needs one clause"),
    ({"$or": [{"a": 1}, {"b": 2}]}, {"c": 1}, False, "$or fails when none holds"),
    ({"$nor": [{"a": 1}, {"b": 2}]}, {"c": 1}, True, "$nor matches when none holds"),
    ({"$nor": [{"a": 1}, {"b": 2}]}, {"b": 2}, False, "$nor fails when one holds"),
    ({"a": 1, "b": 2}, {"a": 1}, False, "top-level fields are all required"),
    ({"$or": [{"$and": [{"a": 1}, {"b": 1}]}, {"c": 1}]}, {"c": 1}, True, "logical operators nest"),
    ({"a": {"$not": {"$gt": 5}}}, {"a": 3}, True, "$not negates $gt"),
    ({"a": {"$not": {"$gt": 5}}}, {"a": 7}, False, "$not fails where $gt holds"),
    ({"a": {"$not": {"$gt": 5}}}, {}, True, "$not matches missing field"),
    ({"a": {"$not": {"$gt": 5}}}, {"a": "x"}, True, "$not matches a value of another type"),
    ({"a": {"$not": {"$gt": 5}}}, {"a": [1, 7]}, False, "$not fails if any element matches"),
    ({"a": {"$not": {"$regex": "^x"}}}, {"a": "yz"}, True, "$not of a regex"),
    ({"a": {"$not": {"$gt": 1, "$lt": 5}}}, {"a": 7}, True, "$not negates the whole operator document"),
]

ARRAYS = [
    ({"a": {"$all": [1, 2]}}, {"a": [2, 3, 1]}, True, "$all needs every value"),
    ({"a": {"$all": [1, 2]}}, {"a": [1, 3]}, False, "$all fails if one value is absent"),
    ({"a": {"$all": [1]}}, {"a": 1}, True, "$all matches a scalar equal to its only value"),
    ({"a": {"$all": []}}, {"a": []}, False, "empty $all matches nothing"),
    ({"a": {"$all": [[1, 2]]}}, {"a": [[1, 2], 3]}, True, "$all with array value finds nested array"),
    ({"a": {"$size": 2}}, {"a": [1, [2, 3]]}, True, "$size counts top elements"),
    ({"a": {"$size": 1}}, {"a": [[1], 2]}, False, "$size does not look into nested arrays"),
    ({"a": {"$size": 1}}, {"a": 1}, False, "$size does not match a scalar"),
    ({"a": {"$size": 0}}, {"a": []}, True, "$size 0 matches empty array"),
    ({"a": {"$size": 2.0}}, {"a": [1, 2]}, True, "$size accepts a whole float"),
    ({"a.b": {"$size": 1}}, {"a": [{"b": [1]}, {"b": [1, 2]}]}, True, "$size on dotted path through array"),
    ({"a": {"$elemMatch": {"$gt": 1, "$lt": 5}}}, {"a": [0, 9]}, False, "$elemMatch needs one element for all"),
    ({"a": {"$elemMatch": {"$gt": 1, "$lt": 5}}}, {"a": [0, 3]}, True, "$elemMatch value form"),
    ({"a": {"$elemMatch": {"b": 1, "c": {"$gt": 1}}}}, {"a": [{"b": 1, "c": 0}, {"b": 2, "c": 5}]}, False,
     "$elemMatch object form needs one document for all"),
    ({"a": {"$elemMatch": {"b": 1, "c": {"$gt": 1}}}}, {"a": [{"b": 1, "c": 3}]}, True, "$elemMatch object form"),
    ({"a": {"$elemMatch": {"$gt": 1}}}, {"a": 5}, False, "$elemMatch does not match a scalar"),
    ({"a": {"$elemMatch": {"$eq": 1}}}, {"a": [[1]]}, False,
     "$elemMatch value form does not look into nested arrays"),
    ({"a": {"$elemMatch": {"$or": [{"b": 1}, {"c": 1}]}}}, {"a": [{"c": 1}]}, True,
     "$elemMatch with $or is object form"),
    ({"a": {"$elemMatch": {"0": 7}}}, {"a": [[7, 8]]}, True,
     "$elemMatch object form reads inner arrays as documents"),
    ({"a": {"$elemMatch": {"$ne": 1}}}, {"a": [1, 2]}, True, "$elemMatch $ne tests elements one by one"),
    ({"a": {"$elemMatch": {}}}, {"a": [1, {}]}, True, "empty $elemMatch matches array holding a document"),
    ({"a": {"$elemMatch": {}}}, {"a": [1, 2]}, False, "empty $elemMatch needs a document element"),
    ({"a": {"$elemMatch": {"$elemMatch": {"$gt": 2}}}}, {"a": [[1], [3]]}, True, "nested $elemMatch"),
]

STRINGS_AND_TYPES = [
    ({"a": {"$regex": "b"}}, {"a": "abc"}, True, "$regex searches anywhere"),
    ({"a": {"$regex": "B"}}, {"a": "abc"}, False, "$regex is case sensitive by default"),
    ({"a": {"$regex": "B", "$options": "i"}}, {"a": "abc"}, True, "$options i ignores case"),
    ({"a": {"$regex": "^b"}}, {"a": "a\nb"}, False, "caret anchors at the start without m"),
    ({"a": {"$regex": "^b", "$options": "m"}}, {"a": "a\nb"}, True, "$options m anchors at lines"),
    ({"a": {"$regex": "a.b", "$options": "s"}}, {"a": "a\nb"}, True, "$options s lets dot match newline"),
    ({"a": {"$regex": "a b # note", "$options": "x"}}, {"a": "ab"}, True,
     "$options x ignores spaces and comments"),
    ({"a": {"$regex": "^x"}}, {"a": [1, "xy"]}, True, "$regex matches a string element"),
    ({"a": {"$regex": "1"}}, {"a": 1}, False, "$regex does not match a number"),
    ({"a": {"$type": "string"}}, {"a": "x"}, True, "$type string"),
    ({"a": {"$type": "number"}}, {"a": 1.5}, True, "$type number matches float"),
    ({"a": {"$type": "number"}}, {"a": True}, False, "$type number does not match bool"),
    ({"a": {"$type": "int"}}, {"a": 5}, True, "$type int matches 32-bit ints"),
    ({"a": {"$type": "int"}}, {"a": 2**40}, False, "$type int does not match 64-bit ints"),
    ({"a": {"$type": "long"}}, {"a": 2**40}, True, "$type long matches 64-bit ints"),
    ({"a": {"$type": "double"}}, {"a": 1}, False, "$type double does not match ints"),
    ({"a": {"$type": "null"}}, {"a": None}, True, "$type null matches null"),
    ({"a": {"$type": "null"}}, {}, False, "$type null does not match missing"),
    ({"a": {"$type": "array"}}, {"a": []}, True, "$type array matches empty array"),
    ({"a": {"$type": "object"}}, {"a": {}}, True, "$type object"),
    ({"a": {"$type": "date"}}, {"a": T0}, True, "$type date"),
    ({"a": {"$type": "bool"}}, {"a": False}, True, "$type bool"),
    ({"a": {"$type": 2}}, {"a": "x"}, True, "$type by numeric code"),
    ({"a": {"$type": ["bool", "date"]}}, {"a": T0}, True, "$type list of aliases"),
    ({"a": {"$type": "string"}}, {"a": [1, "x"]}, True, "$type matches array elements"),
]

INDEX_PATHS = [
    ({"a.0": 5}, {"a": [5, 6]}, True, "numeric component addresses an element"),
    ({"a.1": 5}, {"a": [5, 6]}, False, "numeric component addresses only that element"),
    ({"a.5": None}, {"a": [1]}, False, "numeric component past the end reaches nothing, not null"),
    ({"a.5": {"$exists": False}}, {"a": [1]}, True, "numeric component past the end does not exist"),
    ({"a.01": 5}, {"a": [0, 5]}, False, "numeric component with leading zero is no index"),
    ({"a.0.b": 1}, {"a": [{"b": 1}, {"b": 2}]}, True, "numeric component then field"),
    ({"a.1.b": 1}, {"a": [{"b": 1}, {"b": 2}]}, False, "numeric component then field of another element"),
    ({"a.0.b": None}, {"a": [{"b": 1}]}, True, "index path also looks for a field named 0 as the server does"),
    ({"a.1": 4}, {"a": [5, {"1": 4}]}, True, "numeric component matches a field named like it"),
    ({"a.0": 1}, {"a": {"0": 1}}, True, "numeric component on a document is a field name"),
    ({"a.0.1": 6}, {"a": [[5, 6]]}, True, "numeric components into nested arrays"),
    ({"a.0": 5}, {"a": [[5, 6]]}, False, "indexed nested array is not expanded"),
    ({"a.0": {"$size": 2}}, {"a": [[5, 6]]}, True, "indexed nested array is seen whole"),
]


def _cases(table: list[tuple[Any, ...]]) -> list[Any]:
    return [pytest.param(f, d, e, id=name) for f, d, e, name in table]


@pytest.mark.parametrize("filter, doc, expected", _cases(EQUALITY))
def test_equality_follows_mongodb(filter: Any, doc: dict[str, Any], expected: bool) -> None:
    assert matches(filter, doc) is expected


@pytest.mark.parametrize("filter, doc, expected", _cases(NULLS))
def test_null_matches_null_and_missing_as_in_mongodb(filter: Any, doc: dict[str, Any], expected: bool) -> None:
    assert matches(filter, doc) is expected


@pytest.mark.parametrize("filter, doc, expected", _cases(COMPARISONS))
def test_comparisons_stay_within_one_type_class(filter: Any, doc: dict[str, Any], expected: bool) -> None:
    assert matches(filter, doc) is expected


@pytest.mark.parametrize("filter, doc, expected", _cases(SETS))
def test_ne_in_and_nin_follow_mongodb(filter: Any, doc: dict[str, Any], expected: bool) -> None:
    assert matches(filter, doc) is expected


@pytest.mark.parametrize("filter, doc, expected", _cases(EXISTS))
def test_exists_follows_mongodb(filter: Any, doc: dict[str, Any], expected: bool) -> None:
    assert matches(filter, doc) is expected


@pytest.mark.parametrize("filter, doc, expected", _cases(LOGIC))
def test_logical_operators_follow_mongodb(filter: Any, doc: dict[str, Any], expected: bool) -> None:
    assert matches(filter, doc) is expected


@pytest.mark.parametrize("filter, doc, expected", _cases(ARRAYS))
def test_array_operators_follow_mongodb(filter: Any, doc: dict[str, Any], expected: bool) -> None:
    assert matches(filter, doc) is expected


@pytest.mark.parametrize("filter, doc, expected", _cases(STRINGS_AND_TYPES))
def test_regex_and_type_follow_mongodb(filter: Any, doc: dict[str, Any], expected: bool) -> None:
    assert matches(filter, doc) is expected


@pytest.mark.parametrize("filter, doc, expected", _cases(INDEX_PATHS))
def test_numeric_path_components_follow_the_server_path_iterator(
        filter: Any, doc: dict[str, Any], expected: bool) -> None:
    assert matches(filter, doc) is expected


def test_empty_filter_matches_every_record() -> None:
    assert matches({}, {"a": 1}) is True


def test_compile_filter_checks_the_filter_first() -> None:
    with pytest.raises(ValidationError, match=r"\$mod"):
        compile_filter({"a": {"$mod": [2, 0]}})


@pytest.mark.parametrize("value", [None, True, 1, 2**31, 2**40, -(2**31) - 1, 1.5, "x", {}, [], T0],
                         ids=["null", "bool", "int", "int32 edge", "long", "negative long", "double",
                              "string", "object", "array", "date"])
def test_type_codes_are_those_pymongo_stores(value: Any) -> None:
    assert bson_type_code(value) == bson.encode({"v": value})[4]


# -- matcher: properties ------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(-3, 3, allow_nan=False),
    st.sampled_from(["", "a", "b", "B", "é"]), st.sampled_from([T0, T1]),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(["a", "b", "0"]), children, max_size=2)),
    max_leaves=6,
)
DOCS = st.dictionaries(st.sampled_from(["a", "b", "c"]), VALUES, max_size=3)
PATHS = st.sampled_from(["a", "b", "a.b", "a.0", "a.b.a", "c.0.a"])
OPERATOR_DOCS = st.one_of(
    st.builds(lambda op, v: {op: v}, st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]), VALUES),
    st.builds(lambda v: {"$in": v}, st.lists(VALUES, max_size=3)),
    st.builds(lambda v: {"$all": v}, st.lists(VALUES, max_size=2)),
    st.builds(lambda v: {"$exists": v}, st.booleans()),
    st.builds(lambda v: {"$size": v}, st.integers(0, 2)),
    st.builds(lambda v: {"$type": v}, st.sampled_from(["number", "string", "array", "null", "object"])),
    st.builds(lambda v: {"$regex": v}, st.sampled_from(["^a", "b", "é$"])),
    st.builds(lambda v: {"$elemMatch": {"$gte": v}}, SCALARS),
)


@PROPERTY
@given(doc=DOCS, path=PATHS, ops=OPERATOR_DOCS)
def test_not_of_an_operator_document_is_its_negation(doc: dict[str, Any], path: str, ops: dict[str, Any]) -> None:
    assert matches({path: {"$not": ops}}, doc) is not matches({path: ops}, doc)


@PROPERTY
@given(doc=DOCS, first=PATHS, second=PATHS, left=OPERATOR_DOCS, right=OPERATOR_DOCS)
def test_nor_is_the_negation_of_or(doc: dict[str, Any], first: str, second: str,
                                   left: dict[str, Any], right: dict[str, Any]) -> None:
    clauses = [{first: left}, {second: right}]
    assert matches({"$nor": clauses}, doc) is not matches({"$or": clauses}, doc)


@PROPERTY
@given(doc=DOCS, path=PATHS, value=VALUES)
def test_in_with_one_value_is_eq(doc: dict[str, Any], path: str, value: Any) -> None:
    assert matches({path: {"$in": [value]}}, doc) is matches({path: {"$eq": value}}, doc)


@PROPERTY
@given(doc=DOCS, path=PATHS, values=st.lists(VALUES, max_size=3))
def test_nin_is_the_negation_of_in(doc: dict[str, Any], path: str, values: list[Any]) -> None:
    assert matches({path: {"$nin": values}}, doc) is not matches({path: {"$in": values}}, doc)


@PROPERTY
@given(doc=DOCS, path=PATHS, value=VALUES)
def test_implicit_equality_is_eq(doc: dict[str, Any], path: str, value: Any) -> None:
    assert matches({path: value}, doc) is matches({path: {"$eq": value}}, doc)


def _class(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, (int, float)) else type(value).__name__


def _scalar_oracle(op: str, doc: dict[str, Any], rhs: Any) -> bool:
    """An independent reading of the rules for a top-level field of scalars or a flat list."""
    if "a" not in doc:
        return rhs is None and op in ("$eq", "$gte", "$lte")
    value = doc["a"]
    candidates = [*value, value] if isinstance(value, list) else [value]
    tests = {"$eq": lambda x: x == rhs, "$gt": lambda x: x > rhs, "$gte": lambda x: x >= rhs,
             "$lt": lambda x: x < rhs, "$lte": lambda x: x <= rhs}
    return any(_class(x) == _class(rhs) and (x is None and op in ("$eq", "$gte", "$lte")
                                              or x is not None and tests[op](x)) for x in candidates)


FLAT_DOCS = st.one_of(
    st.just({}), st.builds(lambda v: {"a": v}, st.one_of(SCALARS, st.lists(SCALARS, max_size=4))))


@PROPERTY
@given(doc=FLAT_DOCS, op=st.sampled_from(["$eq", "$gt", "$gte", "$lt", "$lte"]), rhs=SCALARS)
def test_comparisons_agree_with_an_independent_oracle_on_flat_fields(
        doc: dict[str, Any], op: str, rhs: Any) -> None:
    assert matches({"a": {op: rhs}}, doc) is _scalar_oracle(op, doc, rhs)


@PROPERTY
@given(value=st.one_of(st.integers(-3, 3), st.floats(-3, 3, allow_nan=False)), rhs=st.integers(-3, 3))
def test_exactly_one_of_lt_eq_gt_holds_for_a_present_number(value: float, rhs: int) -> None:
    doc = {"a": value}
    hits = [matches({"a": {op: rhs}}, doc) for op in ("$lt", "$eq", "$gt")]
    assert hits.count(True) == 1


@PROPERTY
@given(values=st.lists(VALUES, max_size=6))
def test_bson_order_is_a_consistent_total_order(values: list[Any]) -> None:
    ordered = sorted(values, key=functools.cmp_to_key(bson_compare))
    assert all(bson_compare(ordered[i], ordered[j]) <= 0
               for i in range(len(ordered)) for j in range(i, len(ordered)))


@PROPERTY
@given(left=VALUES, right=VALUES)
def test_bson_compare_is_antisymmetric(left: Any, right: Any) -> None:
    assert bson_compare(left, right) == -bson_compare(right, left)


# -- pushdown_equalities -------------------------------------------------------------------

FIELDS = ("schema_ref", "data_name", "_key")

PUSHDOWN = [
    ({"schema_ref": "x"}, {"schema_ref": "x"}, "plain string equality is pushed down"),
    ({"schema_ref": {"$eq": "x"}}, {"schema_ref": "x"}, "$eq string is pushed down"),
    ({"schema_ref": {"$eq": "x", "$ne": "y"}}, {"schema_ref": "x"}, "$eq beside other operators"),
    ({"$and": [{"schema_ref": "x"}, {"$and": [{"data_name": "d"}]}]}, {"schema_ref": "x", "data_name": "d"},
     "equalities inside nested $and are pushed down"),
    ({"schema_ref": 5}, {}, "non-string value is not pushed down"),
    ({"other": "x"}, {}, "fields without an index are not pushed down"),
    ({"$or": [{"schema_ref": "x"}]}, {}, "equalities under $or are not pushed down"),
    ({"$nor": [{"schema_ref": "x"}]}, {}, "equalities under $nor are not pushed down"),
    ({"schema_ref": {"$in": ["x"]}}, {}, "$in is not pushed down"),
    ({"schema_ref": {"$ne": "x"}}, {}, "$ne is not pushed down"),
    ({"schema_ref": {"$not": {"$eq": "x"}}}, {}, "$not of $eq is not pushed down"),
    ({"schema_ref": "x", "$and": [{"schema_ref": "y"}]}, {"schema_ref": "x"}, "the first condition wins"),
]


@pytest.mark.parametrize("filter, expected", [pytest.param(f, e, id=n) for f, e, n in PUSHDOWN])
def test_pushdown_selects_only_necessary_string_equalities(filter: Any, expected: dict[str, Any]) -> None:
    assert pushdown_equalities(filter, FIELDS) == expected


PUSHDOWN_DOCS = st.fixed_dictionaries({}, optional={
    "schema_ref": st.sampled_from(["x", "y"]), "data_name": st.sampled_from(["d", "e"]), "n": st.integers(0, 2)})
PUSHDOWN_CLAUSES = st.one_of(
    st.builds(lambda f, v: {f: v}, st.sampled_from(["schema_ref", "data_name"]), st.sampled_from(["x", "y", "d"])),
    st.builds(lambda f, v: {f: {"$eq": v}}, st.sampled_from(["schema_ref", "data_name"]),
              st.sampled_from(["x", "d"])),
    st.builds(lambda v: {"n": {"$gte": v}}, st.integers(0, 2)),
    st.builds(lambda v: {"$or": [{"schema_ref": v}, {"n": 1}]}, st.sampled_from(["x", "y"])),
)


@PROPERTY
@given(doc=PUSHDOWN_DOCS, clauses=st.lists(PUSHDOWN_CLAUSES, min_size=1, max_size=4))
def test_pushdown_never_excludes_a_matching_record(doc: dict[str, Any], clauses: list[dict[str, Any]]) -> None:
    filter = {"$and": clauses}
    pushed = pushdown_equalities(filter, FIELDS)
    assert not matches(filter, doc) or all(doc.get(field) == value for field, value in pushed.items())


# -- apply_projection ----------------------------------------------------------------------

PROJECTIONS = [
    ({"a": 1, "b": 2, "c": 3}, {"a": 1}, {"a": 1}, "inclusion keeps listed field"),
    ({"b": 2, "a": 1}, {"a": 1, "b": 1}, {"b": 2, "a": 1}, "inclusion keeps document order"),
    ({"_id": 7, "a": 1, "b": 2}, {"a": 1}, {"_id": 7, "a": 1}, "inclusion keeps _id by default"),
    ({"_id": 7, "a": 1, "b": 2}, {"_id": 0, "a": 1}, {"a": 1}, "inclusion may drop _id"),
    ({"_id": 7, "a": 1}, {"_id": 1}, {"_id": 7}, "inclusion of _id alone"),
    ({"a": 1, "b": 2}, {"a": True}, {"a": 1}, "True includes"),
    ({"a": 1, "b": 2}, ["b"], {"b": 2}, "list of names includes"),
    ({"a": 1}, {"x": 1}, {}, "inclusion of a missing field gives nothing"),
    ({"a": {"b": 1, "c": 2}, "d": 3}, {"a.b": 1}, {"a": {"b": 1}}, "dotted inclusion"),
    ({"a": [{"b": 1, "c": 2}, 5, {"c": 3}]}, {"a.b": 1}, {"a": [{"b": 1}, {}]},
     "dotted inclusion runs through arrays and drops scalars"),
    ({"a": [[{"b": 1, "c": 2}]]}, {"a.b": 1}, {"a": [[{"b": 1}]]}, "dotted inclusion runs through nested arrays"),
    ({"a": 5}, {"a.b": 1}, {}, "dotted inclusion under a scalar omits the field"),
    ({"a": {"c": 1}}, {"a.b": 1}, {"a": {}}, "dotted inclusion of a missing leaf leaves an empty document"),
    ({"a": {"b": 1, "c": 2, "d": 3}}, {"a.b": 1, "a.d": 1}, {"a": {"b": 1, "d": 3}}, "two paths under one parent"),
    ({"a": 1, "b": 2, "c": 3}, {"a": 0}, {"b": 2, "c": 3}, "exclusion drops listed field"),
    ({"a": 1, "b": 2}, {"a": False}, {"b": 2}, "False excludes"),
    ({"a": {"b": 1, "c": 2}}, {"a.b": 0}, {"a": {"c": 2}}, "dotted exclusion"),
    ({"a": [{"b": 1, "c": 2}, 5]}, {"a.b": 0}, {"a": [{"c": 2}, 5]}, "dotted exclusion keeps scalars"),
    ({"a": 5}, {"a.b": 0}, {"a": 5}, "dotted exclusion under a scalar keeps it"),
    ({"_id": 7, "a": 1}, {"_id": 0}, {"a": 1}, "exclusion of _id alone"),
    ({"_id": 7, "a": 1, "b": 2}, {"_id": 0, "a": 0}, {"b": 2}, "exclusion with _id"),
    ({"_id": 7, "a": 1, "b": 2}, {"_id": 1, "a": 0}, {"_id": 7, "b": 2}, "exclusion keeping _id"),
    ({"a": 1, "b": {"c": 2}}, {}, {"a": 1, "b": {"c": 2}}, "empty projection keeps everything"),
]


@pytest.mark.parametrize("doc, projection, expected", [pytest.param(d, p, e, id=n) for d, p, e, n in PROJECTIONS])
def test_projection_follows_mongodb(doc: dict[str, Any], projection: Any, expected: dict[str, Any]) -> None:
    assert list(apply_projection(doc, projection).items()) == list(expected.items())


def test_projection_none_returns_the_document_itself() -> None:
    doc = {"a": 1}
    assert apply_projection(doc, None) is doc


def test_projection_result_does_not_share_nested_values() -> None:
    doc = {"a": {"b": [1]}, "c": 1}
    apply_projection(doc, {"a": 1})["a"]["b"].append(2)
    assert doc == {"a": {"b": [1]}, "c": 1}


BAD_PROJECTIONS = [
    ({"a": 1, "b": 0}, "mixes inclusion", "inclusion mixed with exclusion"),
    ({"a": 2}, "use 1 or True", "value other than 0 or 1"),
    ({"a": "yes"}, "use 1 or True", "string value"),
    ({"a": None}, "use 1 or True", "None value"),
    ({"a": {"$slice": 2}}, "use 1 or True", "projection operator"),
    ({"a..b": 1}, "not a field path", "empty path component"),
    ({"a.$": 1}, "not a field path", "positional projection"),
    ({"a": 1, "a.b": 1}, "collides", "path and its extension"),
    ({"a.b": 0, "a": 0}, "collides", "extension and its path"),
]


@pytest.mark.parametrize("projection, message", [pytest.param(p, m, id=n) for p, m, n in BAD_PROJECTIONS])
def test_projection_refuses_bad_specs_saying_what_to_do(projection: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        apply_projection({"a": {"b": 1}}, projection)


def test_projection_of_wrong_type_is_an_argument_type_error() -> None:
    with pytest.raises(ArgumentTypeError, match="int"):
        apply_projection({"a": 1}, 5)


PLAIN_DOCS = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), VALUES, max_size=4)


@PROPERTY
@given(doc=PLAIN_DOCS, fields=st.sets(st.sampled_from(["a", "b", "c", "d"]), min_size=1))
def test_including_then_excluding_the_same_fields_splits_the_document(
        doc: dict[str, Any], fields: set[str]) -> None:
    kept = apply_projection(doc, dict.fromkeys(fields, 1))
    dropped = apply_projection(doc, dict.fromkeys(fields, 0))
    assert not kept.keys() & dropped.keys() and {**kept, **dropped} == doc


# -- sort_documents -------------------------------------------------------------------------

def _sorted_values(values: list[Any], sort: Any) -> list[Any]:
    docs = [{"i": i} if v is _MISSING else {"i": i, "a": v} for i, v in enumerate(values)]
    return [values[doc["i"]] for doc in sort_documents(docs, sort)]


_MISSING = object()

SORTS = [
    ([3, 1.5, 2], [("a", 1)], [1.5, 2, 3], "numbers ascend across int and float"),
    ([3, 1.5, 2], [("a", -1)], [3, 2, 1.5], "descending reverses"),
    ([T0, False, [[1]], {"x": 1}, "a", 1, None, _MISSING], "a",
     [None, _MISSING, 1, "a", {"x": 1}, [[1]], False, T0],
     "types sort null, number, string, object, array, bool, date"),
    ([1, _MISSING, None], [("a", -1)], [1, _MISSING, None], "null and missing sort last descending"),
    ([None, []], "a", [[], None], "empty array sorts before null"),
    ([3, [5, 1]], "a", [[5, 1], 3], "array ascends by its smallest element"),
    ([3, [5, 1]], [("a", -1)], [[5, 1], 3], "array descends by its largest element"),
    ([[2, "x"], 3], "a", [[2, "x"], 3], "mixed array ascends by its smallest bson value"),
    (["b", "B", "a"], "a", ["B", "a", "b"], "strings sort by code point"),
    ([True, "z", False], "a", ["z", False, True], "bools sort after strings, false first"),
    ([{"x": 2}, {"x": 1, "y": 0}, {"x": 1}], "a", [{"x": 1}, {"x": 1, "y": 0}, {"x": 2}],
     "objects sort field by field"),
    ([2, 1.0, 1, 2.0], "a", [1.0, 1, 2, 2.0], "equal keys keep their input order"),
]


@pytest.mark.parametrize("values, sort, expected", [pytest.param(v, s, e, id=n) for v, s, e, n in SORTS])
def test_sort_follows_mongodb_order(values: list[Any], sort: Any, expected: list[Any]) -> None:
    assert _sorted_values(values, sort) == expected


def test_sort_reaches_dotted_paths_through_arrays_of_documents() -> None:
    docs = [{"n": 1, "a": [{"b": 9}, {"b": 4}]}, {"n": 2, "a": {"b": 5}}, {"n": 3, "a": [{"c": 1}]}]
    assert [d["n"] for d in sort_documents(docs, [("a.b", 1)])] == [3, 1, 2]


def test_sort_breaks_ties_with_the_second_key() -> None:
    docs = [{"a": 1, "b": 2}, {"a": 1, "b": 1}, {"a": 0, "b": 3}]
    assert sort_documents(docs, [("a", 1), ("b", -1)]) == [docs[2], docs[0], docs[1]]


def test_sort_keys_from_one_array_stay_correlated_as_in_the_server() -> None:
    first = {"a": [{"x": 1, "y": 9}, {"x": 2, "y": 0}]}
    second = {"a": [{"x": 1, "y": 5}]}
    assert sort_documents([first, second], [("a.x", 1), ("a.y", 1)]) == [second, first]


def test_sort_by_an_index_path_uses_that_element() -> None:
    docs = [{"a": [3, 0]}, {"a": [1, 9]}]
    assert sort_documents(docs, [("a.0", 1)]) == [docs[1], docs[0]]


def test_sort_refuses_parallel_arrays_like_the_server() -> None:
    with pytest.raises(ValidationError, match="parallel arrays"):
        sort_documents([{"a": [1, 2], "b": [3, 4]}], [("a", 1), ("b", 1)])


@pytest.mark.parametrize("spec", ["a", {"a": -1, "b": 1}, ["a", ("b", -1)], (("a", 1),), [["a", 1]]],
                         ids=["string", "dict", "mixed list", "tuple of pairs", "list of lists"])
def test_sort_accepts_pymongo_spec_forms(spec: Any) -> None:
    assert all(isinstance(field, str) and direction in (1, -1) for field, direction in check_sort(spec))


@pytest.mark.parametrize("spec", [[("a", 0)], [("a", 2)], [("a", True)], [("a", "asc")], ("a", 1),
                                  [("a", 1), ("a", -1)], [("", 1)], [("a.$", 1)], [(1, 1)], 5],
                         ids=["direction 0", "direction 2", "bool direction", "word direction",
                              "bare pair", "repeated field", "empty field", "dollar field",
                              "non-str field", "int spec"])
def test_sort_refuses_bad_specs_with_an_example_of_a_good_one(spec: Any) -> None:
    with pytest.raises(ValidationError, match=r"pass e\.g\. \[\('a', 1\)"):
        check_sort(spec)


@pytest.mark.parametrize("spec", [None, []], ids=["None", "empty list"])
def test_sort_without_keys_keeps_the_input_order(spec: Any) -> None:
    docs = [{"a": 2}, {"a": 1}]
    assert sort_documents(docs, spec) == docs


SORT_VALUES = st.lists(st.one_of(SCALARS, st.just(_MISSING)), max_size=8)


@PROPERTY
@given(values=SORT_VALUES, direction=st.sampled_from([1, -1]))
def test_sort_returns_a_permutation_in_order(values: list[Any], direction: int) -> None:
    result = _sorted_values(values, [("a", direction)])
    keys = [None if v is _MISSING else v for v in result]
    assert sorted(map(id, result)) == sorted(map(id, values)) and all(
        bson_compare(keys[i], keys[i + 1]) * direction <= 0 for i in range(len(keys) - 1))


@PROPERTY
@given(docs=st.lists(DOCS, max_size=6))
def test_sort_on_any_documents_is_a_stable_permutation(docs: list[dict[str, Any]]) -> None:
    once = sort_documents(docs, [("a", 1)])
    assert sorted(map(id, once)) == sorted(map(id, docs)) and sort_documents(once, [("a", 1)]) == once


# -- check_limit ----------------------------------------------------------------------------

@pytest.mark.parametrize("limit, expected", [(None, None), (0, 0), (5, 5), (np.int64(3), 3)],
                         ids=["None", "zero", "positive", "numpy int"])
def test_check_limit_accepts_none_and_non_negative_ints(limit: Any, expected: Any) -> None:
    assert check_limit(limit) == expected


@pytest.mark.parametrize("limit", [True, 1.0, "5"], ids=["bool", "float", "str"])
def test_check_limit_refuses_non_ints_naming_the_type(limit: Any) -> None:
    with pytest.raises(ArgumentTypeError, match=type(limit).__name__):
        check_limit(limit)


def test_check_limit_refuses_a_negative_limit() -> None:
    with pytest.raises(ValidationError, match="negative"):
        check_limit(-1)


def test_check_filter_copy_is_equal_to_a_deep_copy() -> None:
    original = {"a": {"$elemMatch": {"b": [1, {"c": T0}]}}, "$or": [{"d": None}]}
    assert check_filter(original) == copy.deepcopy(original)
