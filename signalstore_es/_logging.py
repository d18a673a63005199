"""structlog loggers that write through stdlib ``logging``.

The library only *emits*: with no handler configured by the application, nothing is
printed (stdlib's default). The CLI is the only code that configures output.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import structlog


def get_logger(name: str) -> Any:
    """A structlog logger bound to the stdlib logger ``name``."""
    return structlog.wrap_logger(
        logging.getLogger(name),
        wrapper_class=structlog.stdlib.BoundLogger,
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.render_to_log_kwargs,
        ],
    )


@contextlib.contextmanager
def logged_call(log: Any, operation: str, **context: Any) -> Iterator[dict[str, Any]]:
    """Emit one ``info`` line for a public call: operation, context, outcome and duration.

    The yielded dict may be filled with more context (addresses, counts) during the call.
    """
    started = time.perf_counter()
    extra: dict[str, Any] = {}
    try:
        yield extra
    except Exception as err:
        log.info(operation, **context, **extra, outcome="error", error=type(err).__name__,
                 duration_ms=round((time.perf_counter() - started) * 1000, 3))
        raise
    log.info(operation, **context, **extra, outcome="ok",
             duration_ms=round((time.perf_counter() - started) * 1000, 3))
