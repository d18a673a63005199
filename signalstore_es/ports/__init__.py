"""The interfaces the core depends on; each backend implements them in one adapter module."""

from signalstore_es.ports.blob_store import BlobStore
from signalstore_es.ports.data_adapter import DataAdapter, WrittenBlob
from signalstore_es.ports.storage import Head, SeqTakenError, StorageBackend

__all__ = ["BlobStore", "DataAdapter", "Head", "SeqTakenError", "StorageBackend", "WrittenBlob"]
