"""signalstore_es: SignalStore's unit-of-work API on an immutable, hash-chained event log.

Public names only; nothing happens at import time.
"""

from typing import TYPE_CHECKING, Any

from signalstore_es._version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time names load on first use
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
        ProjectorError,
        PurgedError,
        ReadOnlyError,
        SignalStoreError,
        StorageError,
        UnitOfWorkStateError,
        ValidationError,
        ViewsBehindError,
    )

# Public names resolve on first use (PEP 562): importing a submodule such as
# ``signalstore_es.domain.events`` (as ``projections`` does) must not import the whole API,
# which itself imports ``projections``.
_EXPORTS = {
    "UnitOfWorkProvider": "signalstore_es.api.provider",
    "RebuildReport": "signalstore_es.api.provider",
    "CommitReceipt": "signalstore_es.api.receipts",
    "UnitOfWork": "signalstore_es.api.unit_of_work",
    "RecordKey": "signalstore_es.domain.keys",
}
_ERRORS = ("AlreadyExistsError", "ArgumentTypeError", "BackendUnavailableError", "CommitOutcomeUnknownError",
           "ConcurrencyError", "ConfigurationError", "IntegrityError", "NotFoundError", "ProjectorError",
           "PurgedError", "ReadOnlyError", "SignalStoreError", "StorageError", "UnitOfWorkStateError",
           "ValidationError", "ViewsBehindError")


def __getattr__(name: str) -> Any:
    import importlib

    module = _EXPORTS.get(name) or ("signalstore_es.errors" if name in _ERRORS else None)
    if module is None:
        raise AttributeError(f"module 'signalstore_es' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
    "ProjectorError",
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
    "ViewsBehindError",
    "__version__",
]
