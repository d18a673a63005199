"""Publishing and digesting blobs on plain local disk: fsync'ed, atomic, never overwritten."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from fsspec.implementations.local import LocalFileSystem

MARKER_NAME = ".complete"
_TAKEN = (errno.EEXIST, errno.ENOTEMPTY)
_NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS)
_FSYNC_THREADS = 4  #: a tree's files are fsync'ed a few at a time, so the disk queue stays full


def publish_local_file(tmp: str, final: str, *, synced: bool = False, durable: bool = True) -> bool:
    """Move the file ``tmp`` to ``final`` unless a blob is there; ``synced``: ``tmp`` is fsync'ed.
    ``durable=False``: no fsync at all (atomic, but only as durable as the page cache).

    Returns whether ``final`` now holds ``tmp``'s bytes (False: another writer's were there).
    """
    if durable and not synced:
        fsync(tmp)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    ours = True
    try:
        os.link(tmp, final)  # refuses to replace: a published blob is never overwritten
    except FileExistsError:
        ours = False  # another writer published the same content first
    except OSError as err:
        if err.errno not in _NO_HARD_LINKS:
            raise
        os.replace(tmp, final)  # no hard links here: a racing writer's file has the same content
    if os.path.lexists(tmp):
        os.unlink(tmp)
    if durable:
        fsync(os.path.dirname(final))
    return ours


def publish_local_tree(tmp: str, final: str, *, synced: bool = False, durable: bool = True) -> bool:
    """Rename the tree ``tmp`` to ``final``, then write its marker; ``synced``: every file and
    directory of ``tmp`` is fsync'ed already (see :func:`fsync_tree`). ``durable=False``: no
    fsync at all.

    Returns whether ``final`` now holds ``tmp``'s files (False: another writer's tree was there).
    """
    if durable and not synced:
        fsync_tree(tmp)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    ours = True
    try:
        os.rename(tmp, final)  # atomic; refuses a non-empty target
    except OSError as err:
        if err.errno not in _TAKEN:
            raise
        LocalFileSystem().rm(tmp, recursive=True)  # the tree there came whole from a rename
        ours = False
    if durable:
        fsync(os.path.dirname(final))
    with open(os.path.join(final, MARKER_NAME), "ab") as marker:
        if durable:
            os.fsync(marker.fileno())
    if durable:
        fsync(final)
    return ours


def fsync(path: str) -> None:
    """Flush a file or directory to disk: a committed event must never outlive its blob."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: str) -> None:
    """fsync every file, then every directory (deepest first), of the tree at ``root``."""
    files: list[str] = []
    directories: list[str] = []
    for directory, _subdirs, names in os.walk(root):
        files.extend(os.path.join(directory, name) for name in names)
        directories.append(directory)
    if len(files) > 1:
        with ThreadPoolExecutor(min(_FSYNC_THREADS, len(files)), thread_name_prefix="signalstore-fsync") as pool:
            for _ in pool.map(fsync, files):
                pass
    else:
        for path in files:
            fsync(path)
    for directory in reversed(directories):
        fsync(directory)


def touch(path: str) -> None:
    """Refresh a blob's modification time: gc keeps blobs used within its grace period."""
    now = time.time()
    os.utime(path, (now, now))


def iter_tree_files(root: str) -> Iterator[tuple[str, str]]:
    """``(relative path with '/', OS path)`` of every file under ``root``, in sorted order."""
    found = []
    for directory, _subdirs, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            found.append((os.path.relpath(path, root).replace(os.sep, "/"), path))
    found.sort(key=lambda item: item[1])  # the order of fsspec's sorted(find(...)) of full paths
    yield from found


def stat_signature(path: str) -> tuple[object, ...] | None:
    """What identifies a blob's current bytes without reading them: the identity, size and
    times of the file (a tree: of each of its files but the marker); None if it is missing.

    Any write, replacement or ``touch`` changes it (mtime, ctime or inode)."""
    try:
        if not os.path.isdir(path):
            return _stat(os.stat(path))
        return tuple((relative, _stat(os.stat(member))) for relative, member in iter_tree_files(path)
                     if relative != MARKER_NAME)
    except FileNotFoundError:
        return None


def _stat(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


# -- early write-back ---------------------------------------------------------------------------
_SYNC_FILE_RANGE_WRITE = 2  #: start write-out of dirty pages, do not wait (linux/fs.h)


def _sync_file_range() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):  # pragma: no cover - not glibc/musl
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


_START_WRITEBACK = _sync_file_range()


def start_writeback(path: str) -> None:
    """Ask the kernel to start writing ``path``'s dirty pages to disk, without waiting (a hint
    for a file that will be fsync'ed; see :class:`Writeback`)."""
    if _START_WRITEBACK is None:
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        _START_WRITEBACK(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)  # type: ignore[operator]
    finally:
        os.close(fd)


class Writeback:
    """Asks the kernel to start writing a file's dirty pages to disk every ``every`` bytes
    written (Linux ``sync_file_range``; a no-op elsewhere or on failure).

    A hint only, for a file that will be fsync'ed: the disk works while the writer goes on, so
    the fsync finds little left to write. Durability still comes from that fsync alone. The
    call is made on a helper thread, because it blocks while the disk's queue is full.
    """

    def __init__(self, path: str, every: int = 32 * 2**20) -> None:
        self._every = every
        self._pending = 0
        self._fd = -1
        self._pool: ThreadPoolExecutor | None = None
        self._kick: Future[None] | None = None
        if _START_WRITEBACK is not None:
            with contextlib.suppress(OSError):
                self._fd = os.open(path, os.O_RDONLY)

    def written(self, n_bytes: int) -> None:
        """Count ``n_bytes`` more written; start write-back once enough have piled up."""
        self._pending += n_bytes
        if self._pending < self._every or self._fd < 0 or (self._kick is not None and not self._kick.done()):
            return
        self._pending = 0
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="signalstore-writeback")
        self._kick = self._pool.submit(self._start, self._fd)

    @staticmethod
    def _start(fd: int) -> None:
        _START_WRITEBACK(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)  # type: ignore[operator]  # a hint: result ignored

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # before the fd it uses is closed
            self._pool = None
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
