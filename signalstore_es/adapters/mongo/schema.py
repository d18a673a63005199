"""Layout of a project's database: names, indexes and the write concern.

One database per project. The log lives in ``events`` (one document per commit) and
``event_chunks`` (the staged events of commits too large for one document); each view ``V``
is a collection ``V`` of current rows plus ``versions_name(V)`` of every state a row has had;
``checkpoints`` holds the last seq applied to each view.

Write concern: ``w="majority", j=True`` (acknowledged only once durable on a majority, or on
the journal of a standalone server), unless the client's own write concern was set
explicitly (URI options ``w``/``journal``/``wtimeoutMS`` or ``MongoClient(w=...)``), which
is then used unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import IndexModel
from pymongo.errors import OperationFailure
from pymongo.write_concern import WriteConcern

from signalstore_es.errors import ArgumentTypeError, ValidationError

EVENTS = "events"
CHUNKS = "event_chunks"
CHECKPOINTS = "checkpoints"

#: MongoDB refuses these in database names (the union of its Unix and Windows rules).
_FORBIDDEN = frozenset('/\\. "$*<>:|?\x00')
_MAX_NAME_BYTES = 63


def check_project_name(project: object) -> str:
    """Return ``project`` if it is a valid MongoDB database name, else raise.

    Raises
    ------
    ArgumentTypeError
        ``project`` is not a str.
    ValidationError
        It is empty, longer than 63 bytes in UTF-8, or holds one of ``/\\. "$*<>:|?`` or NUL.
    """
    if not isinstance(project, str):
        raise ArgumentTypeError(f"project must be a str, got {type(project).__name__}: {project!r}")
    bad = sorted(set(project) & _FORBIDDEN)
    size = len(project.encode("utf-8"))
    if not project or bad or size > _MAX_NAME_BYTES:
        reason = (f"it holds {''.join(bad)!r}" if bad else
                  "it is empty" if not project else f"it is {size} bytes long")
        raise ValidationError(
            f"project={project!r} cannot be a MongoDB database name: {reason}. Use 1-63 bytes "
            "without / \\ . space \" $ * < > : | ? (e.g. 'rat_study_2024')"
        )
    return project


def versions_name(view: str) -> str:
    """The history collection of ``view``: one trailing ``s`` dropped, ``_versions`` added.

    ``records`` -> ``record_versions``, ``domain_models`` -> ``domain_model_versions``.
    """
    return f"{view[:-1] if view.endswith('s') else view}_versions"


DEFAULT_WRITE_CONCERN = WriteConcern("majority", j=True)


def write_concern_for(client: Any) -> WriteConcern:
    """The client's write concern if the user set one, else ``majority`` with journaling."""
    own: WriteConcern = client.write_concern
    return DEFAULT_WRITE_CONCERN if own.is_server_default else own


LOG_INDEXES = [IndexModel([("commit_id", 1)], unique=True), IndexModel([("committed_at", 1)]),
               IndexModel([("events.key.schema_ref", 1)]), IndexModel([("events.key.data_name", 1)])]
CHUNK_INDEXES = [IndexModel([("commit_id", 1)]), IndexModel([("written_at", 1)]),
                 IndexModel([("events.key.schema_ref", 1)]), IndexModel([("events.key.data_name", 1)])]
_VALIDITY = [("_from_seq", 1), ("_to_seq", 1)]
VIEW_INDEXES: Mapping[str, Sequence[Sequence[tuple[str, int]]]] = {
    "records": [[("_key", 1)], [("schema_ref", 1), ("data_name", 1), ("version_timestamp", 1)],
                [("_blob.address", 1)]],
    "record_versions": [[("_key", 1), ("_from_seq", 1)], [("schema_ref", 1), ("data_name", 1)],
                        _VALIDITY],
    "domain_models": [[("schema_name", 1)]],
    "domain_model_versions": [[("schema_name", 1), ("_from_seq", 1)], _VALIDITY],
    "purged_blobs": [[("address", 1)]],
    "purged_blob_versions": [[("address", 1), ("_from_seq", 1)], _VALIDITY],
}
#: history collections of user-defined views
DEFAULT_HISTORY_INDEXES = [[("_row", 1), ("_from_seq", 1)], _VALIDITY]


def ensure_view_indexes(db: Any, view: str) -> None:
    """Create the indexes of ``view`` and its history collection (idempotent)."""
    history = versions_name(view)
    for name, specs in ((view, VIEW_INDEXES.get(view, ())),
                        (history, VIEW_INDEXES.get(history, DEFAULT_HISTORY_INDEXES))):
        create_indexes(db[name], [IndexModel(list(spec)) for spec in specs])


def is_ferretdb(client: Any) -> bool:
    """Whether the server is FerretDB (its ``buildInfo`` names its version), whose quirks
    some writes work around. A server that refuses ``buildInfo`` is taken for MongoDB."""
    try:
        return "ferretdbVersion" in client.admin.command("buildInfo")
    except OperationFailure:
        return False


def create_indexes(collection: Any, indexes: Sequence[IndexModel]) -> None:
    """Create ``indexes`` one by one: FerretDB 1.24 crashes the connection when one
    ``createIndexes`` command names several indexes that all exist already."""
    for index in indexes:
        collection.create_indexes([index])
