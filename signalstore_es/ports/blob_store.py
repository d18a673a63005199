"""The blob port: content-addressed, write-once storage of data objects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from signalstore_es.ports.data_adapter import DataAdapter, WrittenBlob


class BlobStore(Protocol):
    """Blobs addressed by the digest of their logical content, published atomically."""

    def put(self, obj: Any, adapter: DataAdapter, *,
            recorded_digest: Callable[[str], str | None] | None = None) -> WrittenBlob:
        """Write ``obj`` unless a complete blob with its address exists; return its reference.

        ``recorded_digest(address)``, if given, returns the stored-bytes digest the log recorded
        when the blob at ``address`` was written (None or "" if unknown); a store may use it for
        an existing blob instead of reading the blob again.
        """
        ...

    def get(self, address: str, extension: str, adapter: DataAdapter, *, lazy: bool = False) -> Any:
        """Load the object stored at ``address``."""
        ...

    def exists(self, address: str, extension: str) -> bool: ...

    def delete(self, address: str, extension: str) -> None: ...

    def iter_blobs(self) -> Iterator[tuple[str, str, float]]:
        """Every complete blob as ``(address, extension, modified epoch seconds)``."""
        ...
