"""``paused_gc()``: no cyclic garbage collection while a bulk operation runs.

A commit of thousands of records or a replay of a million events allocates millions of small,
acyclic objects (events, documents, rows), most of them alive until the batch is written.
CPython's cyclic collector runs every few hundred allocations and rescans the growing young
generations each time, which costs 15-25% of such an operation and reclaims nothing
(reference counting frees acyclic garbage immediately). The collector is switched off for the
duration and back on afterwards, only if it was on; nested and concurrent pauses are harmless
(a pause that ends early just lets the collector run again, it never leaves it off).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
