"""Validation of domain models and records: SignalStore's rules, minus its bugs.

Three kinds of domain model live in one namespace, told apart by ``schema_type``:

- a **metamodel** validates whole data-model documents;
- a **data model** (``schema_ref`` of records) validates whole records;
- a **property model** (a controlled-vocabulary term) validates one property value. Every
  record key must have one, except the system fields in :data:`RECORD_SYSTEM_FIELDS`; keys
  ending in ``_data_ref`` share the property model ``data_ref``.

Rules enforced here beyond SignalStore's meta-schema:

- ``json_schema`` must be plain JSON and a valid JSON Schema (Draft 7 unless its ``$schema``
  names another draft; Draft 4/6/7 also accept the type ``"datetime"``), with resolvable
  local ``$ref``; a data model needs a string ``metamodel_ref`` naming a live metamodel;
- every property a data model lists (top-level ``properties`` and ``required``) must have a
  property model when the data model is added, so no shipped data model is unusable;
- :func:`dependents` names the models that need a model to stay, so removing a metamodel or
  a property model that live data models use can be refused (SignalStore bug 13); and nothing
  is validated on read, so a change of vocabulary never makes stored records unreadable.

Validators are compiled once per ``json_schema`` (by object identity, then by canonical JSON).
A Draft 7 schema without ``$ref``, ``uniqueItems``, ``multipleOf``, ``dependencies``,
``patternProperties`` or ``additionalItems`` is also compiled to a Python predicate that
answers "valid?" in about a microsecond; jsonschema explains failures and validates the rest.
``format`` is an annotation, as in SignalStore (no format checker).
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from jsonschema import (  # type: ignore[import-untyped]
    Draft4Validator,
    Draft6Validator,
    Draft7Validator,
    Draft201909Validator,
    Draft202012Validator,
    validators,
)
from jsonschema import exceptions as js_exceptions
from jsonschema_specifications import REGISTRY as _SPECIFICATIONS  # type: ignore[import-untyped]
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT7, specification_with

from signalstore_es.domain.codec import fits_int64
from signalstore_es.domain.schema_compiler import compile_predicate as _try_fast
from signalstore_es.errors import ArgumentTypeError, ValidationError

Lookup = Callable[[str], "Mapping[str, Any] | None"]

SCHEMA_TYPES = ("metamodel", "data_model", "property_model")
#: Fields the store sets on models; accepted on input and dropped by :func:`check_model`.
MODEL_SYSTEM_FIELDS = frozenset({"version_timestamp", "time_of_save", "time_of_removal"})
#: Record fields that need no property model (a data model may still constrain them).
RECORD_SYSTEM_FIELDS = frozenset(
    {"schema_ref", "data_name", "version_timestamp", "has_file", "time_of_save", "time_of_removal"}
)
DATA_REF_SUFFIX = "_data_ref"
DATA_REF_MODEL = "data_ref"

_IDENTIFIER = r"^(?!.*__)[a-z][a-z0-9_]*[a-z0-9]\Z"  # keys.SCHEMA_NAME_PATTERN, no trailing \n
#: SignalStore's meta-schema for every domain model, made exact (``\Z``, not ``$``) and with
#: ``metamodel_ref`` required to be a string for data models.
MODEL_META_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema_name", "schema_title", "schema_description", "schema_type", "json_schema"],
    "properties": {
        "schema_name": {"type": "string", "pattern": _IDENTIFIER},
        "schema_title": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9 ]+[A-Za-z0-9]\Z"},
        "schema_description": {"type": "string", "pattern": r"^\S(.*\S)?\Z"},
        "schema_type": {"enum": list(SCHEMA_TYPES)},
        "metamodel_ref": {"type": ["string", "null"], "pattern": _IDENTIFIER},
        "json_schema": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"type": ["string", "array"], "items": {"type": "string"}}},
        },
    },
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"required": ["schema_type"], "properties": {"schema_type": {"const": "data_model"}}},
            "then": {"required": ["metamodel_ref"], "properties": {"metamodel_ref": {"type": "string"}}},
        },
        {
            "if": {"required": ["schema_type"],
                   "properties": {"schema_type": {"enum": ["metamodel", "data_model"]}}},
            "then": {"properties": {"json_schema": {"properties": {"type": {"const": "object"}}}}},
        },
    ],
}

_MODEL_HINTS = {
    "schema_name": "use lowercase letters, digits and single underscores, starting with a letter "
    "and ending with a letter or digit (e.g. 'spike_times')",
    "schema_title": "use letters, digits and spaces, at least 3 characters (e.g. 'Spike Times')",
    "schema_description": "use one non-empty line without leading or trailing whitespace",
    "schema_type": "use 'metamodel', 'data_model' or 'property_model'",
    "metamodel_ref": "name the metamodel that validates this model (required for data models)",
    "json_schema": "give a JSON Schema object with a 'type' ('object' for metamodels and data "
    "models)",
}
_MAX_MODEL_DEPTH = 32
_SHORT = reprlib.Repr()  # keyword arguments need Python 3.12
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxstring, _SHORT.maxother = 3, 6, 6, 60, 60


# --------------------------------------------------------------------------------- public API


def property_model_name(key: str) -> str:
    """Return the property model that validates record key ``key`` (``*_data_ref`` -> ``data_ref``)."""
    return DATA_REF_MODEL if key.endswith(DATA_REF_SUFFIX) else key


def check_model(model: Any, lookup: Lookup) -> dict[str, Any]:
    """Validate a domain model and return a normalized deep copy of it.

    Parameters
    ----------
    model
        The model dict: ``schema_name``, ``schema_title``, ``schema_description``,
        ``schema_type``, ``json_schema`` and, optionally, ``metamodel_ref``.
    lookup
        Returns the live model of a name, or None.

    Returns
    -------
    dict
        A copy without the system fields (version_timestamp, time_of_save, time_of_removal).

    Raises
    ------
    ArgumentTypeError
        ``model`` is not a mapping or ``lookup`` is not callable.
    ValidationError
        A rule is broken; the message names the model, the rule, the JSON path and the fix.
    """
    if not isinstance(model, Mapping):
        raise ArgumentTypeError(f"a domain model must be a dict, got {type(model).__name__}: "
                                f"{_short(model)}")
    _require_callable(lookup)
    name = model.get("schema_name")
    label = f"domain model {name!r}" if isinstance(name, str) else "domain model (no valid schema_name)"
    normalized: dict[str, Any] = _plain_json({k: v for k, v in model.items() if k not in MODEL_SYSTEM_FIELDS},
                             label, "$", 0)
    _check_meta_schema(normalized, label)
    _check_json_schema(normalized["json_schema"], label)
    _check_metamodel(normalized, label, lookup)
    if normalized["schema_type"] == "data_model":
        _check_terms(normalized, label, lookup)
    return normalized


def check_record(record: Any, lookup: Lookup) -> None:
    """Validate a normalized record against its data model and the vocabulary.

    Parameters
    ----------
    record
        A record dict as returned by ``normalize_document``.
    lookup
        Returns the live model of a name, or None. Return the same (unmutated) model objects
        for the same name, so compiled validators are found by identity.

    Raises
    ------
    ArgumentTypeError
        ``record`` is not a mapping or ``lookup`` is not callable.
    ValidationError
        The schema_ref is unknown, the record breaks its data model, or a property has no
        property model or breaks it. The message names the record, the property, the rule, the
        offending value and the fix.
    """
    if not isinstance(record, Mapping):
        raise ArgumentTypeError(f"a record must be a dict, got {type(record).__name__}: "
                                f"{_short(record)}")
    _require_callable(lookup)
    schema_ref = record.get("schema_ref")
    if not isinstance(schema_ref, str):
        raise ValidationError(f"{_record_label(record)} has no str schema_ref (got "
                              f"{_short(schema_ref)}); set schema_ref to the name of its data model")
    data_model = lookup(schema_ref)
    if data_model is None or data_model.get("schema_type") != "data_model":
        raise _unknown_schema_ref(record, schema_ref, data_model)
    if not _passes(data_model, record):
        _refuse(data_model, record, record, None)
    for key, value in record.items():
        if key in RECORD_SYSTEM_FIELDS:
            continue
        if type(key) is not str and not isinstance(key, str):
            raise ValidationError(f"{_record_label(record)}: property names must be str, got "
                                  f"{_short(key)}; rename the property")
        term = DATA_REF_MODEL if key.endswith(DATA_REF_SUFFIX) else key
        property_model = lookup(term)
        hit = _PROPERTY_CHECKS.get(id(property_model))
        if hit is None or hit[0] is not property_model:
            if property_model is None or property_model.get("schema_type") != "property_model":
                raise _missing_term(record, key, term, property_model)
            hit = _property_check(property_model)
        try:
            valid = hit[1](value)
        except _SCHEMA_FAILURES:
            valid = False  # _refuse runs jsonschema, which raises it again, with context
        if not valid:
            _refuse(property_model, value, record, key)


def dependents(schema_name: str, models: Iterable[Mapping[str, Any]]) -> list[str]:
    """Return the sorted names of the live models that need ``schema_name`` to stay.

    A model depends on ``schema_name`` when its ``metamodel_ref`` is ``schema_name``, or when
    it is a data model whose top-level ``properties`` or ``required`` list a property validated
    by the property model ``schema_name`` (``*_data_ref`` properties use ``data_ref``). Removing
    a model with dependents is refused, which fixes SignalStore's cascade on read (bug 13).
    Records never block a removal: they were validated when written and are not re-validated.
    Models with a ``time_of_removal`` are ignored.
    """
    found: set[str] = set()
    for model in models:
        name = model.get("schema_name")
        if name == schema_name or model.get("time_of_removal") is not None:
            continue
        if model.get("metamodel_ref") == schema_name or (
                model.get("schema_type") == "data_model" and schema_name in _terms_of(model)):
            found.add(str(name))
    return sorted(found)


# ------------------------------------------------------------------------------- model rules


def _check_meta_schema(model: dict[str, Any], label: str) -> None:
    error = _explain(_meta_check(), model)
    if error is None:
        return
    field, path = _error_field_and_path(error, "$")
    hint = _MODEL_HINTS.get(field, "remove it: a domain model has only schema_name, schema_title, "
                            "schema_description, schema_type, json_schema and metamodel_ref")
    raise ValidationError(f"{label} breaks the meta-schema rule {error.validator!r} at {path}: "
                          f"{_message(error)}; {hint}")


def _check_json_schema(json_schema: dict[str, Any], label: str) -> None:
    dialect = json_schema.get("$schema")
    meta = _meta_validator(dialect if isinstance(dialect, str) else None)
    if meta is None:
        raise ValidationError(f"{label}: json_schema has an unknown $schema {dialect!r} at "
                              "$.json_schema.$schema; remove $schema (Draft 7 is the default) or "
                              "name draft-04, -06, -07, 2019-09 or 2020-12")
    error = _explain(_MetaCheck(meta), json_schema, "the JSON Schema meta-schema")
    if error is not None:
        _, path = _error_field_and_path(error, "$.json_schema")
        raise ValidationError(f"{label}: json_schema is not a valid JSON Schema, rule "
                              f"{error.validator!r} at {path}: {_message(error)}; fix the schema "
                              "(types: array, boolean, integer, null, number, object, string, "
                              "datetime)")
    bad_ref = _unresolvable_ref(json_schema, dialect)
    if bad_ref is not None:
        path, ref = bad_ref
        raise ValidationError(f"{label}: json_schema breaks rule '$ref' at {path}: {ref!r} cannot "
                              "be resolved (remote schemas are never fetched); point it at a "
                              "local definition such as '#/definitions/name'")


def _check_metamodel(model: dict[str, Any], label: str, lookup: Lookup) -> None:
    ref = model.get("metamodel_ref")
    if ref is None:
        return
    metamodel = lookup(ref)
    if metamodel is None:
        raise ValidationError(f"{label}: metamodel_ref {ref!r} at $.metamodel_ref names no live "
                              f"model; add the metamodel {ref!r} first, or fix metamodel_ref")
    if metamodel.get("schema_type") != "metamodel":
        raise ValidationError(f"{label}: metamodel_ref {ref!r} at $.metamodel_ref names a "
                              f"{metamodel.get('schema_type')}, not a metamodel; point it at a "
                              "model whose schema_type is 'metamodel'")
    error = _explain(_model_check(metamodel, ref), model, f"metamodel {ref!r}")
    if error is not None:
        _, path = _error_field_and_path(error, "$")
        raise ValidationError(f"{label} does not satisfy its metamodel {ref!r}: rule "
                              f"{error.validator!r} at {path}: {_message(error)}; change the "
                              "model to fit the metamodel, or use another metamodel_ref")


def _check_terms(model: dict[str, Any], label: str, lookup: Lookup) -> None:
    listed = model["json_schema"].get("properties") or {}
    for name in _listed_properties(model["json_schema"]):
        term = property_model_name(name)
        found = lookup(term)
        if found is None or found.get("schema_type") != "property_model":
            path = _join("$.json_schema.properties", name) if name in listed else "$.json_schema.required"
            raise ValidationError(
                f"{label}: property {name!r} at {path} has no property model {term!r} in the "
                f"vocabulary, so no record could hold it; add a property model named {term!r} "
                f"first, or remove {name!r} from the data model")


def _listed_properties(json_schema: Any) -> list[str]:
    if not isinstance(json_schema, Mapping):
        return []
    names = list(json_schema.get("properties") or ()) + list(json_schema.get("required") or ())
    return [n for n in dict.fromkeys(names) if isinstance(n, str) and n not in RECORD_SYSTEM_FIELDS]


def _terms_of(model: Mapping[str, Any]) -> set[str]:
    return {property_model_name(n) for n in _listed_properties(model.get("json_schema"))}


def _plain_json(value: Any, label: str, path: str, depth: int) -> Any:
    """Deep-copy ``value`` as plain JSON (tuples become lists), refusing anything else."""
    if depth > _MAX_MODEL_DEPTH:
        raise ValidationError(f"{label}: {path} is nested deeper than {_MAX_MODEL_DEPTH} levels; "
                              "flatten it")
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        if not fits_int64(value):
            raise ValidationError(f"{label}: {path} holds the integer {value}, which does not fit in 64 "
                                  "bits (the store keeps 64-bit integers, as MongoDB does); write it as "
                                  "a float")
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain_json(v, label, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise ValidationError(f"{label}: {path} has the non-str key {_short(key)}; "
                                      "JSON object keys are strings")
        return {k: _plain_json(v, label, _join(path, k), depth + 1) for k, v in value.items()}
    raise ValidationError(f"{label}: {path} holds {_short(value)} ({type(value).__name__}); a "
                          "model holds only JSON values (str, number, bool, None, list, dict)")


# ------------------------------------------------------------------------------ record rules


#: id(property model) -> (the model, its compiled ``is_valid``): the per-property hot path.
#: Entries pin their model so ids stay unique; lookups return the same unmutated model objects.
_PROPERTY_CHECKS: dict[int, tuple[Any, Callable[[Any], bool]]] = {}


def _property_check(model: Mapping[str, Any]) -> tuple[Any, Callable[[Any], bool]]:
    entry = (model, _model_check(model, model.get("schema_name")).is_valid)
    if len(_PROPERTY_CHECKS) >= 4096:
        _PROPERTY_CHECKS.clear()
    _PROPERTY_CHECKS[id(model)] = entry
    return entry


def _passes(model: Mapping[str, Any], value: Any) -> bool:
    """The hot path: is ``value`` valid under ``model``'s json_schema? Builds no message."""
    schema = model.get("json_schema")
    hit = _BY_IDENTITY.get(id(schema))
    check = hit[1] if hit is not None and hit[0] is schema else _model_check(model, model.get("schema_name"))
    try:
        return check.is_valid(value)
    except _SCHEMA_FAILURES:
        return False  # _refuse runs jsonschema, which raises it again, with context


