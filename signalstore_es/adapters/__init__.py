"""Backends: one sub-package per medium (sqlite, mongo, fsspec blobs, data formats).

Nothing is imported here, so that importing one backend never loads the drivers of another.
"""
