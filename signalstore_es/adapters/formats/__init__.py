"""Data adapters: how one kind of object becomes a content-addressed blob, and back."""

from signalstore_es.adapters.formats.dataset import (
    DatasetContent,
    NetCdfDatasetAdapter,
    ZarrDatasetAdapter,
)
from signalstore_es.adapters.formats.hashing import ALGORITHM, ContentHasher
from signalstore_es.adapters.formats.netcdf import NetCdfDataArrayAdapter
from signalstore_es.adapters.formats.numpy_npy import NumpyAdapter
from signalstore_es.adapters.formats.parquet import ParquetDataFrameAdapter
from signalstore_es.adapters.formats.registry import (
    ENTRY_POINT_GROUP,
    FILETYPES,
    AdapterRegistry,
    builtin_adapters,
    default_registry,
    plugin_adapters,
)
from signalstore_es.adapters.formats.safetensors import SafetensorsAdapter
from signalstore_es.adapters.formats.xarray_content import DataArrayContent
from signalstore_es.adapters.formats.zarr import ZarrDataArrayAdapter

__all__ = [
    "ALGORITHM",
    "ENTRY_POINT_GROUP",
    "FILETYPES",
    "AdapterRegistry",
    "ContentHasher",
    "DataArrayContent",
    "DatasetContent",
    "NetCdfDataArrayAdapter",
    "NetCdfDatasetAdapter",
    "NumpyAdapter",
    "ParquetDataFrameAdapter",
    "SafetensorsAdapter",
    "ZarrDataArrayAdapter",
    "ZarrDatasetAdapter",
    "builtin_adapters",
    "default_registry",
    "plugin_adapters",
]
