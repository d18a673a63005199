"""Printing results: a rich table on a terminal, JSON lines when piped."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, Iterable, Sequence


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
