"""The state one unit of work shares with its repositories."""

from __future__ import annotations

import logging
from typing import Any

import attrs

from signalstore_es._logging import get_logger, logged_call
from signalstore_es.api.committer import Committer
from signalstore_es.api.staging import Staging
from signalstore_es.ports.blob_store import BlobStore
from signalstore_es.ports.storage import StorageBackend

#: internal fields of view rows start with "_" (user fields cannot, by the naming rules)
INTERNAL_PREFIX = "_"


@attrs.define
class WorkContext:
    project: str
    actor: str
    backend: StorageBackend
    blobs: BlobStore
    registry: Any  #: signalstore_es.adapters.formats.registry.AdapterRegistry
    committer: Committer
    staging: Staging = attrs.field(factory=Staging)
    as_of: int | None = None  #: set on read-only time-travel views

    def log_context(self) -> dict[str, Any]:
        return {"project": self.project, "actor": self.actor}


def public_view(row: dict[str, Any]) -> dict[str, Any]:
    """A view row as users see it: without the internal ``_`` fields."""
    return {k: v for k, v in row.items() if not k.startswith(INTERNAL_PREFIX)}


class _Quiet:
    """Stands in for :func:`~signalstore_es._logging.logged_call` when its line would be dropped."""

    __slots__ = ()

    def __enter__(self) -> dict[str, Any]:
        return {}

    def __exit__(self, *exc_info: Any) -> None:
        return None


_QUIET = _Quiet()


class CallLog:
    """``logged_call`` for one module, skipped when the stdlib logger has INFO disabled.

    The structlog chain starts with ``filter_by_level``, so such a line would be dropped after
    its payload was built; this asks the (cached) stdlib level first. The library still never
    configures logging: the application's level decides, as before.
    """

    def __init__(self, name: str) -> None:
        self.log = get_logger(name)
        self._stdlib = logging.getLogger(name)

    def enabled(self) -> bool:
        """Whether this module's lines are emitted (build costly fields only then)."""
        return self._stdlib.isEnabledFor(logging.INFO)

    def call(self, operation: str, context: WorkContext | None = None, **fields: Any) -> Any:
        if not self._stdlib.isEnabledFor(logging.INFO):
            return _QUIET
        if context is not None:
            fields = {**fields, **context.log_context()}
        return logged_call(self.log, operation, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.log.warning(event, **fields)