def _refuse(model: Mapping[str, Any], value: Any, record: Mapping[str, Any], key: str | None) -> None:
    """Raise the ValidationError explaining why ``value`` (the record when ``key`` is None) fails."""
    name = model.get("schema_name")
    error = _explain(_model_check(model, name), value,
                     f"{'data' if key is None else 'property'} model {name!r}")
    if error is None:
        return  # the fast path was stricter than jsonschema, which is the authority
    label = _record_label(record)
    if key is None:
        field, path = _error_field_and_path(error, "$")
        raise ValidationError(f"{label} breaks data model {name!r}: property {field!r}, rule "
                              f"{error.validator!r} at {path}: {_message(error)}; "
                              f"{_record_hint(error, field, name)}")
    _, path = _error_field_and_path(error, _join("$", key))
    raise ValidationError(f"{label}: property {key!r} = {_short(value)} breaks property model "
                          f"{name!r}, rule {error.validator!r} at {path}: {_message(error)}; use a "
                          f"value that satisfies property model {name!r}, or change the vocabulary")


def _record_hint(error: Any, field: str, name: Any) -> str:
    if error.validator == "required":
        return f"add the property {field!r} to the record"
    if error.validator == "additionalProperties":
        return f"remove the property {field!r} or list it in data model {name!r}"
    return f"change {field!r} to satisfy data model {name!r} (its json_schema)"


