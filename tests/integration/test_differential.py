"""The two backends give the same answers: the same random histories replayed on SQLite and
MongoDB, then random filters from the embedded subset, must find the same records."""

from __future__ import annotations

import tempfile
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalstore_es import UnitOfWorkProvider

pytestmark = pytest.mark.mongo

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _model(name, schema_type, json_schema, **extra):
    return {"schema_name": name, "schema_title": name.replace("_", " ").title(),
            "schema_description": f"The {name} model.", "schema_type": schema_type,
            "json_schema": json_schema, **extra}


MODELS = [
    _model("open_metamodel", "metamodel", {"type": "object"}),
    _model("tags", "property_model", {"type": "array"}),
    _model("score", "property_model", {"type": "number"}),
    _model("label", "property_model", {"type": "string"}),
    _model("meta", "property_model", {"type": "object"}),
    _model("flag", "property_model", {"type": "boolean"}),
    _model("seen_at", "property_model", {"type": "datetime"}),
    _model("observation", "data_model", {"type": "object"}, metamodel_ref="open_metamodel"),
]

LABELS = ["a", "b", "B", "ab", ""]
scalars = st.one_of(st.integers(-3, 3), st.floats(-3, 3, allow_nan=False), st.sampled_from(LABELS),
                    st.booleans(), st.none(), st.integers(0, 3).map(lambda d: T0 + timedelta(days=d)))
record_fields = st.fixed_dictionaries({}, optional={
    "tags": st.lists(st.sampled_from(LABELS) | st.integers(0, 3), max_size=3),
    "score": st.integers(-3, 3) | st.floats(-3, 3, allow_nan=False),
    "label": st.sampled_from(LABELS),
    "meta": st.fixed_dictionaries({}, optional={"k": st.integers(0, 2) | st.sampled_from(LABELS),
                                                "n": st.lists(st.integers(0, 2), max_size=2)}),
    "flag": st.booleans(),
    "seen_at": st.integers(0, 3).map(lambda d: T0 + timedelta(days=d)),
})
operations = st.lists(st.tuples(st.sampled_from(["add", "add", "remove"]), st.integers(0, 5), record_fields),
                      min_size=1, max_size=12)

FIELDS = ["tags", "score", "label", "meta", "meta.k", "meta.n", "flag", "seen_at", "data_name", "nothing"]
comparison = st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"])


@st.composite
def conditions(draw):
    field = draw(st.sampled_from(FIELDS))
    kind = draw(st.sampled_from(["eq", "cmp", "in", "nin", "exists", "not", "size", "all"]))
    value = draw(scalars)
    if kind == "eq":
        return {field: value}
    if kind == "cmp":
        return {field: {draw(comparison): value}}
    if kind in ("in", "nin", "all"):
        return {field: {f"${kind}": draw(st.lists(scalars, min_size=1, max_size=3))}}
    if kind == "exists":
        return {field: {"$exists": draw(st.booleans())}}
    if kind == "size":
        return {field: {"$size": draw(st.integers(0, 3))}}
    return {field: {"$not": {draw(comparison): value}}}


filters = st.recursive(conditions(), lambda inner: st.sampled_from(["$and", "$or", "$nor"]).flatmap(
    lambda op: st.lists(inner, min_size=1, max_size=3).map(lambda parts: {op: parts})), max_leaves=4)


def _replay(provider, project, ops):
    with provider(project) as uow:
        for model in MODELS:
            uow.domain_models.add(model)
        uow.commit()
        for action, n, fields in ops:
            name = f"o{n}"
            if action == "add" and not uow.data.exists("observation", name):
                uow.data.add({"schema_ref": "observation", "data_name": name, **fields})
            elif action == "remove" and uow.data.exists("observation", name):
                uow.data.remove("observation", name)
            uow.commit()


@pytest.fixture(scope="module")
def mongo_provider(mongo_server, tmp_path_factory):
    import fsspec
    from fsspec.implementations.dirfs import DirFileSystem
    from pymongo import MongoClient

    client = MongoClient(mongo_server.uri)
    blobs = tmp_path_factory.mktemp("diff-blobs")
    provider = UnitOfWorkProvider(mongo_client=client, filesystem=DirFileSystem(str(blobs), fsspec.filesystem("file")))
    yield provider, client
    provider.close()
    client.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=operations, queries=st.lists(filters, min_size=1, max_size=6))
def test_both_backends_find_the_same_records(mongo_provider, ops, queries):
    provider, client = mongo_provider
    project = f"d{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory() as root:
        embedded = UnitOfWorkProvider.embedded(root)
        try:
            _replay(embedded, project, ops)
            _replay(provider, project, ops)
            with embedded(project) as a, provider(project) as b:
                for query in queries:
                    assert sorted(r["data_name"] for r in a.data.find(query)) == \
                        sorted(r["data_name"] for r in b.data.find(query)), query
        finally:
            embedded.close()
            client.drop_database(project)
