"""Blob storage on any fsspec filesystem (local, memory, S3, GCS, ...)."""

from signalstore_es.adapters.fsspec.blob_store import (
                                                       FsspecBlobStore,
                                                       local_path,
                                                       validate_address,
                                                       validate_extension,
)

__all__ = ["FsspecBlobStore", "local_path", "validate_address", "validate_extension"]