def _unknown_schema_ref(record: Mapping[str, Any], schema_ref: str, found: Any) -> ValidationError:
    label = _record_label(record)
    if found is None:
        return ValidationError(f"{label}: unknown schema_ref {schema_ref!r}; add its data model "
                               "first (a domain model with schema_type 'data_model')")
    return ValidationError(f"{label}: schema_ref {schema_ref!r} names a "
                           f"{found.get('schema_type')}, not a data model; set schema_ref to the "
                           "name of a data model")


def _missing_term(record: Mapping[str, Any], key: str, term: str, found: Any) -> ValidationError:
    label = _record_label(record)
    what = "no property model" if found is None else f"a {found.get('schema_type')}, not a property model,"
    via = f" (every '*{DATA_REF_SUFFIX}' property uses {term!r})" if term != key else ""
    return ValidationError(f"{label}: property {key!r} has {what} named {term!r} in the "
                           f"vocabulary{via}; add a property model named {term!r} to the "
                           "vocabulary, or remove the property")


def _record_label(record: Mapping[str, Any]) -> str:
    version = record.get("version_timestamp")
    shown = f", {version.isoformat()}" if isinstance(version, datetime) else ""
    return f"record ({_short(record.get('schema_ref'))}, {_short(record.get('data_name'))}{shown})"


