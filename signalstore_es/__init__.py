"""signalstore_es: SignalStore's unit-of-work API on an immutable, hash-chained event log.

Public names only; nothing happens at import time.
"""

from signalstore_es._version import __version__
from signalstore_es.api.provider import RebuildReport, UnitOfWorkProvider
from signalstore_es.api.receipts import CommitReceipt
from signalstore_es.api.unit_of_work import UnitOfWork
from signalstore_es.domain.keys import RecordKey
from signalstore_es.errors import (
    AlreadyExistsError,
    ArgumentTypeError,
    BackendUnavailableError,
    CommitOutcomeUnknownError,
    ConcurrencyError,
    ConfigurationError,
    IntegrityError,
    NotFoundError,
    PurgedError,
    ReadOnlyError,
    SignalStoreError,
    StorageError,
    UnitOfWorkStateError,
    ValidationError,
)

__all__ = [
    "AlreadyExistsError",
    "ArgumentTypeError",
    "BackendUnavailableError",
    "CommitOutcomeUnknownError",
    "CommitReceipt",
    "ConcurrencyError",
    "ConfigurationError",
    "IntegrityError",
    "NotFoundError",
    "PurgedError",
    "ReadOnlyError",
    "RebuildReport",
    "RecordKey",
    "SignalStoreError",
    "StorageError",
    "UnitOfWork",
    "UnitOfWorkProvider",
    "UnitOfWorkStateError",
    "ValidationError",
    "__version__",
]
