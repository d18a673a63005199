"""``AdapterRegistry``: which data adapter stores an object, and which one reads a blob back.

Adapters are found by their stable ``name`` (stored in the log) when a blob is read, and by
object type plus file format when an object is stored. Later registrations win, so a custom
adapter for ``xarray.DataArray`` registered with ``file_format="netcdf"`` replaces the built-in
one for new writes, while blobs written by the built-in are still read by name.

Installed packages can add adapters through the entry point group ``signalstore_es.adapters``
(a DataAdapter subclass, an instance, or a function returning one); :func:`default_registry`
loads them after the built-ins, so they take precedence, and a plugin that fails to load is
reported as ConfigurationError, never skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import metadata
from typing import Any

from signalstore_es.adapters.formats.dataset import (
    NetCdfDatasetAdapter,
    ZarrDatasetAdapter,
)
from signalstore_es.adapters.formats.netcdf import NetCdfDataArrayAdapter
from signalstore_es.adapters.formats.numpy_npy import NumpyAdapter
from signalstore_es.adapters.formats.parquet import ParquetDataFrameAdapter
from signalstore_es.adapters.formats.safetensors import SafetensorsAdapter
from signalstore_es.adapters.formats.zarr import ZarrDataArrayAdapter
from signalstore_es.errors import (
    AlreadyExistsError,
    ArgumentTypeError,
    ConfigurationError,
    NotFoundError,
    ValidationError,
)
from signalstore_es.ports.data_adapter import DataAdapter

#: the file formats ``default_filetype`` may name: the ones offered for the same object type
FILETYPES = ("netcdf", "zarr")
ENTRY_POINT_GROUP = "signalstore_es.adapters"


class AdapterRegistry:
    """Data adapters by name, with a default file format for new writes.

    Parameters
    ----------
    adapters : iterable of DataAdapter
        Registered in order (later ones take precedence when several could store an object).
    default_filetype : str
        The ``file_format`` preferred when :meth:`for_object` is given no adapter.
    """

    def __init__(self, adapters: Iterable[DataAdapter] = (), *, default_filetype: str = "netcdf") -> None:
        if not isinstance(default_filetype, str) or not default_filetype:
            raise ValidationError(f"default_filetype must be a non-empty str, got {default_filetype!r}")
        self.default_filetype = default_filetype
        self._adapters: dict[str, DataAdapter] = {}
        #: type -> the adapters that may store objects of that type (see ``object_types``)
        self._askable: dict[type, tuple[DataAdapter, ...]] = {}
        for adapter in adapters:
            self.register(adapter)

    def __repr__(self) -> str:
        return f"<AdapterRegistry default_filetype={self.default_filetype!r} names={self.names()!r}>"

    def __iter__(self) -> Iterator[DataAdapter]:
        return iter(self._adapters.values())

    def __contains__(self, name: object) -> bool:
        return name in self._adapters

    def names(self) -> tuple[str, ...]:
        """Registered adapter names, in registration order."""
        return tuple(self._adapters)

    def register(self, adapter: DataAdapter) -> None:
        """Add ``adapter``; registering another instance of the same class again replaces it.

        Raises
        ------
        ArgumentTypeError
            If ``adapter`` is not a :class:`~signalstore_es.ports.DataAdapter`.
        AlreadyExistsError
            If a different adapter class already uses its name (blobs in the log would become
            ambiguous).
        """
        if not isinstance(adapter, DataAdapter):
            raise ArgumentTypeError(f"a data adapter must subclass signalstore_es.ports.DataAdapter, "
                                    f"got {type(adapter).__name__}")
        current = self._adapters.get(adapter.name)
        if current is not None and type(current) is not type(adapter):
            raise AlreadyExistsError(f"adapter name {adapter.name!r} is already used by "
                                     f"{type(current).__name__}; give {type(adapter).__name__} "
                                     "another name", key=adapter.name)
        self._adapters.pop(adapter.name, None)  # re-insert: a re-registration counts as latest
        self._adapters[adapter.name] = adapter
        self._askable.clear()

    def stores(self, obj: Any) -> bool:
        """Whether some registered adapter can store ``obj``."""
        # a loop rather than any(generator): a third cheaper, and every dict given to add asks
        for adapter in self._askable_about(type(obj)):  # noqa: SIM110
            if adapter.handles(obj):
                return True
        return False

    def _askable_about(self, kind: type) -> tuple[DataAdapter, ...]:
        """The adapters, latest first, whose ``object_types`` do not rule out ``kind``."""
        found = self._askable.get(kind)
        if found is None:
            if len(self._askable) >= 1024:  # types made on the fly must not grow it forever
                self._askable.clear()
            found = self._askable[kind] = tuple(
                a for a in reversed(self._adapters.values())
                if a.object_types is None or issubclass(kind, a.object_types))
        return found

    def by_name(self, name: str) -> DataAdapter:
        """The adapter that wrote blobs tagged ``name``.

        Raises
        ------
        NotFoundError
            If no adapter of that name is registered.
        """
        try:
            return self._adapters[name]
        except (KeyError, TypeError):
            raise NotFoundError(f"no data adapter named {name!r} is registered (known: "
                                f"{', '.join(self._adapters)}); register it with "
                                "provider.register_adapter(...) before reading its blobs",
                                key=name) from None

    def for_object(self, obj: Any, data_adapter: Any = None) -> DataAdapter:
        """The adapter that stores ``obj``.

        Parameters
        ----------
        obj : object
        data_adapter : DataAdapter, str or None
            An adapter instance (registered if its name is new), an adapter name or a file
            format such as ``"zarr"``; ``None`` picks the default file format, then any
            registered adapter that handles ``obj``.

        Raises
        ------
        ArgumentTypeError
            If no suitable adapter handles the object's type.
        """
        if isinstance(data_adapter, DataAdapter):
            return self._explicit(obj, data_adapter)
        if data_adapter is not None and not isinstance(data_adapter, str):
            raise ArgumentTypeError(f"data_adapter must be a DataAdapter, an adapter name, a file "
                                    f"format or None, got {type(data_adapter).__name__}")
        if data_adapter in self._adapters:
            return self._explicit(obj, self._adapters[data_adapter])
        candidates = [a for a in self._askable_about(type(obj)) if a.handles(obj)]
        wanted = data_adapter or self.default_filetype
        preferred = [a for a in candidates if a.file_format == wanted]
        if preferred or data_adapter is not None:
            return self._first(preferred, obj, f"file format {wanted!r}")
        return self._first(candidates, obj, "any registered file format")

    def _explicit(self, obj: Any, adapter: DataAdapter) -> DataAdapter:
        if not adapter.handles(obj):
            raise ArgumentTypeError(f"adapter {adapter.name!r} cannot store a {type(obj).__name__}")
        if adapter.name not in self._adapters:
            self.register(adapter)
        return adapter

    @staticmethod
    def _first(adapters: list[DataAdapter], obj: Any, where: str) -> DataAdapter:
        if not adapters:
            raise ArgumentTypeError(f"no registered data adapter stores a {type(obj).__name__} in "
                                    f"{where}; register one with provider.register_adapter(...)")
        return adapters[0]


def default_registry(default_filetype: str = "netcdf") -> AdapterRegistry:
    """The built-in adapters, then those of installed plugins (see :func:`plugin_adapters`).

    Built-ins: netCDF and Zarr for ``xarray.DataArray`` and ``xarray.Dataset`` (the default
    file format picks between them), ``.npy`` for ``numpy.ndarray``, Parquet for
    ``pandas.DataFrame`` and safetensors for torch state dicts (needs the ``torch`` extra).

    Raises
    ------
    ValidationError
        If ``default_filetype`` is not ``"netcdf"`` or ``"zarr"``.
    ConfigurationError
        If a plugin fails to load, is not a DataAdapter, or takes a name already used.
    """
    if default_filetype not in FILETYPES:
        raise ValidationError(f"default_filetype={default_filetype!r}: choose one of {FILETYPES}")
    registry = AdapterRegistry(builtin_adapters(), default_filetype=default_filetype)
    for name, adapter in plugin_adapters():
        try:
            registry.register(adapter)
        except AlreadyExistsError as err:
            raise ConfigurationError(f"data adapter plugin {name!r} cannot be registered: {err}") from err
    return registry


def builtin_adapters() -> list[DataAdapter]:
    """One new instance of every built-in adapter, in registration order."""
    return [NetCdfDataArrayAdapter(), ZarrDataArrayAdapter(), NetCdfDatasetAdapter(), ZarrDatasetAdapter(),
            NumpyAdapter(), ParquetDataFrameAdapter(), SafetensorsAdapter()]


def plugin_adapters(group: str = ENTRY_POINT_GROUP) -> list[tuple[str, DataAdapter]]:
    """``(entry point name, adapter)`` of every plugin in ``group``, sorted by name.

    An entry point may name a DataAdapter subclass (instantiated without arguments), an
    instance, or a function returning one.

    Raises
    ------
    ConfigurationError
        If a plugin cannot be imported or built, or does not give a DataAdapter.
    """
    found = sorted(metadata.entry_points(group=group), key=lambda ep: (ep.name, ep.value))
    return [(ep.name, _load_plugin(ep)) for ep in found]


def _load_plugin(entry_point: metadata.EntryPoint) -> DataAdapter:
    where = f"data adapter plugin {entry_point.name!r} ({entry_point.value}, entry point group " \
            f"{entry_point.group!r})"
    try:
        target = entry_point.load()
        adapter = target() if callable(target) and not isinstance(target, DataAdapter) else target
    except Exception as err:  # any import or constructor error of third-party code
        raise ConfigurationError(f"{where} failed to load: {type(err).__name__}: {err}; fix or "
                                 "uninstall the package that provides it") from err
    if not isinstance(adapter, DataAdapter):
        raise ConfigurationError(f"{where} gave a {type(adapter).__name__}, not a "
                                 "signalstore_es.ports.DataAdapter; point it at an adapter class")
    return adapter