# ---------------------------------------------------------------------- compiled validators


_SCHEMA_FAILURES = (Unresolvable, js_exceptions.SchemaError, js_exceptions.UnknownType,
                    RecursionError, TypeError, ValueError, re.error, AttributeError, KeyError)


class _SchemaCheck:
    """One json_schema, compiled: a fast ``is_valid`` and a jsonschema validator to explain."""

    __slots__ = ("is_valid", "validator")

    def __init__(self, schema: Any) -> None:
        cls = _validator_class(schema)
        self.validator = cls(schema)
        fast = _try_fast(schema) if cls is _record_validator(Draft7Validator) else None
        self.is_valid: Callable[[Any], bool] = fast or self.validator.is_valid


class _MetaCheck:
    """A prebuilt validator in the shape of :class:`_SchemaCheck` (no fast path)."""

    __slots__ = ("is_valid", "validator")

    def __init__(self, validator: Any) -> None:
        self.validator = validator
        self.is_valid = validator.is_valid


def _explain(check: _SchemaCheck | _MetaCheck, instance: Any, what: str = "a model") -> Any:
    """Return jsonschema's best error for ``instance``, or None when it is valid."""
    try:
        if check.is_valid(instance):
            return None
        return _explain_with(check.validator, instance)
    except _SCHEMA_FAILURES as err:
        raise ValidationError(f"the json_schema of {what} cannot be applied "
                              f"({type(err).__name__}: {_short(str(err))}); fix or replace that "
                              "model") from err


