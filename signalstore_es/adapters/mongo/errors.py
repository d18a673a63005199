"""Translation of pymongo errors into :mod:`signalstore_es.errors`, without credentials.

Messages name the servers by ``host:port`` (taken from the client's topology, which never
holds credentials) and every driver message is scrubbed of ``user:password@`` before use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from bson.errors import BSONError
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from signalstore_es.domain.redaction import scrub
from signalstore_es.errors import (
    BackendUnavailableError,
    CommitAlreadyLandedError,
    StorageError,
    ValidationError,
    ViewsBehindError,
)

#: the two outcome errors are re-exported for the backend and the package
__all__ = ["CommitAlreadyLandedError", "ErrorTranslator", "ViewsBehindError", "describe_hosts"]

_MAX_REASON = 300
#: server error codes that mean "wrong credentials or missing role"
_AUTH_CODES = frozenset({13, 18})
#: server error codes of a regular expression the server cannot compile, or bad $options
_REGEX_CODES = frozenset({51091, 51108})
#: server error codes that mean "this query is malformed": BadValue, FailedToParse,
#: TypeMismatch, and the regular expression errors
_BAD_QUERY_CODES = frozenset({2, 9, 14}) | _REGEX_CODES


def describe_hosts(client: Any) -> str:
    """``host:port`` of every server the client knows, comma-separated (no credentials)."""
    try:
        addresses = sorted(client.topology_description.server_descriptions())
    except Exception:  # noqa: BLE001 - a description for a message must never fail
        return "<unknown hosts>"
    return ", ".join(f"{host}:{port}" for host, port in addresses) or "<no hosts>"


def _reason(err: BaseException) -> str:
    text = str(err).split(", Topology Description:")[0].strip().splitlines()
    first = scrub(text[0] if text else type(err).__name__)
    return first if len(first) <= _MAX_REASON else first[:_MAX_REASON] + "..."


class ErrorTranslator:
    """Builds library errors for one client and project."""

    def __init__(self, client: Any, project: str) -> None:
        self._client = client
        self.project = project

    @property
    def hosts(self) -> str:
        return describe_hosts(self._client)

    def unavailable(self, err: BaseException, doing: str, note: str = "") -> BackendUnavailableError:
        return BackendUnavailableError(
            f"MongoDB at {self.hosts} could not be reached while {doing} (project "
            f"{self.project!r}): {_reason(err)}.{note} Check that the server is running and "
            "reachable from here: host and port, firewall, TLS and authentication options of "
            "the connection string."
        )

    def storage(self, err: BaseException, doing: str) -> StorageError:
        hint = ""
        if isinstance(err, OperationFailure) and err.code in _AUTH_CODES:
            hint = (f" Check the credentials and that the user may read and write the database "
                    f"{self.project!r}.")
        return StorageError(f"MongoDB at {self.hosts} failed while {doing} (project "
                            f"{self.project!r}): {_reason(err)}.{hint}")

    def translate(self, err: PyMongoError, doing: str) -> StorageError:
        if isinstance(err, ConnectionFailure):
            return self.unavailable(err, doing)
        return self.storage(err, doing)

    @contextlib.contextmanager
    def translating(self, doing: str) -> Iterator[None]:
        """Re-raise any pymongo error inside the block as a library error."""
        try:
            yield
        except PyMongoError as err:
            raise self.translate(err, doing) from err

    @contextlib.contextmanager
    def querying(self, doing: str) -> Iterator[None]:
        """As :meth:`translating`, for a query built from a user's filter.

        A filter the driver cannot encode, or one the server refuses as malformed (an
        invalid ``$regex``, a bad operator argument), is the caller's mistake: it becomes a
        ValidationError, as the embedded backend reports it, not a StorageError. The shared
        filter checker refuses most such filters before they are sent; this covers what only
        the server can judge (it compiles patterns with PCRE, a dialect Python's re is not).
        """
        try:
            yield
        except (BSONError, UnicodeEncodeError) as err:
            raise ValidationError(f"the filter cannot be sent to MongoDB while {doing}: "
                                  f"{_reason(err)}") from err
        except OperationFailure as err:
            if err.code not in _BAD_QUERY_CODES:
                raise self.translate(err, doing) from err
            raise _malformed_query(err, doing) from err
        except PyMongoError as err:
            raise self.translate(err, doing) from err


def _malformed_query(err: OperationFailure, doing: str) -> ValidationError:
    said = _reason(err).split(", full error:")[0]  # the server's own words, without the raw reply
    if err.code in _REGEX_CODES:
        return ValidationError(f"$regex: MongoDB refused the pattern or its $options while {doing}: "
                               f"{said}; MongoDB uses PCRE syntax")
    return ValidationError(f"MongoDB refused the filter as malformed while {doing}: {said}")
