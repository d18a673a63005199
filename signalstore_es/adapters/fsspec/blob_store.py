"""Content-addressed, write-once blobs on any fsspec filesystem.

Layout: ``<project>/blobs/<algorithm>/<hex[0:2]>/<hex[2:4]>/<hex><extension>``.

Why publishing is safe:

* An object is written under a temporary sibling ``<path>.tmp-<uuid hex>`` (or, while its
  address is unknown, ``<root>/staging/pending<ext>.tmp-<uuid hex>``), never at its final
  path; a crash leaves only a temporary, which :meth:`FsspecBlobStore.iter_temporaries`
  reports to ``gc``. On failure the temporary is removed and ``StorageError`` raised.
* A single file is published by one rename. On local disk it is fsync'ed, then hard-linked to
  its final name, which fails rather than replace, so a published blob is never overwritten.
  Elsewhere (memory, S3, ...) it is moved only if the final path is still free; racing writers
  of one address hold the same logical content, so whichever move lands last is correct.
* A directory (Zarr) is a blob only once ``<path>/.complete`` exists, written last. On local
  disk the fsync'ed tree is renamed in one atomic step that refuses a non-empty target (the
  tree found there arrived whole by the same rename; at most its marker is missing). Elsewhere
  files are moved one by one and the marker follows the last, so it never precedes its files.

Dedup: ``put`` asks the adapter for the address first when that is cheap (in-memory data hash
at GB/s without writing) and writes nothing if a complete blob exists; the write then hashes
again while streaming and must agree, which catches an object mutated during ``put``. For
lazy (dask-backed) objects an address first would compute the data twice, so they are staged
while hashed, and the staged copy is dropped if the blob already exists.

Stored-bytes digests (``WrittenBlob.file_digest``): of a new blob on local disk, computed from
the temporary while it is fsync'ed (the bytes that are then published by rename); elsewhere,
read back after publishing. For an existing blob (dedup) the digest recorded when it was
written is reused when the caller supplies it (``put(..., recorded_digest=...)``, from the
log) or this process digested the unchanged file before (:data:`~.digest.DIGESTS`);
otherwise the blob is read and hashed again.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import fsspec
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem

from signalstore_es.adapters.fsspec.digest import DIGESTS, file_digest, local_digest, sync_and_digest
from signalstore_es.adapters.fsspec.local import MARKER_NAME, publish_local_file, publish_local_tree, touch
from signalstore_es.domain.redaction import scrub
from signalstore_es.errors import (
    IntegrityError,
    NotFoundError,
    SignalStoreError,
    StorageError,
    ValidationError,
)
from signalstore_es.ports.data_adapter import DataAdapter, WrittenBlob

ADDRESS_ALGORITHM = "blake3"
_ADDRESS_RE = re.compile(rf"^{ADDRESS_ALGORITHM}:([0-9a-f]{{64}})$")
_EXTENSION_RE = re.compile(r"^(?:\.[A-Za-z0-9_+-]{1,16}){0,3}$")
_TEMP_RE = re.compile(r"\.tmp-[0-9a-f]{32}$")
_LEAF_RE = re.compile(r"^([0-9a-f]{64})(.*)$")
_PREFIX_RE = re.compile(r"^[0-9a-f]{2}$")
T = TypeVar("T")


def validate_address(address: Any) -> str:
    """Return the hex digest of ``address`` or raise ValidationError (before any path is built)."""
    match = _ADDRESS_RE.match(address) if isinstance(address, str) else None
    if match is None:
        raise ValidationError(f"malformed blob address {address!r}: expected "
                              f"'{ADDRESS_ALGORITHM}:' followed by 64 lowercase hex digits")
    return match.group(1)


def validate_extension(extension: Any) -> str:
    """Return ``extension`` if it is empty or like ``.nc`` / ``.tar.gz``; else raise ValidationError."""
    if not isinstance(extension, str) or not _EXTENSION_RE.match(extension):
        raise ValidationError(f"malformed blob extension {extension!r}: expected '' or up to "
                              "three parts like '.nc' of letters, digits, '_', '+' or '-'")
    return extension


def local_path(fs: fsspec.AbstractFileSystem, path: str) -> str | None:
    """The OS path of ``path`` if ``fs`` is plain local disk (possibly under DirFileSystem).

    Exact types only: a subclass may change how bytes are written, so it is never bypassed.
    """
    while type(fs) is DirFileSystem:
        path, fs = fs._join(path), fs.fs  # DirFileSystem's own root prefixing and '..' guard
    return str(LocalFileSystem._strip_protocol(path)) if type(fs) is LocalFileSystem else None


class FsspecBlobStore:
    """The :class:`~signalstore_es.ports.BlobStore` of one project on an fsspec filesystem."""

    def __init__(self, fs: fsspec.AbstractFileSystem, project: str, *, durable: bool = True) -> None:
        """``durable=False`` skips the fsyncs that make a blob survive a power loss (not an
        application crash, which leaves written bytes in the OS page cache): the blob-side
        match of the embedded backend's ``durability="normal"``."""
        parts = project.split("/") if isinstance(project, str) else [""]
        if any(part in ("", ".", "..") for part in parts):
            raise ValidationError(f"project {project!r} cannot be a blob directory: use a "
                                  "non-empty name without '.', '..' or empty path segments")
        self._fs = fs
        self.project = project
        self._durable = durable
        self.root = f"{project}/blobs/{ADDRESS_ALGORITHM}"

    def __repr__(self) -> str:
        return f"<FsspecBlobStore {type(self._fs).__name__} root={self.root!r}>"

    def blob_path(self, address: str, extension: str) -> str:
        """The final path of a blob; validates both parts first."""
        digest = validate_address(address)
        return f"{self.root}/{digest[:2]}/{digest[2:4]}/{digest}{validate_extension(extension)}"

    # -- writing ---------------------------------------------------------------------------
    def put(self, obj: Any, adapter: DataAdapter, *,
            recorded_digest: Callable[[str], str | None] | None = None) -> WrittenBlob:
        """Write ``obj`` unless a complete blob with its address exists; return its reference.

        Parameters
        ----------
        obj, adapter
            The object and the data adapter that stores it.
        recorded_digest : callable, optional
            ``recorded_digest(address)`` gives the stored-bytes digest recorded (in the log)
            when the blob at ``address`` was written, or None/"" if unknown. Used only if the
            blob exists, instead of reading and hashing it again.

        Raises
        ------
        ValidationError
            If the adapter refuses the object (nothing is left behind).
        IntegrityError
            If the object changed between hashing and writing (nothing is published).
        StorageError
            If writing or publishing fails; temporaries are removed, nothing becomes visible.
        """
        is_cheap = getattr(adapter, "is_address_cheap", lambda _obj: True)(obj)
        address = adapter.content_address(obj) if is_cheap else None
        if address is not None:
            path = self.blob_path(address, adapter.extension)
            if self._is_complete(path, adapter.is_directory):
                try:
                    return self._guarded(path, lambda: self._existing(obj, address, path, adapter,
                                                                      recorded_digest))
                except _ClaimedByGc:
                    pass  # gc took this old orphan a moment ago: write the content again
        return self._write_and_publish(obj, adapter, address, recorded_digest)

    def file_digest(self, address: str, extension: str) -> str:
        """``blake3:<hex>`` of the stored bytes (a directory: of its files' paths and bytes).

        Recorded in the log beside the logical address, so that ``verify`` detects any
        changed byte, including bytes no reader would notice (padding, unused metadata).
        Always reads the bytes (never a remembered digest).
        """
        path = self.blob_path(address, extension)
        local = local_path(self._fs, path)
        if local is not None:
            return self._guarded(path, lambda: local_digest(local))
        return self._guarded(path, lambda: file_digest(self._fs, path))

    def _write_and_publish(self, obj: Any, adapter: DataAdapter, expected: str | None,
                           recorded_digest: Callable[[str], str | None] | None) -> WrittenBlob:
        tmp = (f"{self.root}/staging/pending{adapter.extension}.tmp-{uuid.uuid4().hex}"
               if expected is None else _temp_name(self.blob_path(expected, adapter.extension)))
        try:
            self._fs.makedirs(tmp.rsplit("/", 1)[0], exist_ok=True)  # SFTP, SMB, ... need parents
            written = adapter.write(obj, self._fs, tmp)
            if expected is not None and written.address != expected:
                raise IntegrityError(f"the object changed while it was stored: hashed as {expected}, "
                                     f"written as {written.address}; nothing was published")
            path = self.blob_path(written.address, adapter.extension)
            if self._is_complete(path, adapter.is_directory):
                self._remove(tmp)  # another writer published it meanwhile
                return self._existing(obj, written.address, path, adapter, recorded_digest)
            digest = self._publish(tmp, path, adapter.is_directory)
            return attrs.evolve(written, file_digest=digest or self.file_digest(written.address, adapter.extension))
        except BaseException as err:
            self._remove(tmp)
            if isinstance(err, SignalStoreError) or not isinstance(err, Exception):
                raise
            raise StorageError(scrub(f"could not store blob {expected or '(address not yet known)'} at "
                                     f"{tmp}: {type(err).__name__}: {err}")) from err

    def _existing(self, obj: Any, address: str, path: str, adapter: DataAdapter,
                  recorded_digest: Callable[[str], str | None] | None = None) -> WrittenBlob:
        local = local_path(self._fs, path)
        digest = (recorded_digest(address) if recorded_digest is not None else None) or \
            (DIGESTS.lookup(local) if local is not None else None)
        if local is not None:  # reused now: gc must not take it for an old orphan
            try:
                touch(os.path.join(local, MARKER_NAME) if adapter.is_directory else local)
            except FileNotFoundError as err:
                raise _ClaimedByGc(path) from err
        if not digest:
            digest = self.file_digest(address, adapter.extension)
        if local is not None:
            DIGESTS.remember(local, digest)  # as the file is after the touch
        size = self._fs.du(path, total=True) if adapter.is_directory else self._fs.size(path)
        return WrittenBlob(address=address, size=int(size or 0), shape=tuple(getattr(obj, "shape", ())),
                           dtype=str(getattr(obj, "dtype", "")), file_digest=digest)

    def _publish(self, tmp: str, path: str, is_directory: bool) -> str | None:
        """Publish ``tmp`` at ``path``; on local disk return the digest of the published bytes
        (None: compute it from ``path``)."""
        local_tmp, local_final = local_path(self._fs, tmp), local_path(self._fs, path)
        if local_tmp is not None and local_final is not None:
            # fsync and digest overlap; without durability the digest alone
            digest = sync_and_digest(local_tmp, is_directory) if self._durable else local_digest(local_tmp)
            publish = publish_local_tree if is_directory else publish_local_file
            if not publish(local_tmp, local_final, synced=True, durable=self._durable):
                return None  # another writer's bytes are there: digest those
            DIGESTS.remember(local_final, digest)
            return digest
        if is_directory:
            root = self._fs._strip_protocol(tmp).rstrip("/")
            for source in sorted(self._fs.find(tmp)):  # file by file: never nests into `path`
                self._move(source, f"{path}/{self._fs._strip_protocol(source)[len(root):].lstrip('/')}")
            self._remove(tmp)
            self._fs.pipe_file(f"{path}/{MARKER_NAME}", b"")
        elif self._fs.exists(path):
            self._fs.rm(tmp)
        else:
            self._move(tmp, path)
        return None

    def _move(self, source: str, target: str) -> None:
        self._fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)  # mv needs parents on some backends
        self._fs.mv(source, target)

    # -- reading ---------------------------------------------------------------------------
    def get(self, address: str, extension: str, adapter: DataAdapter, *, lazy: bool = False) -> Any:
        """Load the object stored at ``address``.

        Raises
        ------
        NotFoundError
            If no complete blob has that address (never written, deleted or purged).
        StorageError
            If the filesystem or the file fails while reading.
        """
        path = self.blob_path(address, extension)
        if not self.exists(address, extension):
            raise NotFoundError(f"blob {address} ({extension or 'no extension'}) does not exist in "
                                f"project {self.project!r}; it was never stored, or was deleted",
                                key=address)
        return self._guarded(path, lambda: adapter.read(self._fs, path, lazy=lazy))

    def exists(self, address: str, extension: str) -> bool:
        """Whether a complete blob (a file, or a tree with its marker) has that address."""
        path = self.blob_path(address, extension)
        marker = f"{path}/{MARKER_NAME}"
        return self._guarded(path, lambda: bool(self._fs.isfile(path) or self._fs.exists(marker)))

    def _is_complete(self, path: str, is_directory: bool) -> bool:
        return self._guarded(path, lambda: bool(self._fs.exists(f"{path}/{MARKER_NAME}") if is_directory
                                                else self._fs.isfile(path)))

    # -- deleting and listing --------------------------------------------------------------
    def delete(self, address: str, extension: str) -> None:
        """Remove a blob and anything left at its path; deleting a missing blob does nothing.

        The marker goes first, so a half-deleted tree is never taken for a complete blob.
        """
        path = self.blob_path(address, extension)
        self._guarded(path, lambda: self._delete_path(path))

    def _delete_path(self, path: str) -> None:
        if self._fs.isfile(path):
            self._fs.rm(path)
            return
        if self._fs.exists(f"{path}/{MARKER_NAME}"):
            self._fs.rm(f"{path}/{MARKER_NAME}")
        local = local_path(self._fs, path)
        if local is not None and os.path.isdir(local):
            path = _temp_name(path)  # atomic: a partial tree never stays under the final name
            os.rename(local, str(local_path(self._fs, path)))
        if self._fs.exists(path):
            self._fs.rm(path, recursive=True)

    def iter_blobs(self) -> Iterator[tuple[str, str, float]]:
        """Every complete blob as ``(address, extension, modified epoch seconds)``.

        A directory blob's time is its marker's: the moment it was published.
        """
        for info in self._leaves():
            match = _LEAF_RE.match(_basename(info))
            extension = match.group(2) if match else ""
            if match is None or _TEMP_RE.search(extension) or not _EXTENSION_RE.match(extension):
                continue
            is_file = info["type"] != "directory"
            marker = None if is_file else self._unless_missing(f"{info['name']}/{MARKER_NAME}", self._fs.info)
            if is_file or marker is not None:
                yield f"{ADDRESS_ALGORITHM}:{match.group(1)}", extension, _epoch(self._fs, marker or info)

    def iter_temporaries(self) -> Iterator[tuple[str, float]]:
        """Leftover temporaries (crashed or interrupted writes) as ``(path, newest modified epoch)``."""
        for info in [*self._leaves(), *self._ls(f"{self.root}/staging")]:
            if _TEMP_RE.search(info["name"]):
                yield info["name"], self._newest(info)

    def remove_temporary(self, path: str) -> None:
        """Delete one path reported by :meth:`iter_temporaries` (refuses any other path)."""
        stripped = "/" + str(self._fs._strip_protocol(path)).strip("/")
        if not _TEMP_RE.search(stripped) or f"/{self.root}/" not in stripped:
            raise ValidationError(f"{path!r} is not a temporary of blob store {self.root!r}")
        self._guarded(path, lambda: self._fs.rm(path, recursive=True))

    def _leaves(self) -> Iterator[dict[str, Any]]:
        for first in self._ls(self.root):
            if first["type"] == "directory" and _PREFIX_RE.match(_basename(first)):
                for second in self._ls(first["name"]):
                    if second["type"] == "directory" and _PREFIX_RE.match(_basename(second)):
                        yield from self._ls(second["name"])

    def _ls(self, path: str) -> list[dict[str, Any]]:
        entries = self._unless_missing(path, lambda p: self._fs.ls(p, detail=True)) or []
        return sorted(({**e, "name": str(e["name"]).rstrip("/")} for e in entries), key=lambda e: e["name"])

    def _newest(self, info: dict[str, Any]) -> float:
        if info["type"] != "directory":
            return _epoch(self._fs, info)
        files = self._guarded(info["name"], lambda: self._fs.find(info["name"], detail=True))
        return max((_epoch(self._fs, f) for f in files.values()), default=0.0)

    # -- keeping blobs that are in use away from gc ----------------------------------------
    def refresh(self, address: str, extension: str) -> bool:
        """Mark a blob as used now, so that ``gc`` keeps it; False if no complete blob is there.

        On local disk this sets the time gc reads (the file's, or a tree's marker's) to now, in
        one ``utime`` call on the final path that fails if the blob was removed or claimed by
        gc; :meth:`delete_if_unused_since` explains why that makes the pair race-free. Where
        times cannot be set in place (memory, object stores) or may not be (a blob owned by
        another user), this only reports whether the blob is complete.
        """
        path = self.blob_path(address, extension)
        local = local_path(self._fs, path)
        if local is None:
            return self.exists(address, extension)
        stamp = local if os.path.isfile(local) else os.path.join(local, MARKER_NAME)
        digest = DIGESTS.lookup(local)  # still valid: the refresh below changes times, not bytes
        try:
            os.utime(stamp)  # the kernel's now: on NFS the server's clock, as gc's listing sees it
        except FileNotFoundError:
            return False
        except PermissionError:
            return os.path.exists(stamp)
        except OSError as err:
            raise StorageError(scrub(f"blob filesystem failed at {path}: {type(err).__name__}: {err}")) from err
        if digest is not None:
            DIGESTS.remember(local, digest)  # re-adding this content later need not re-read it
        return True

    def delete_if_unused_since(self, address: str, extension: str, cutoff: float) -> bool:
        """Delete a blob unless it was written or refreshed at or after ``cutoff`` (epoch s).

        Returns True if it was deleted. On local disk the check cannot race a writer's
        :meth:`refresh`: the blob is first *claimed* by one atomic rename to a temporary name,
        and only then is its time read, from the claimed file or tree. A refresh is a single
        ``utime`` on the final path, so it either happened before the claim (the claimed time
        is recent: the blob is renamed back, never overwriting a copy published meanwhile) or
        after it (it fails, and the writer learns the blob is gone before it commits). Blobs
        used since the listing are recognised before the claim, so only a refresh in the
        microseconds between that check and the claim makes a blob briefly absent (until it is
        put back). A gc that dies while holding a claim leaves an ordinary temporary, which a
        later gc removes after the grace period. Elsewhere (no atomic rename, no settable
        times) the time is read again just before deleting, which leaves a window of one
        round trip; there the grace period is what protects a unit of work.
        """
        path = self.blob_path(address, extension)
        local = local_path(self._fs, path)
        if local is None:
            return self._guarded(path, lambda: self._delete_remote_if_unused(path, cutoff))
        return self._guarded(path, lambda: self._delete_local_if_unused(local, cutoff))

    def _delete_local_if_unused(self, local: str, cutoff: float) -> bool:
        if _local_stamp(local) >= cutoff:
            return False  # used since it was listed: not even claimed
        claimed = _temp_name(local)
        try:
            os.rename(local, claimed)  # the claim: from here on a refresh of `local` fails
        except FileNotFoundError:
            return False  # deleted by someone else meanwhile
        if _local_stamp(claimed) >= cutoff:
            self._give_back(claimed, local)  # refreshed between the check above and the claim
            return False
        LocalFileSystem().rm(claimed, recursive=True)
        return True

    @staticmethod
    def _give_back(claimed: str, local: str) -> None:
        """Undo a claim without ever replacing a blob another writer published meanwhile."""
        try:
            if os.path.isdir(claimed):
                os.rename(claimed, local)  # refuses a non-empty target
            else:
                os.link(claimed, local)  # refuses any target
                os.unlink(claimed)
        except OSError:
            if os.path.exists(local):
                LocalFileSystem().rm(claimed, recursive=True)  # a writer published the address anew
            else:
                os.rename(claimed, local)  # no hard links on this disk, and the name is still free
        directory = os.open(os.path.dirname(local), os.O_RDONLY)
        try:
            os.fsync(directory)  # the blob is referenced: its name must survive a power loss
        finally:
            os.close(directory)

    def _delete_remote_if_unused(self, path: str, cutoff: float) -> bool:
        stamp = path if self._fs.isfile(path) else f"{path}/{MARKER_NAME}"
        info = self._unless_missing(stamp, self._fs.info)
        if info is None or _epoch(self._fs, info) >= cutoff:
            return False
        self._delete_path(path)
        return True

    # -- helpers ---------------------------------------------------------------------------
    def _remove(self, path: str) -> None:
        """Best-effort removal of a temporary; whatever survives is reported to gc later."""
        try:
            if self._fs.exists(path):
                self._fs.rm(path, recursive=True)
        except Exception:  # noqa: BLE001 - cleanup must not hide the original error
            pass

    def _unless_missing(self, path: str, action: Callable[[str], T]) -> T | None:
        """``action(path)`` with errors translated as in :meth:`_guarded`; None if it is missing."""
        try:
            return action(path)
        except FileNotFoundError:
            return None
        except Exception as err:
            raise StorageError(scrub(f"blob filesystem failed at {path}: {type(err).__name__}: {err}")) from err

    def _guarded(self, path: str, action: Callable[[], T]) -> T:
        """Run ``action``, translating filesystem errors into StorageError naming ``path``."""
        try:
            return action()
        except (SignalStoreError, _ClaimedByGc):
            raise
        except Exception as err:
            raise StorageError(scrub(f"blob filesystem failed at {path}: {type(err).__name__}: {err}")) from err


def _temp_name(path: str) -> str:
    return f"{path}.tmp-{uuid.uuid4().hex}"


def _basename(info: dict[str, Any]) -> str:
    return str(info["name"]).rstrip("/").rsplit("/", 1)[-1]


def _epoch(fs: fsspec.AbstractFileSystem, info: dict[str, Any]) -> float:
    """Modification time in epoch seconds from whichever field this backend reports."""
    for key in ("mtime", "created", "LastModified", "last_modified", "updated"):
        value = info.get(key)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, datetime):
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    modified: datetime = fs.modified(info["name"])
    return (modified if modified.tzinfo else modified.replace(tzinfo=UTC)).timestamp()


def _local_stamp(local: str) -> float:
    """The time gc judges a local blob by (a tree's marker's), 0.0 if it has none."""
    stamp = os.path.join(local, MARKER_NAME) if os.path.isdir(local) else local
    try:
        return os.stat(stamp).st_mtime
    except FileNotFoundError:
        return 0.0


class _ClaimedByGc(Exception):
    """An existing blob vanished while being reused: gc claimed it as an old orphan."""
