"""The state one unit of work shares with its repositories."""

from __future__ import annotations

from typing import Any, Optional

import attrs

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
    as_of: Optional[int] = None  #: set on read-only time-travel views

    def log_context(self) -> dict[str, Any]:
        return {"project": self.project, "actor": self.actor}


def public_view(row: dict[str, Any]) -> dict[str, Any]:
    """A view row as users see it: without the internal ``_`` fields."""
    return {k: v for k, v in row.items() if not k.startswith(INTERNAL_PREFIX)}
