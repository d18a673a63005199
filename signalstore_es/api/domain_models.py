"""``uow.domain_models``: JSON-schema data models, metamodels and the controlled vocabulary."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from signalstore_es.api.context import CallLog, WorkContext, public_view
from signalstore_es.api.time_travel import context_at, require_writable
from signalstore_es.domain.codec import canonical_json
from signalstore_es.domain.events import DomainModelAdded, DomainModelRemoved
from signalstore_es.domain.keys import check_schema_name
from signalstore_es.domain.query import apply_projection, check_filter
from signalstore_es.domain.validation import check_model, dependents
from signalstore_es.errors import AlreadyExistsError, NotFoundError, ValidationError

calls = CallLog(__name__)
VIEW = "domain_models"
_LIVE = {"time_of_removal": None}


class DomainModelRepository:
    """Models are validated against SignalStore's meta-schema rules when added."""

    def __init__(self, context: WorkContext,
                 cache: dict[str, dict[str, Any] | None] | None = None) -> None:
        self._context = context
        #: committed models by name (None: no live model), as of the unit of work's base seq;
        #: the unit of work keeps it across its commits (see ``UnitOfWork.commit``)
        self._cache: dict[str, dict[str, Any] | None] = {} if cache is None else cache

    def get(self, schema_name: str, as_of: Any = None) -> dict[str, Any] | None:
        """The live model named ``schema_name`` (now, or ``as_of`` a seq or instant), or None."""
        check_schema_name(schema_name)
        with calls.call("domain_models.get", self._context, schema_name=schema_name, as_of=as_of):
            if as_of is None:
                return self._lookup(schema_name)
            return _committed_model(context_at(self._context, as_of), schema_name)

    def exists(self, schema_name: str) -> bool:
        """Whether a live model named ``schema_name`` exists (staged ones included)."""
        check_schema_name(schema_name)
        with calls.call("domain_models.exists", self._context, schema_name=schema_name):
            return self._lookup(schema_name) is not None

    def find(self, filter: Mapping[str, Any] | None = None,
             projection: Mapping[str, Any] | None = None, as_of: Any = None) -> list[dict[str, Any]]:
        """Live committed models matching a MongoDB-syntax ``filter`` (now, or ``as_of``)."""
        checked = check_filter(filter)
        with calls.call("domain_models.find", self._context, as_of=as_of) as extra:
            context = context_at(self._context, as_of)
            rows = context.backend.find_rows(VIEW, {"$and": [checked, _LIVE]} if checked else _LIVE,
                                             as_of=context.as_of)
            extra["count"] = len(rows)
            return [public_view(apply_projection(r, projection)) for r in rows]

    def add(self, model: Mapping[str, Any]) -> None:
        """Validate ``model`` and stage it; it is stored when the unit of work commits.

        Raises
        ------
        ValidationError
            If the model breaks a meta-schema rule or its metamodel rejects it.
        AlreadyExistsError
            If a live model with the same ``schema_name`` exists.
        """
        require_writable(self._context)
        with calls.call("domain_models.add", self._context) as extra:
            checked = check_model(model, self._lookup)
            name = checked["schema_name"]
            extra["schema_name"] = name
            if self._lookup(name) is not None:
                raise AlreadyExistsError(f"domain model {name!r} already exists; remove it first to "
                                         "replace it", key=name)
            body = {k: v for k, v in checked.items() if k != "json_schema"}
            text = canonical_json(checked["json_schema"]).decode("utf-8")
            self._context.staging.stage(DomainModelAdded(schema_name=name, model=body, json_schema=text))
            self._context.staging.models[name] = {**body, "json_schema": json.loads(text),
                                                   "version_timestamp": 0}

    def remove(self, schema_name: str) -> None:
        """Stage the removal of a live model.

        A metamodel still referenced by live data models cannot be removed (it would make them
        unusable): remove those first.
        """
        require_writable(self._context)
        check_schema_name(schema_name)
        with calls.call("domain_models.remove", self._context, schema_name=schema_name):
            if self._lookup(schema_name) is None:
                raise NotFoundError(f"domain model {schema_name!r} does not exist", key=schema_name)
            users = dependents(schema_name, self.find())
            if users:
                raise ValidationError(f"domain model {schema_name!r} is still used by {users}; "
                                      "remove those first")
            self._context.staging.stage(DomainModelRemoved(schema_name=schema_name))
            self._context.staging.models[schema_name] = None

    def lookup(self, schema_name: str) -> dict[str, Any] | None:
        """The model validation should use (staged or committed), without logging.

        Staged models first, then committed ones (cached: validation asks per property; a
        model changed meanwhile by another writer is caught as a conflict at commit)."""
        staged = self._context.staging.models
        if staged and schema_name in staged:
            return staged[schema_name]
        try:
            return self._cache[schema_name]
        except KeyError:
            found = self._cache[schema_name] = _committed_model(self._context, schema_name)
            return found

    _lookup = lookup


def _committed_model(context: WorkContext, schema_name: str) -> dict[str, Any] | None:
    rows = context.backend.find_rows(VIEW, {"schema_name": schema_name, **_LIVE},
                                     as_of=context.as_of, limit=1)
    return public_view(rows[0]) if rows else None
