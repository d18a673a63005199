"""Digests of stored bytes (as opposed to content addresses of logical content).

``blake3:<hex>`` of a file is BLAKE3 over its bytes followed by its size (8 bytes, little
endian); of a directory, over each file in sorted path order (the directory's marker left
out): its relative path (8-byte length, UTF-8), its bytes, its size. :func:`file_digest` reads
through any fsspec filesystem; :func:`local_digest` gives the same digest for a path on local
disk, memory-mapping the files and hashing on all cores.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import blake3
import fsspec

from signalstore_es.adapters.fsspec.local import MARKER_NAME, fsync, fsync_tree, iter_tree_files, stat_signature

_BLOCK = 8 * 1024 * 1024
_WINDOW = 32 * 1024 * 1024  #: a multiple of mmap.ALLOCATIONGRANULARITY


def file_digest(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """``blake3:<hex>`` of a file's bytes, or of a directory's sorted relative paths and bytes."""
    hasher = blake3.blake3()
    if fs.isfile(path):
        _update_file(hasher, fs, path)
    else:
        root = str(fs._strip_protocol(path)).rstrip("/")
        for member in sorted(fs.find(path)):
            relative = str(fs._strip_protocol(member))[len(root):].lstrip("/")
            if relative == MARKER_NAME:
                continue  # written last to publish; its presence is checked, not hashed
            _update_member(hasher, relative)
            _update_file(hasher, fs, member)
    return f"blake3:{hasher.hexdigest()}"


def local_digest(path: str) -> str:
    """:func:`file_digest` of a file or directory on local disk, read through ``mmap``."""
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    if os.path.isfile(path):
        _update_local(hasher, path)
    else:
        for relative, member in iter_tree_files(path):
            if relative == MARKER_NAME:
                continue
            _update_member(hasher, relative)
            _update_local(hasher, member)
    return f"blake3:{hasher.hexdigest()}"


def _update_member(hasher: blake3.blake3, relative: str) -> None:
    encoded = relative.encode("utf-8")
    hasher.update(len(encoded).to_bytes(8, "little") + encoded)


def _update_local(hasher: blake3.blake3, path: str) -> None:
    """Hash the file through a sliding ``mmap`` window: no copy, and at most one window of
    the file mapped (mapped pages count as resident memory)."""
    with open(path, "rb") as handle:
        fd = handle.fileno()
        size = os.fstat(fd).st_size
        for offset in range(0, size, _WINDOW):
            with mmap.mmap(fd, min(_WINDOW, size - offset), access=mmap.ACCESS_READ, offset=offset) as window:
                hasher.update(window)
    hasher.update(size.to_bytes(8, "little"))


def _update_file(hasher: blake3.blake3, fs: fsspec.AbstractFileSystem, path: str) -> None:
    with fs.open(path, "rb") as handle:
        size = 0
        while block := handle.read(_BLOCK):
            hasher.update(block)
            size += len(block)
    hasher.update(size.to_bytes(8, "little"))


def sync_and_digest(path: str, is_directory: bool) -> str:
    """fsync the local file or tree at ``path`` and return its :func:`local_digest`, both at once.

    The fsync mostly waits for the disk and the digest mostly hashes pages still in memory, so
    they overlap; the digest is of the very bytes that are made durable.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="signalstore-fsync") as pool:
        synced = pool.submit(fsync_tree if is_directory else fsync, path)
        try:
            digest = local_digest(path)
        finally:
            error = synced.exception()
        if error is not None:
            raise error
    return digest


class DigestMemo:
    """Digests of local blobs this process computed, valid while the file is unchanged.

    An entry is used only while the blob's :func:`~.local.stat_signature` (inode, size,
    modification and change times of each file) is what it was when the digest was taken,
    so any rewrite, replacement or ``touch`` of the bytes forces a new digest. It spares
    re-reading a blob that this process has just written or digested, e.g. when the same
    content is added again under another name.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._entries: OrderedDict[str, tuple[object, str]] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def lookup(self, path: str) -> str | None:
        """The remembered digest of ``path`` if its signature still matches, else None."""
        with self._lock:
            entry = self._entries.get(path)
        if entry is None:
            return None
        signature = stat_signature(path)
        return entry[1] if signature is not None and signature == entry[0] else None

    def remember(self, path: str, digest: str) -> None:
        """Remember ``digest`` for ``path`` as the file is now."""
        signature = stat_signature(path)
        with self._lock:
            if signature is None:
                self._entries.pop(path, None)
                return
            self._entries[path] = (signature, digest)
            self._entries.move_to_end(path)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def forget(self, path: str) -> None:
        with self._lock:
            self._entries.pop(path, None)


#: one per process: blob stores are created per unit of work
DIGESTS = DigestMemo()
