"""``uow.memory``: transient in-process objects, rolled back with the unit of work.

Objects live in the ``memory_store`` mapping given to the provider (one sub-mapping per
project), never in the log. Changes made inside a unit of work are visible to it at once and
reach the shared store only when it commits.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from signalstore_es._logging import get_logger, logged_call
from signalstore_es.domain.keys import check_data_name, check_schema_name
from signalstore_es.errors import AlreadyExistsError, ArgumentTypeError, NotFoundError, ValidationError

log = get_logger(__name__)
_REMOVED = object()


class MemoryRepository:
    def __init__(self, store: MutableMapping[Any, Any], project: str) -> None:
        self._committed: MutableMapping[tuple[str, str], Any] = store.setdefault(project, {})
        self._pending: dict[tuple[str, str], Any] = {}
        self._project = project

    def add(self, schema_ref: str, object_name: str, obj: Any) -> None:
        """Stage ``obj`` under ``(schema_ref, object_name)``; AlreadyExistsError if taken."""
        tag = _tag(schema_ref, object_name)
        with logged_call(log, "memory.add", project=self._project, key=tag):
            if self.exists(*tag):
                raise AlreadyExistsError(f"memory object {tag} already exists; remove it first", key=tag)
            self._pending[tag] = obj

    def get(self, schema_ref: str, object_name: str) -> Any:
        """The object, or None."""
        tag = _tag(schema_ref, object_name)
        found = self._pending.get(tag, self._committed.get(tag))
        return None if found is _REMOVED else found

    def exists(self, schema_ref: str, object_name: str) -> bool:
        tag = _tag(schema_ref, object_name)
        found = self._pending.get(tag, self._committed.get(tag, _REMOVED))
        return found is not _REMOVED

    def remove(self, schema_ref: str, object_name: str) -> None:
        tag = _tag(schema_ref, object_name)
        with logged_call(log, "memory.remove", project=self._project, key=tag):
            if not self.exists(*tag):
                raise NotFoundError(f"memory object {tag} does not exist", key=tag)
            self._pending[tag] = _REMOVED

    def has_changes(self) -> bool:
        return bool(self._pending)

    def commit(self) -> None:
        for tag, obj in self._pending.items():
            if obj is _REMOVED:
                self._committed.pop(tag, None)
            else:
                self._committed[tag] = obj
        self._pending.clear()

    def rollback(self) -> None:
        self._pending.clear()


def _tag(schema_ref: Any, object_name: Any) -> tuple[str, str]:
    """Memory names follow the data_name rule, so one name never has two spellings."""
    check_schema_name(schema_ref, argument="schema_ref")
    if not isinstance(object_name, str) or not object_name:
        raise ArgumentTypeError(f"object_name must be a non-empty str, got {object_name!r}")
    try:
        check_data_name(object_name)
    except ValidationError as err:
        raise ValidationError(str(err).replace("data_name=", "object_name=", 1)) from None
    return schema_ref, object_name
