"""An fsspec filesystem that fails on demand, for storage-fault tests.

:class:`FaultyFileSystem` is a :class:`~fsspec.implementations.memory.MemoryFileSystem` whose
writes go through :meth:`_open` and ``pipe_file`` and whose publishes go through ``mv``, for
both blob formats (netCDF is uploaded through ``open``; Zarr writes each file with
``pipe_file``). :meth:`arm` makes the next operations fail in one of :data:`FAULTS`;
:meth:`disarm` heals it. Instances are never shared (fsspec would cache them otherwise).
"""

from __future__ import annotations

import errno
import io
from typing import Any

from fsspec.implementations.memory import MemoryFileSystem

#: fault -> (what the test expects the error message to mention)
FAULTS = {
    "permission_denied": "Permission denied",
    "disk_full": "No space left on device",
    "io_error_after_some_bytes": "Input/output error",
    "publish_fails": "Input/output error",
    "metadata_lookup_fails": "Input/output error",
}
BYTES_BEFORE_FAILURE = 1000


class FaultyFileSystem(MemoryFileSystem):
    """In-memory files that fail on demand (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(skip_instance_cache=True)
        self.fault: str | None = None
        self.budget = 0  #: bytes that may still be written before the fault strikes

    def arm(self, fault: str) -> None:
        assert fault in FAULTS, fault
        self.fault = fault
        self.budget = BYTES_BEFORE_FAILURE if fault == "io_error_after_some_bytes" else 0

    def disarm(self) -> None:
        self.fault = None

    # -- writing ---------------------------------------------------------------------------
    def _open(self, path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
        is_write = any(flag in mode for flag in "wax+")
        if is_write and self.fault == "permission_denied":
            raise PermissionError(errno.EACCES, "Permission denied", path)
        handle = super()._open(path, mode, *args, **kwargs)
        if is_write and self.fault in ("disk_full", "io_error_after_some_bytes"):
            return _FailingWriter(handle, self)
        return handle

    def pipe_file(self, path: str, value: bytes, *args: Any, **kwargs: Any) -> None:
        with self.open(path, "wb") as handle:
            handle.write(value)

    def mv(self, path1: str, path2: str, *args: Any, **kwargs: Any) -> None:
        if self.fault == "publish_fails":
            raise OSError(errno.EIO, "Input/output error", path2)
        super().mv(path1, path2, *args, **kwargs)

    # -- looking up ------------------------------------------------------------------------
    def isfile(self, path: str) -> bool:
        self._lookup(path)
        return bool(super().isfile(path))

    def exists(self, path: str, **kwargs: Any) -> bool:
        self._lookup(path)
        return bool(super().exists(path, **kwargs))

    def _lookup(self, path: str) -> None:
        if self.fault == "metadata_lookup_fails":
            raise OSError(errno.EIO, "Input/output error", path)


class _FailingWriter(io.RawIOBase):
    """Passes writes through while the filesystem's byte budget lasts, then fails."""

    def __init__(self, inner: Any, filesystem: FaultyFileSystem) -> None:
        super().__init__()
        self._inner = inner
        self._filesystem = filesystem
        self._error = (OSError(errno.ENOSPC, "No space left on device") if filesystem.fault == "disk_full"
                       else OSError(errno.EIO, "Input/output error"))

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        chunk = data[:self._filesystem.budget]
        if chunk:
            self._inner.write(chunk)
            self._filesystem.budget -= len(chunk)
        if len(chunk) < len(data):
            raise self._error
        return len(chunk)

    def close(self) -> None:
        self._inner.close()
        super().close()
