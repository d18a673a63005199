"""Publishing and digesting blobs on plain local disk: fsync'ed, atomic, never overwritten."""

from __future__ import annotations

import errno
import os
import time

from fsspec.implementations.local import LocalFileSystem

MARKER_NAME = ".complete"
_TAKEN = (errno.EEXIST, errno.ENOTEMPTY)
_NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS)


def publish_local_file(tmp: str, final: str) -> None:
    fsync(tmp)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    try:
        os.link(tmp, final)  # refuses to replace: a published blob is never overwritten
    except FileExistsError:
        pass  # another writer published the same content first
    except OSError as err:
        if err.errno not in _NO_HARD_LINKS:
            raise
        os.replace(tmp, final)  # no hard links here: a racing writer's file has the same content
    if os.path.lexists(tmp):
        os.unlink(tmp)
    fsync(os.path.dirname(final))


def publish_local_tree(tmp: str, final: str) -> None:
    for directory, _subdirs, files in os.walk(tmp):
        for name in files:
            fsync(os.path.join(directory, name))
        fsync(directory)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    try:
        os.rename(tmp, final)  # atomic; refuses a non-empty target
    except OSError as err:
        if err.errno not in _TAKEN:
            raise
        LocalFileSystem().rm(tmp, recursive=True)  # the tree there came whole from a rename
    fsync(os.path.dirname(final))
    with open(os.path.join(final, MARKER_NAME), "ab") as marker:
        os.fsync(marker.fileno())
    fsync(final)


def fsync(path: str) -> None:
    """Flush a file or directory to disk: a committed event must never outlive its blob."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def touch(path: str) -> None:
    """Refresh a blob's modification time: gc keeps blobs used within its grace period."""
    now = time.time()
    os.utime(path, (now, now))
