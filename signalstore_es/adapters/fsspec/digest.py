"""Digests of stored bytes (as opposed to content addresses of logical content)."""

from __future__ import annotations

import blake3
import fsspec

from signalstore_es.adapters.fsspec.local import MARKER_NAME

_BLOCK = 8 * 1024 * 1024


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
            encoded = relative.encode("utf-8")
            hasher.update(len(encoded).to_bytes(8, "little") + encoded)
            _update_file(hasher, fs, member)
    return f"blake3:{hasher.hexdigest()}"


def _update_file(hasher: "blake3.blake3", fs: fsspec.AbstractFileSystem, path: str) -> None:
    with fs.open(path, "rb") as handle:
        size = 0
        while block := handle.read(_BLOCK):
            hasher.update(block)
            size += len(block)
    hasher.update(size.to_bytes(8, "little"))
