"""The MongoDB backend: one database per project, one document per commit (pymongo).

Works on a standalone server, a replica set, a sharded cluster, Atlas and MongoDB-compatible
servers (tested on FerretDB 1.24): it needs neither transactions nor a replica set.
"""

from signalstore_es.adapters.mongo.backend import MongoBackend
from signalstore_es.adapters.mongo.errors import CommitAlreadyLandedError, ViewsBehindError
from signalstore_es.adapters.mongo.schema import (
    DEFAULT_WRITE_CONCERN,
    check_project_name,
    versions_name,
    write_concern_for,
)

__all__ = [
    "DEFAULT_WRITE_CONCERN",
    "CommitAlreadyLandedError",
    "MongoBackend",
    "ViewsBehindError",
    "check_project_name",
    "versions_name",
    "write_concern_for",
]