def _explain_with(validator: Any, instance: Any) -> Any:
    return js_exceptions.best_match(validator.iter_errors(instance))


def _model_check(model: Mapping[str, Any], name: Any) -> _SchemaCheck:
    schema = model.get("json_schema")
    if not isinstance(schema, (dict, bool)):
        raise ValidationError(f"model {name!r} has no usable json_schema ({_short(schema)}); "
                              "remove it and add it again")
    return _check_for(schema)


_BY_IDENTITY: dict[int, tuple[Any, _SchemaCheck]] = {}


def _check_for(schema: Any) -> _SchemaCheck:
    hit = _BY_IDENTITY.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    try:
        text = json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValidationError(f"a stored json_schema is not plain JSON ({err}); re-add the model") from err
    check = _check_for_text(text)
    if len(_BY_IDENTITY) >= 4096:  # bounded: entries pin their schema so ids stay unique
        _BY_IDENTITY.clear()
    _BY_IDENTITY[id(schema)] = (schema, check)
    return check


@functools.lru_cache(maxsize=4096)
def _check_for_text(canonical: str) -> _SchemaCheck:
    return _SchemaCheck(json.loads(canonical))


@functools.cache
def _meta_check() -> _SchemaCheck:
    return _SchemaCheck(MODEL_META_SCHEMA)


def _is_datetime(_: Any, instance: Any) -> bool:
    return isinstance(instance, datetime)


_DIALECTS = {(c.META_SCHEMA.get("$id") or c.META_SCHEMA["id"]).rstrip("#"): c for c in (
    Draft4Validator, Draft6Validator, Draft7Validator, Draft201909Validator, Draft202012Validator)}


