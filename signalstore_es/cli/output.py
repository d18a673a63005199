"""Printing results: a rich table on a terminal, JSON lines when piped."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def emit_rows(rows: Iterable[dict[str, Any]], columns: Sequence[str], *, as_json: bool = False) -> None:
    rows = list(rows)
    if as_json or not sys.stdout.isatty():
        for row in rows:
            sys.stdout.write(json.dumps({k: _plain(v) for k, v in row.items()}, default=str) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(_plain(row.get(c, ""))) for c in columns))
    Console().print(table)


def summarize(found: Any) -> str:
    """A short human summary of a record dict or a data object."""
    if isinstance(found, dict):
        return json.dumps({k: _plain(v) for k, v in found.items()}, indent=2, default=str)
    attrs = getattr(found, "attrs", {})
    header = f"{type(found).__name__} {getattr(found, 'name', '')!s} dims={getattr(found, 'dims', ())} " \
             f"shape={getattr(found, 'shape', ())} dtype={getattr(found, 'dtype', '')}"
    return header + "\n" + json.dumps({k: _plain(v) for k, v in attrs.items()}, indent=2, default=str)


def write_object(found: Any, path: Any) -> None:
    """Write a data object to a netCDF file (attrs as JSON text, which netCDF can hold)."""
    if isinstance(found, dict):
        from pathlib import Path

        Path(path).write_text(json.dumps({k: _plain(v) for k, v in found.items()}, default=str))
        return
    copy = found.copy()
    copy.attrs = {k: json.dumps(_plain(v), default=str) for k, v in found.attrs.items()}
    copy.to_netcdf(path, engine="netcdf4")
