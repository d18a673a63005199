"""``UnitOfWorkProvider``: the only place that wires backends, blob storage and adapters."""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Callable, MutableMapping, Sequence
from datetime import timedelta
from typing import Any

import attrs

from projections import BUILTIN_PROJECTORS, ProjectionRunner, Projector
from signalstore_es._logging import get_logger, logged_call
from signalstore_es.api.maintenance import GcReport, VerifyReport, collect_garbage, verify
from signalstore_es.api.progress import progress_bar
from signalstore_es.api.unit_of_work import UnitOfWork
from signalstore_es.errors import ArgumentTypeError, ConfigurationError, ValidationError
from signalstore_es.ports.storage import StorageBackend

log = get_logger(__name__)
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
ACTOR_VARIABLE = "SIGNALSTORE_ACTOR"
RESERVED_PROJECTS = frozenset({"admin", "local", "config"})  #: MongoDB's own databases
FILETYPES = ("netcdf", "zarr")
DEFAULT_GRACE = timedelta(hours=24)  #: longer than any unit of work between writing a blob and committing


@attrs.frozen(kw_only=True)
class RebuildReport:
    project: str
    views: tuple[str, ...]
    commits: int
    events: int


class UnitOfWorkProvider:
    """Hands out a :class:`UnitOfWork` per project.

    ``UnitOfWorkProvider(mongo_client=..., filesystem=..., memory_store=...)`` keeps the log
    and views in MongoDB (database = project) and blobs on ``filesystem``;
    :meth:`embedded` needs no server. ``actor`` defaults to ``$SIGNALSTORE_ACTOR``, then the
    OS user. ``durable_blobs=False`` skips fsyncing blobs before commits (they then survive an
    application crash, not a power loss).
    """

    def __init__(self, mongo_client: Any = None, filesystem: Any = None,
                 memory_store: MutableMapping[Any, Any] | None = None,
                 default_filetype: str = "netcdf", *, actor: str | None = None,
                 backend_factory: Callable[[str], StorageBackend] | None = None,
                 durable_blobs: bool = True) -> None:
        if backend_factory is None:
            if mongo_client is None:
                raise ConfigurationError("pass mongo_client=MongoClient(...), or use "
                                         "UnitOfWorkProvider.embedded(root) for the embedded store")
            backend_factory = _mongo_factory(mongo_client)
        if filesystem is None:
            raise ConfigurationError("pass filesystem=<an fsspec filesystem> for the blobs")
        if default_filetype not in FILETYPES:
            raise ValidationError(f"default_filetype={default_filetype!r}: choose one of {FILETYPES}")
        self._backend_factory = backend_factory
        self._filesystem = filesystem
        self._memory_store = memory_store if memory_store is not None else {}
        self.default_filetype = default_filetype
        self.actor = _resolve_actor(actor)
        self._backends: dict[str, StorageBackend] = {}
        self._projectors: list[Projector] = list(BUILTIN_PROJECTORS)
        self._registry = _registry(default_filetype)
        self._durable_blobs = durable_blobs

    @classmethod
    def embedded(cls, root: str | os.PathLike[str], *, filesystem: Any = None,
                 default_filetype: str = "netcdf", actor: str | None = None,
                 durability: str = "full") -> UnitOfWorkProvider:
        """A provider whose log is an SQLite file per project under ``root``.

        Blobs go to ``filesystem`` (default: local files under ``root``). ``durability="full"``
        (the default): an acknowledged commit and its blobs survive a power loss (SQLite
        ``synchronous=FULL``, blobs fsync'ed before the commit). ``"normal"``: they survive
        an application crash only (``synchronous=NORMAL``, blobs not fsync'ed), for scratch
        stores and for data that can be recomputed.
        """
        from signalstore_es.adapters.sqlite import SqliteBackend

        root = os.fspath(root)
        if filesystem is None:
            filesystem = _local_filesystem(root)

        def factory(project: str) -> StorageBackend:
            return SqliteBackend(os.path.join(root, project, "events.sqlite3"), project,
                                 durability=durability)

        return cls(filesystem=filesystem, default_filetype=default_filetype, actor=actor,
                   backend_factory=factory, durable_blobs=durability != "normal")

    def __repr__(self) -> str:
        return f"<UnitOfWorkProvider actor={self.actor!r} default_filetype={self.default_filetype!r}>"

    def __call__(self, project_name: str) -> UnitOfWork:
        """A unit of work for ``project_name`` (use it as a context manager)."""
        backend = self._backend(project_name)
        return UnitOfWork(project=project_name, actor=self.actor, backend=backend,
                          blobs=self._blob_store(project_name),
                          registry=self._registry, runner=self._runner(),
                          memory_store=self._memory_store)

    def register_projector(self, projector: Projector) -> None:
        """Add a user-defined projector; it replays from seq 0 at the next unit of work."""
        if not isinstance(projector, Projector):
            raise ArgumentTypeError("a projector needs view, event_types, row_id() and apply()")
        if projector.view in {p.view for p in self._projectors}:
            raise ValidationError(f"a projector for view {projector.view!r} is already registered")
        self._projectors.append(projector)

    def register_adapter(self, adapter: Any) -> None:
        """Add a custom data adapter; it takes part in add, get and find like the built-ins."""
        self._registry.register(adapter)

    def rebuild(self, project_name: str, views: Sequence[str] | None = None) -> RebuildReport:
        """Drop the views (all, or those named) and replay the whole log into them."""
        runner = self._runner(views)
        with logged_call(log, "rebuild", project=project_name, actor=self.actor) as extra, \
                progress_bar(f"rebuilding {project_name}", total=None):
            commits, events = self._backend(project_name).rebuild(runner)
            extra.update(commits=commits, events=events)
            return RebuildReport(project=project_name, views=runner.views, commits=commits, events=events)

    def verify(self, project_name: str) -> VerifyReport:
        """Recompute the hash chain and every committed blob's address; report what is wrong.

        Detects edited, removed, inserted or reordered commits (the first broken one is named)
        and missing, damaged or substituted blobs. Never raises for damage: check ``report.ok``.
        """
        backend = self._backend(project_name)
        with logged_call(log, "verify", project=project_name, actor=self.actor) as extra, \
                progress_bar(f"verifying {project_name}", total=None) as advance:
            report = verify(backend, self._blob_store(project_name), self._registry, advance)
            extra.update(ok=report.ok, commits=report.commits_checked, blobs=report.blobs_checked)
            return report

    def gc(self, project_name: str, grace: timedelta = DEFAULT_GRACE) -> GcReport:
        """Remove blobs that no commit references and temporaries, once older than ``grace``."""
        if not isinstance(grace, timedelta) or grace < timedelta(0):
            raise ArgumentTypeError(f"grace must be a non-negative timedelta, got {grace!r}")
        backend = self._backend(project_name)
        with logged_call(log, "gc", project=project_name, actor=self.actor) as extra:
            report = collect_garbage(backend, self._blob_store(project_name), grace)
            extra.update(removed=len(report.removed_blobs), temporaries=report.removed_temporaries)
            return report

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()

    def _runner(self, views: Sequence[str] | None = None) -> ProjectionRunner:
        if views is None:
            return ProjectionRunner(self._projectors)
        known = {p.view: p for p in self._projectors}
        unknown = sorted(set(views) - set(known))
        if unknown:
            raise ValidationError(f"unknown views {unknown}; known views: {sorted(known)}")
        return ProjectionRunner([known[v] for v in views])

    def _blob_store(self, project_name: str) -> Any:
        from signalstore_es.adapters.fsspec import FsspecBlobStore

        return FsspecBlobStore(self._filesystem, check_project_name(project_name), durable=self._durable_blobs)

    def _backend(self, project_name: str) -> StorageBackend:
        check_project_name(project_name)
        if project_name not in self._backends:
            self._backends[project_name] = self._backend_factory(project_name)
        return self._backends[project_name]


