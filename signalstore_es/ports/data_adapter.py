"""The data adapter port: how one kind of object is written, read and addressed."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

import attrs
import fsspec


@attrs.frozen(kw_only=True)
class WrittenBlob:
    """What an adapter reports after streaming an object to storage."""

    address: str  #: ``<algorithm>:<hex>`` of the logical content
    size: int  #: bytes written
    shape: tuple[int, ...] = attrs.field(converter=tuple, default=())
    dtype: str = ""
    file_digest: str = ""  #: ``blake3:<hex>`` of the stored bytes, filled in by the blob store


class DataAdapter(abc.ABC):
    """Serializes one type of object to one format on an fsspec filesystem.

    An adapter computes the object's content address from its *logical* content (dims,
    shape, dtype, data bytes in C order, coordinates, name) while it streams the data, so the
    data are read once. Attrs are not part of the address: the record is the source of
    truth for them and :meth:`attach_attrs` puts them back on load.
    """

    #: stable name stored in the log, e.g. ``xarray.dataarray.netcdf``
    name: str
    #: short format name, e.g. ``netcdf``
    file_format: str
    #: extension of the blob path, e.g. ``.nc``; a directory format ends in ``.zarr``
    extension: str
    #: True if the blob is a directory tree (published with a completion marker)
    is_directory: bool = False
    #: The types :meth:`handles` can accept, if known: the registry then never asks this
    #: adapter about objects of other types (``add`` of a plain dict asks only adapters that
    #: may store mappings). None: ask about every object.
    object_types: tuple[type, ...] | None = None

    @abc.abstractmethod
    def handles(self, obj: Any) -> bool:
        """Whether this adapter can store ``obj``."""

    @abc.abstractmethod
    def content_address(self, obj: Any) -> str:
        """The address of ``obj``'s logical content, without writing anything."""

    @abc.abstractmethod
    def write(self, obj: Any, fs: fsspec.AbstractFileSystem, path: str) -> WrittenBlob:
        """Stream ``obj`` to ``path`` (a temporary location) and return its reference."""

    @abc.abstractmethod
    def read(self, fs: fsspec.AbstractFileSystem, path: str, *, lazy: bool = False) -> Any:
        """Load the object stored at ``path``."""

    def record_attrs(self, obj: Any) -> Mapping[str, Any]:
        """The record carried by the object itself (``obj.attrs``), if any."""
        return dict(getattr(obj, "attrs", {}) or {})

    def attach_attrs(self, obj: Any, record: Mapping[str, Any]) -> Any:
        """Return ``obj`` carrying ``record`` as its attrs (default: set ``.attrs``)."""
        obj.attrs = dict(record)
        return obj
