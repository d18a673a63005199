"""``signalstore-es``: subcommands over the embedded store or a MongoDB server.

Errors print one clear line and exit non-zero, never a traceback, unless ``--debug``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from signalstore_es.cli.logging_setup import configure
from signalstore_es.cli.output import emit_rows, summarize, write_object
from signalstore_es.errors import NotFoundError, SignalStoreError

app = typer.Typer(help="SignalStore on an immutable event log.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
_state: dict[str, Any] = {"debug": False}

RootOption = typer.Option(Path("./signalstore-data"), "--root", envvar="SIGNALSTORE_ROOT",
                          help="Folder of the embedded store (SQLite log + blobs).")
MongoOption = typer.Option(None, "--mongo-uri", envvar="SIGNALSTORE_MONGO_URI",
                           help="Use this MongoDB server instead of the embedded store.")
StorageOption = typer.Option(None, "--storage", envvar="SIGNALSTORE_STORAGE",
                             help="fsspec URL of the blob storage (with --mongo-uri), e.g. file:///data or s3://bucket/path.")


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
          verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every library call.")) -> None:
    _state["debug"] = debug
    configure(verbose)


def _provider(root: Path, mongo_uri: str | None, storage: str | None) -> Any:
    from signalstore_es import UnitOfWorkProvider

    if mongo_uri is None:
        return UnitOfWorkProvider.embedded(root)
    import fsspec
    from pymongo import MongoClient

    if storage is None:
        raise typer.BadParameter("--storage is required with --mongo-uri")
    filesystem, path = fsspec.core.url_to_fs(storage)
    from fsspec.implementations.dirfs import DirFileSystem

    return UnitOfWorkProvider(mongo_client=MongoClient(mongo_uri, serverSelectionTimeoutMS=5000),
                              filesystem=DirFileSystem(path, filesystem))


@app.command()
def demo(root: Path = RootOption, project: str = typer.Option("demo", help="Project name.")) -> None:
    """Build a small realistic project in the embedded store, query it and print what it did."""
    from signalstore_es.cli.demo import run_demo

    run_demo(root, project)


AsOfOption = typer.Option(None, "--as-of", help="A commit seq, or an ISO instant with a zone "
                          "(2024-05-01T12:00:00+00:00): read the store as it was then.")
JsonOption = typer.Option(False, "--json", help="JSON lines even on a terminal.")


def _as_of(value: str | None) -> Any:
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        return datetime.fromisoformat(value)
    except ValueError as err:
        raise typer.BadParameter(f"--as-of {value!r} is neither a seq nor an ISO datetime") from err


@app.command()
def find(project: str, filter: str = typer.Argument("{}", help="MongoDB-syntax JSON filter."),
         root: Path = RootOption, mongo_uri: str | None = MongoOption,
         storage: str | None = StorageOption, as_of: str | None = AsOfOption,
         limit: int | None = typer.Option(None, help="At most this many records."),
         as_json: bool = JsonOption) -> None:
    """Print the live records matching FILTER."""
    try:
        query = json.loads(filter)
    except json.JSONDecodeError as err:
        raise typer.BadParameter(f"FILTER is not valid JSON: {err}") from err
    provider = _provider(root, mongo_uri, storage)
    with provider(project) as uow:
        records = uow.data.find(query, limit=limit, as_of=_as_of(as_of))
    emit_rows(records, ["schema_ref", "data_name", "version_timestamp", "has_file", "time_of_save"],
              as_json=as_json)


@app.command()
def get(project: str, schema_ref: str, data_name: str, root: Path = RootOption,
        mongo_uri: str | None = MongoOption, storage: str | None = StorageOption,
        as_of: str | None = AsOfOption,
        version: str | None = typer.Option(None, help="version_timestamp (ISO) of a versioned record."),
        nth_most_recent: int | None = typer.Option(None, help="1 is the newest version."),
        output: Path | None = typer.Option(None, "--output", "-o", help="Write the data to this .nc file.")) -> None:
    """Print a summary of a record or data object, or write its data to a file."""
    provider = _provider(root, mongo_uri, storage)
    with provider(project) as uow:
        found = uow.data.get(schema_ref, data_name, version_timestamp=_as_of(version) or 0,
                             nth_most_recent=nth_most_recent, as_of=_as_of(as_of))
    if found is None:
        raise NotFoundError(f"no live record ({schema_ref!r}, {data_name!r}) in {project!r}")
    if output is not None:
        write_object(found, output)
        typer.echo(f"wrote {output}")
        return
    typer.echo(summarize(found))


@app.command("log")
def log_command(project: str, root: Path = RootOption, mongo_uri: str | None = MongoOption,
                storage: str | None = StorageOption,
                since: str | None = typer.Option(None, help="First seq or ISO instant."),
                until: str | None = typer.Option(None, help="Last seq or ISO instant."),
                actor: str | None = typer.Option(None, help="Only this actor's commits."),
                limit: int | None = typer.Option(None, help="At most this many commits."),
                as_json: bool = JsonOption) -> None:
    """Print the commit log: who committed what, when and why."""
    provider = _provider(root, mongo_uri, storage)
    with provider(project) as uow:
        entries = uow.log(since=_as_of(since), until=_as_of(until), actor=actor, limit=limit)
    rows = [{**e, "events": len(e["events"])} for e in entries] if not as_json else entries
    emit_rows(rows, ["seq", "committed_at", "actor", "message", "events", "commit_id"], as_json=as_json)


@app.command()
def history(project: str, schema_ref: str, data_name: str, root: Path = RootOption,
            mongo_uri: str | None = MongoOption, storage: str | None = StorageOption,
            as_json: bool = JsonOption) -> None:
    """Print every event that touched a record, oldest first."""
    provider = _provider(root, mongo_uri, storage)
    with provider(project) as uow:
        entries = uow.data.history(schema_ref, data_name)
    emit_rows(entries, ["seq", "committed_at", "actor", "event_type", "version_timestamp", "message", "address"],
              as_json=as_json)


@app.command()
def verify(project: str, root: Path = RootOption, mongo_uri: str | None = MongoOption,
           storage: str | None = StorageOption) -> None:
    """Recompute the hash chain and every blob's digest; exit 1 if anything is damaged."""
    report = _provider(root, mongo_uri, storage).verify(project)
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def gc(project: str, root: Path = RootOption, mongo_uri: str | None = MongoOption,
       storage: str | None = StorageOption,
       grace_hours: float = typer.Option(24.0, help="Keep unreferenced blobs younger than this.")) -> None:
    """Remove blobs no commit references (and leftover temporaries) older than the grace period."""
    report = _provider(root, mongo_uri, storage).gc(project, grace=timedelta(hours=grace_hours))
    typer.echo(f"removed {len(report.removed_blobs)} orphan blobs and {report.removed_temporaries} "
               f"temporaries; finished {report.finished_purges} purges; kept {report.kept_referenced} "
               "referenced blobs")


