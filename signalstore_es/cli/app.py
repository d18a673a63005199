"""``signalstore-es``: subcommands over the embedded store or a MongoDB server.

Errors print one clear line and exit non-zero, never a traceback, unless ``--debug``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from signalstore_es.cli.logging_setup import configure
from signalstore_es.cli.output import emit_rows
from signalstore_es.errors import SignalStoreError

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


def _provider(root: Path, mongo_uri: Optional[str], storage: Optional[str]) -> Any:
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


@app.command()
def find(project: str, filter: str = typer.Argument("{}", help="MongoDB-syntax JSON filter."),
         root: Path = RootOption, mongo_uri: Optional[str] = MongoOption,
         storage: Optional[str] = StorageOption,
         limit: Optional[int] = typer.Option(None, help="At most this many records."),
         as_json: bool = typer.Option(False, "--json", help="JSON lines even on a terminal.")) -> None:
    """Print the live records matching FILTER."""
    try:
        query = json.loads(filter)
    except json.JSONDecodeError as err:
        raise typer.BadParameter(f"FILTER is not valid JSON: {err}") from err
    provider = _provider(root, mongo_uri, storage)
    with provider(project) as uow:
        records = uow.data.find(query, limit=limit)
    emit_rows(records, ["schema_ref", "data_name", "version_timestamp", "has_file", "time_of_save"],
              as_json=as_json)


@app.command()
def rebuild(project: str, root: Path = RootOption, mongo_uri: Optional[str] = MongoOption,
            storage: Optional[str] = StorageOption,
            view: Optional[list[str]] = typer.Option(None, "--view", help="Rebuild only this view.")) -> None:
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
