"""Data adapters: how one kind of object becomes a content-addressed blob, and back."""

from signalstore_es.adapters.formats.hashing import ALGORITHM, ContentHasher
from signalstore_es.adapters.formats.netcdf import NetCdfDataArrayAdapter
from signalstore_es.adapters.formats.registry import FILETYPES, AdapterRegistry, default_registry
from signalstore_es.adapters.formats.xarray_content import DataArrayContent
from signalstore_es.adapters.formats.zarr import ZarrDataArrayAdapter

__all__ = [
    "ALGORITHM",
    "FILETYPES",
    "AdapterRegistry",
    "ContentHasher",
    "DataArrayContent",
    "NetCdfDataArrayAdapter",
    "ZarrDataArrayAdapter",
    "default_registry",
]