def check_project_name(project_name: Any) -> str:
    if not isinstance(project_name, str):
        raise ArgumentTypeError(f"project_name must be a str, got {type(project_name).__name__}")
    if not PROJECT_NAME.fullmatch(project_name):
        raise ValidationError(f"project_name={project_name!r}: use 1-63 of A-Z a-z 0-9 _ -, "
                              "starting with a letter or digit (it names a database and a folder)")
    if project_name.lower() in RESERVED_PROJECTS:
        raise ValidationError(f"project_name={project_name!r} is a MongoDB system database; choose another name")
    return project_name


def _resolve_actor(actor: str | None) -> str:
    if actor is not None:
        if not isinstance(actor, str) or not actor:
            raise ArgumentTypeError(f"actor must be a non-empty str, got {actor!r}")
        return actor
    from_environment = os.environ.get(ACTOR_VARIABLE)
    if from_environment:
        return from_environment
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in minimal containers
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _local_filesystem(root: str) -> Any:
    import fsspec
    from fsspec.implementations.dirfs import DirFileSystem

    os.makedirs(root, exist_ok=True)
    return DirFileSystem(os.path.abspath(root), fsspec.filesystem("file"))


def _mongo_factory(client: Any) -> Callable[[str], StorageBackend]:
    def factory(project: str) -> StorageBackend:
        from signalstore_es.adapters.mongo import MongoBackend

        return MongoBackend(client, project)

    return factory


def _registry(default_filetype: str) -> Any:
    from signalstore_es.adapters.formats import default_registry

    return default_registry(default_filetype)
