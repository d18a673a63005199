"""Find a MongoDB-protocol server for the integration tests.

:func:`find_mongo_server` tries, in order:

1. ``SIGNALSTORE_TEST_MONGO_URI`` (any server you run yourself; used as it is);
2. a throw-away ``mongo:7`` container through testcontainers, when a Docker engine answers;
3. a local FerretDB 1.24 (``scripts/install_ferretdb.sh`` installs it) with its SQLite
   backend, on a free loopback port, with all its state in a temporary directory;
4. nothing: it yields ``None`` and the fixture should skip with :data:`NO_SERVER_REASON`.

It stops whatever it started when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import attrs

URI_VARIABLE = "SIGNALSTORE_TEST_MONGO_URI"
FERRETDB_VERSION = "v1.24.2"
START_TIMEOUT_S = 30.0

NO_SERVER_REASON = (
    "no MongoDB-protocol server: set SIGNALSTORE_TEST_MONGO_URI=mongodb://host:port, "
    "start a Docker engine (testcontainers runs mongo:7), or install FerretDB "
    f"{FERRETDB_VERSION} with scripts/install_ferretdb.sh"
)

ServerKind = Literal["uri", "testcontainers", "ferretdb"]


def redact_uri(uri: str) -> str:
    """``uri`` with any password replaced by ``***`` (safe for messages and repr)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


@attrs.frozen(kw_only=True)
class MongoServer:
    """A running server: its connection string and where it came from."""

    uri: str = attrs.field(repr=lambda uri: repr(redact_uri(uri)))
    kind: ServerKind


@contextlib.contextmanager
def find_mongo_server(tmp_path_factory: Any) -> Iterator[MongoServer | None]:
    """Yield the first server found (see the module docstring), or ``None``.

    Parameters
    ----------
    tmp_path_factory
        pytest's session ``tmp_path_factory`` (FerretDB keeps its files there).

    Raises
    ------
    RuntimeError
        FerretDB was found but did not start; the message holds the tail of its log.
    """
    uri = os.environ.get(URI_VARIABLE)
    if uri:
        yield MongoServer(uri=uri, kind="uri")
    elif _docker_answers():
        with _mongo_container() as server:
            yield server
    elif (binary := find_ferretdb()) is not None:
        with run_ferretdb(binary, Path(tmp_path_factory.mktemp("ferretdb"))) as server:
            yield server
    else:
        yield None


def _docker_answers() -> bool:
    try:
        import docker  # optional: only needed to probe for Docker
    except ImportError:
        return False
    # docker-py leaves a socket unclosed when no engine listens; keep that warning out of
    # test runs that treat warnings as errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env(timeout=3)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:  # any failure means "no usable engine"
            return False
        finally:
            gc.collect()


@contextlib.contextmanager
def _mongo_container() -> Iterator[MongoServer]:
    from testcontainers.community.mongodb import MongoDbContainer

    with MongoDbContainer("mongo:7") as container:
        yield MongoServer(uri=container.get_connection_url(), kind="testcontainers")


def find_ferretdb() -> Path | None:
    """The ``ferretdb`` binary on PATH or in the Go bin directory, if any."""
    on_path = shutil.which("ferretdb")
    if on_path:
        return Path(on_path)
    for bin_dir in _go_bin_dirs():
        candidate = bin_dir / "ferretdb"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _go_bin_dirs() -> list[Path]:
    if os.environ.get("GOBIN"):
        return [Path(os.environ["GOBIN"])]
    gopath = os.environ.get("GOPATH") or str(Path.home() / "go")
    return [Path(entry) / "bin" for entry in gopath.split(os.pathsep) if entry]


@contextlib.contextmanager
def run_ferretdb(binary: Path, workdir: Path) -> Iterator[MongoServer]:
    """Run FerretDB with the SQLite backend under ``workdir`` until the block ends."""
    (workdir / "data").mkdir(exist_ok=True)
    (workdir / "state").mkdir(exist_ok=True)
    log_path = workdir / "ferretdb.log"
    port = _free_port()
    command = [
        str(binary), "--handler=sqlite", f"--sqlite-url=file:{workdir / 'data'}/",
        f"--listen-addr=127.0.0.1:{port}", "--debug-addr=-", "--telemetry=disable",
        f"--state-dir={workdir / 'state'}", "--log-level=WARN",
    ]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    try:
        uri = f"mongodb://127.0.0.1:{port}/"
        _wait_until_ready(uri, process, command, log_path)
        yield MongoServer(uri=uri, kind="ferretdb")
    finally:
        _stop(process)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_ready(uri: str, process: subprocess.Popen[bytes], command: list[str], log_path: Path) -> None:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        client: MongoClient[dict[str, Any]]
        with MongoClient(uri, serverSelectionTimeoutMS=250, connectTimeoutMS=250) as client:
            try:
                client.admin.command("ping")
                return
            except PyMongoError:
                time.sleep(0.1)
    state = f"exited with code {process.returncode}" if process.poll() is not None \
        else f"did not answer ping within {START_TIMEOUT_S:.0f} s"
    raise RuntimeError(f"FerretDB ({' '.join(command)}) {state}; last lines of {log_path}:\n"
                       f"{_tail(log_path)}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as err:
        return f"(log unreadable: {err})"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