@functools.cache
def _record_validator(base: Any) -> Any:
    """``base`` extended with the type ``"datetime"``, like SignalStore's CustomValidator."""
    return validators.extend(base, type_checker=base.TYPE_CHECKER.redefine("datetime", _is_datetime))


def _validator_class(schema: Any) -> Any:
    dialect = schema.get("$schema") if isinstance(schema, dict) else None
    base = _DIALECTS.get(dialect.rstrip("#"), Draft7Validator) if isinstance(dialect, str) else Draft7Validator
    return _record_validator(base)


@functools.lru_cache(maxsize=16)
def _meta_validator(dialect: str | None) -> Any:
    """A validator of schemas of ``dialect`` (None: Draft 7), or None for unknown dialects."""
    base = _DIALECTS.get(dialect.rstrip("#")) if dialect is not None else Draft7Validator
    if base is None:
        return None
    meta = copy.deepcopy(base.META_SCHEMA)
    simple_types = meta.get("definitions", {}).get("simpleTypes")
    if simple_types is not None:  # Draft 4/6/7: allow SignalStore's "datetime" type
        simple_types["enum"].append("datetime")
        meta["$id" if "$id" in meta else "id"] = "urn:signalstore-es:meta-schema-with-datetime#"
    return base(meta, format_checker=base.FORMAT_CHECKER)


_SUBSCHEMA = frozenset({"additionalItems", "additionalProperties", "contains", "else", "if",
                        "items", "not", "propertyNames", "then", "unevaluatedItems",
                        "unevaluatedProperties", "contentSchema"})
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "items", "prefixItems"})
_SUBSCHEMA_MAPS = frozenset({"definitions", "$defs", "properties", "patternProperties",
                             "dependencies", "dependentSchemas"})


def _unresolvable_ref(schema: dict[str, Any], dialect: Any) -> tuple[str, str] | None:
    """Return ``(path, ref)`` of the first ``$ref`` that cannot be resolved, if any.

    Skipped when a subschema has its own ``$id`` (which moves the base URI); such schemas are
    still safe, because an unresolvable reference met while validating raises ValidationError.
    """
    refs = list(_walk_refs(schema, "$.json_schema", 0))
    if not refs or any(ref is None for _, ref in refs):
        return None
    spec = specification_with(dialect, default=DRAFT7) if isinstance(dialect, str) else DRAFT7
    resolver = _SPECIFICATIONS.resolver_with_root(spec.create_resource(schema))
    for path, ref in refs:
        try:
            resolver.lookup(ref)
        except Unresolvable:
            return path, str(ref)
    return None


def _walk_refs(schema: Any, path: str, depth: int) -> Iterable[tuple[str, str | None]]:
    """Yield ``(path, ref)`` of every ``$ref``, and ``(path, None)`` for a nested ``$id``."""
    if not isinstance(schema, dict) or depth > 64:
        return
    if depth and isinstance(schema.get("$id", schema.get("id")), str):
        yield path, None
    for keyword, value in schema.items():
        here = _join(path, keyword)
        if keyword == "$ref" and isinstance(value, str):
            yield here, value
        elif keyword in _SUBSCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                yield from _walk_refs(sub, _join(here, name), depth + 1)
        elif keyword in _SUBSCHEMA_LISTS and isinstance(value, list):
            for index, sub in enumerate(value):
                yield from _walk_refs(sub, f"{here}[{index}]", depth + 1)
        elif keyword in _SUBSCHEMA:
            yield from _walk_refs(value, here, depth + 1)


# --------------------------------------------------------------------------- error rendering


def _error_field_and_path(error: Any, prefix: str) -> tuple[str, str]:
    """Return the top-level field an error is about and the JSON path of the offending spot."""
    parts = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [p for p in error.validator_value if p not in error.instance]
        parts += missing[:1]
    elif error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        parts += [k for k in error.instance if k not in known][:1]
    path = prefix
    for part in parts:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, str(part))
    return (str(parts[0]) if parts else "(the whole document)"), path


def _join(path: str, key: Any) -> str:
    key = str(key)
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", key) else f"{path}[{key!r}]"


def _message(error: Any) -> str:
    text = str(error.message)
    return text if len(text) <= 200 else text[:197] + "..."


def _short(value: Any) -> str:
    text = _SHORT.repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _require_callable(lookup: Any) -> None:
    if not callable(lookup):
        raise ArgumentTypeError(f"lookup must be callable (name -> model or None), got "
                                f"{type(lookup).__name__}")