@app.command()
def rebuild(project: str, root: Path = RootOption, mongo_uri: str | None = MongoOption,
            storage: str | None = StorageOption,
            view: list[str] | None = typer.Option(None, "--view", help="Rebuild only this view.")) -> None:
    """Drop the views and replay the log into them."""
    report = _provider(root, mongo_uri, storage).rebuild(project, views=view or None)
    typer.echo(f"rebuilt {', '.join(report.views)} of {project!r} from {report.commits} commits "
               f"({report.events} events)")


def main() -> None:
    """Entry point: run the app, turning library errors into one line and exit status 1."""
    try:
        app(standalone_mode=False)
    except SignalStoreError as err:
        _fail(err, f"error: {type(err).__name__}: {err}")
    except (typer.Abort, KeyboardInterrupt) as err:
        _fail(err, "aborted")
    except Exception as err:  # usage errors and anything unexpected
        show = getattr(err, "show", None)
        if callable(show) and isinstance(getattr(err, "exit_code", None), int):  # a click usage error
            show()
            sys.exit(err.exit_code)  # type: ignore[attr-defined]
        _fail(err, f"unexpected error: {type(err).__name__}: {err} (run with --debug for details)")


def _fail(err: BaseException, line: str) -> None:
    if _state["debug"]:
        raise err
    typer.echo(line, err=True)
    sys.exit(1)
