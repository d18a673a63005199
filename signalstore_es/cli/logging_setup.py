"""Logging for the command line: readable on a terminal, JSON lines when piped."""

from __future__ import annotations

import logging
import sys

import structlog


def configure(verbose: bool) -> None:
    renderer = (structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()) if sys.stderr.isatty()
                else structlog.processors.JSONRenderer())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=[structlog.stdlib.add_log_level],
    ))
    root = logging.getLogger("signalstore_es")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    root.propagate = False
