"""The whole exception hierarchy of signalstore_es.

Every error raised to a user derives from :class:`SignalStoreError`. Errors carry the
identifiers they are about as attributes, and their message says what failed, with which
key, and what to do next. Driver errors (sqlite3, pymongo, fsspec, jsonschema) are translated
at the adapter boundary with ``raise ... from err``.
"""

from __future__ import annotations

from typing import Any


class SignalStoreError(Exception):
    """Base class of every error this library raises on purpose."""


class ValidationError(SignalStoreError, ValueError):
    """An argument, record, model, name or query breaks a rule; nothing was changed."""


class ArgumentTypeError(ValidationError, TypeError):
    """An argument of a public call has the wrong type."""


class NotFoundError(SignalStoreError, LookupError):
    """The record, model or object the call is about does not exist (or is not live)."""

    def __init__(self, message: str, *, key: Any = None) -> None:
        super().__init__(message)
        self.key = key


class AlreadyExistsError(SignalStoreError):
    """The key is already taken by a live record, model or object."""

    def __init__(self, message: str, *, key: Any = None) -> None:
        super().__init__(message)
        self.key = key


class ConcurrencyError(SignalStoreError):
    """Another writer committed a change to the same key first; this commit wrote nothing."""

    def __init__(self, message: str, *, key: Any = None, winning_seq: int | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.winning_seq = winning_seq


class IntegrityError(SignalStoreError):
    """Stored history or a blob does not match its recorded hash."""


class PurgedError(SignalStoreError):
    """The data bytes of this record were purged; only its history remains."""

    def __init__(self, message: str, *, key: Any = None, address: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.address = address


class UnitOfWorkStateError(SignalStoreError):
    """The unit of work is used outside its ``with`` block or after it was closed."""


class ReadOnlyError(SignalStoreError):
    """A write was attempted on a read-only (time-travel) view."""


class StorageError(SignalStoreError, OSError):
    """The event log, a view or the blob filesystem failed; the message says which and why."""


class BackendUnavailableError(StorageError):
    """The database server cannot be reached."""


class CommitOutcomeUnknownError(StorageError):
    """The connection failed after a commit was sent and its outcome could not be resolved."""

    def __init__(self, message: str, *, commit_id: str) -> None:
        super().__init__(message)
        self.commit_id = commit_id


class ConfigurationError(SignalStoreError):
    """The provider or a command was configured with inconsistent options."""


class CommitAlreadyLandedError(AlreadyExistsError):
    """A commit with this ``commit_id`` is already in the log (an earlier attempt whose outcome
    was hidden by a lost connection); nothing was written again."""

    def __init__(self, message: str, *, commit_id: str, seq: int) -> None:
        super().__init__(message, key=commit_id)
        self.commit_id = commit_id
        self.seq = seq


class ViewsBehindError(StorageError):
    """A commit landed (it is durable) but bringing the views up to date then failed; the
    next reader repairs them by catching up."""

    def __init__(self, message: str, *, commit_id: str, seq: int) -> None:
        super().__init__(message)
        self.commit_id = commit_id
        self.seq = seq


class ProjectorError(SignalStoreError):
    """A projector raised while applying an event: names the view, the commit and the event.

    The log is untouched. On the embedded backend the commit being appended fails with it and
    stores nothing; on MongoDB, where the commit is appended first, it is the cause of a
    :class:`ViewsBehindError`."""

    def __init__(self, message: str, *, view: str, seq: int, index: int) -> None:
        super().__init__(message)
        self.view = view
        self.seq = seq
        self.index = index
